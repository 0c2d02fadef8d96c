package controlauth

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestTokenFile: the token is created once, mode 0600, 32 random bytes, and
// the same token comes back on the next start.
func TestTokenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), TokenFile)
	tok, err := LoadOrCreateToken(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o, want 0600", st.Mode().Perm())
	}
	if b, err := base64.RawURLEncoding.DecodeString(tok); err != nil || len(b) != 32 {
		t.Errorf("token %q is not 32 bytes base64url: %v", tok, err)
	}
	again, err := LoadOrCreateToken(path)
	if err != nil || again != tok {
		t.Errorf("restart: %q %v, want the same token", again, err)
	}
	if read, err := ReadToken(path); err != nil || read != tok {
		t.Errorf("ReadToken: %q %v", read, err)
	}
	other, err := LoadOrCreateToken(filepath.Join(t.TempDir(), TokenFile))
	if err != nil || other == tok {
		t.Errorf("a second state dir got %q %v", other, err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

// TestTokenFileConcurrent: two starts at once agree on one token.
func TestTokenFileConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), TokenFile)
	var wg sync.WaitGroup
	toks := make([]string, 8)
	for i := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := LoadOrCreateToken(path)
			if err != nil {
				t.Error(err)
			}
			toks[i] = tok
		}()
	}
	wg.Wait()
	for _, tok := range toks[1:] {
		if tok != toks[0] {
			t.Fatalf("tokens differ: %q", toks)
		}
	}
}

func TestTokenFileRefused(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := strings.Repeat("k", 43) + "\n"
	broad := write("broad", good, 0o644)
	if _, err := LoadOrCreateToken(broad); err == nil || !strings.Contains(err.Error(), "mode 0644") || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("mode 0644: %v", err)
	}
	if tok, err := ReadToken(broad); err != nil || tok != strings.TrimSpace(good) {
		t.Errorf("a client reads what is there: %q %v", tok, err)
	}
	if _, err := LoadOrCreateToken(write("short", "abc\n", 0o600)); err == nil || !strings.Contains(err.Error(), "at least 32") {
		t.Errorf("short token: %v", err)
	}
	if _, err := LoadOrCreateToken(write("spaces", strings.Repeat("k", 20)+" "+strings.Repeat("k", 20), 0o600)); err == nil {
		t.Error("token with a space accepted")
	}
	if tok, err := LoadOrCreateToken(write("mine", " "+good, 0o600)); err != nil || tok != strings.TrimSpace(good) {
		t.Errorf("an operator's own token: %q %v", tok, err)
	}
	if _, err := ReadToken(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing: %v", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "adir"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateToken(filepath.Join(dir, "adir")); err == nil {
		t.Error("a directory accepted as the token file")
	}
}
