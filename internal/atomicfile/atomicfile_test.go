package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWriteReplacesWithModeAndTime(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.json")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	mtime := time.Unix(1_700_000_000, 0)
	if err := WriteWith(p, []byte("new"), 0o600, Options{ModTime: mtime}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	fi, _ := os.Stat(p)
	if string(data) != "new" || fi.Mode().Perm() != 0o600 || !fi.ModTime().Equal(mtime) {
		t.Fatalf("content %q mode %v mtime %v", data, fi.Mode(), fi.ModTime())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
	if err := Write(filepath.Join(dir, "missing", "f"), nil, 0o600); err == nil {
		t.Fatal("a write into a missing directory succeeded")
	}
}

func TestCreateOnlyOnce(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "token")
	if created, err := Create(p, []byte("first"), 0o600); err != nil || !created {
		t.Fatalf("first create: %v %v", created, err)
	}
	if created, err := Create(p, []byte("second"), 0o600); err != nil || created {
		t.Fatalf("second create: %v %v", created, err)
	}
	if data, _ := os.ReadFile(p); string(data) != "first" {
		t.Fatalf("content %q, want the first", data)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
}
