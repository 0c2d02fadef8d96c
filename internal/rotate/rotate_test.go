package rotate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return "<none>"
	}
	return string(b)
}

func TestRotateKeepsN(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	f, err := Open(path, 10, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"aaaa\n", "bbbb\n", "cccc\n", "dddd\n", "eeee\n", "ffff\n", "gggggggggggggg\n", "h\n"} {
		if _, err := f.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	// 10 bytes a file, whole lines only, a line bigger than the cap alone.
	for name, want := range map[string]string{path: "h\n", path + ".1": "gggggggggggggg\n", path + ".2": "eeee\nffff\n", path + ".3": "<none>"} {
		if got := read(t, name); got != want {
			t.Errorf("%s = %q, want %q", filepath.Base(name), got, want)
		}
	}
	if _, err := f.Write([]byte("x")); err == nil {
		t.Error("write after close")
	}
}

func TestReopenAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.log")
	f, _ := Open(path, 100, 1)
	f.Write([]byte("one\n"))
	f.Close()
	f, _ = Open(path, 100, 1)
	f.Write([]byte("two\n"))
	f.Close()
	if got := read(t, path); got != "one\ntwo\n" {
		t.Errorf("%q", got)
	}
	if _, err := Open(path, 0, 1); err == nil {
		t.Error("max 0 accepted")
	}
}

func TestBufferedFlushesWholeLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.log")
	f, _ := Open(path, 64<<10, 3)
	b := NewBuffered(f, 0)
	line := strings.Repeat("x", 999) + "\n"
	for range 200 { // 200 KB through a 64 KiB buffer and 64 KiB files
		if _, err := b.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	big := strings.Repeat("y", 70<<10) + "\n" // bigger than the buffer
	b.Write([]byte(big))
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{path, path + ".1", path + ".2", path + ".3"} {
		got := read(t, name)
		if got == "<none>" {
			continue
		}
		for l := range strings.SplitSeq(strings.TrimSuffix(got, "\n"), "\n") {
			if l != line[:999] && l != big[:70<<10] {
				t.Fatalf("%s has a split line of %d bytes", filepath.Base(name), len(l))
			}
		}
	}
	if got := read(t, path); got != big {
		t.Errorf("the big line should be last, alone: %d bytes", len(got))
	}
}
