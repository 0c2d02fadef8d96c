// Package atomicfile writes files so that a reader sees the old content or
// the new, never a part: through a temporary file in the same directory,
// synced, then renamed (or linked) into place. State files (keys, clients,
// credentials, tokens, the local CA) are written with it.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Options of a write.
type Options struct {
	// ModTime, when not zero, is set on the file before it is put in place.
	ModTime time.Time
}

// Write replaces path with data, mode perm.
func Write(path string, data []byte, perm os.FileMode) error {
	return WriteWith(path, data, perm, Options{})
}

// WriteWith is Write with options.
func WriteWith(path string, data []byte, perm os.FileMode, o Options) error {
	tmp, err := temp(path, data, perm, o)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	syncDir(filepath.Dir(path))
	return nil
}

// Create writes data to path, mode perm, only if path does not exist yet;
// created is false when it did (a concurrent creator's file wins whole).
func Create(path string, data []byte, perm os.FileMode) (created bool, err error) {
	tmp, err := temp(path, data, perm, Options{})
	if err != nil {
		return false, fmt.Errorf("create %s: %w", path, err)
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, fmt.Errorf("create %s: %w", path, err)
	}
	syncDir(filepath.Dir(path))
	return true, nil
}

// temp writes data to a new synced file next to path and returns its name.
func temp(path string, data []byte, perm os.FileMode, o Options) (name string, err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return "", err
	}
	if _, err = f.Write(data); err != nil {
		return "", err
	}
	if err = f.Sync(); err != nil {
		return "", err
	}
	if err = f.Close(); err != nil {
		return "", err
	}
	if !o.ModTime.IsZero() {
		if err = os.Chtimes(f.Name(), o.ModTime, o.ModTime); err != nil {
			return "", err
		}
	}
	return f.Name(), nil
}

// syncDir makes a rename durable; errors are ignored because some platforms
// and file systems cannot fsync directories.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
