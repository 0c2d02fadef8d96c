package testutil

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Tree is every path under dir (relative, "" for dir itself) with its mode
// and, for files, content: what a test compares to see that something left
// a directory as it found it. A dir that does not exist gives nil.
func Tree(t testing.TB, dir string) map[string]string {
	t.Helper()
	if _, err := os.Lstat(dir); err != nil {
		return nil
	}
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		v := info.Mode().String()
		if info.Mode().IsRegular() {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			v += " " + string(data)
		}
		out[strings.TrimPrefix(path, dir)] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
