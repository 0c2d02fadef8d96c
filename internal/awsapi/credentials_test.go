package awsapi

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadOrCreateCredentials(t *testing.T) {
	dir := t.TempDir()
	c, err := LoadOrCreateCredentials(dir, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	if !accessKeyRe().MatchString(c.AccessKeyID) || len(c.SecretAccessKey) != 40 {
		t.Fatalf("credentials %q / %d chars", c.AccessKeyID, len(c.SecretAccessKey))
	}
	path := filepath.Join(dir, CredentialsFile)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v %v", path, fi, err)
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), "[portway]\naws_access_key_id = "+c.AccessKeyID+"\naws_secret_access_key = "+c.SecretAccessKey+"\n") {
		t.Errorf("credentials file:\n%s", data)
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, ConfigFile))
	if !strings.Contains(string(cfg), "[profile portway]\nregion = eu-west-1\n") {
		t.Errorf("config file:\n%s", cfg)
	}

	// A restart keeps the pair, and writes the region of the day.
	again, err := LoadOrCreateCredentials(dir, "us-east-2")
	if err != nil || again != c {
		t.Fatalf("second load: %v %v", again, err)
	}
	if cfg, _ := os.ReadFile(filepath.Join(dir, ConfigFile)); !strings.Contains(string(cfg), "region = us-east-2\n") {
		t.Errorf("config file after a region change:\n%s", cfg)
	}

	// Other profiles and comments are ignored; the portway profile is read.
	other := "[default]\naws_access_key_id = AKIAOTHEROTHEROTHER2\n\n# c\n" + string(data)
	if err := os.WriteFile(path, []byte(other), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := LoadOrCreateCredentials(dir, "eu-west-1"); err != nil || got != c {
		t.Errorf("with another profile first: %v %v", got, err)
	}

	// A file others may read is refused, and so is a broken one.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateCredentials(dir, "eu-west-1"); err == nil || !strings.Contains(err.Error(), "mode 0644") {
		t.Errorf("mode 0644: %v", err)
	}
	if err := os.WriteFile(path, []byte("[portway]\naws_access_key_id = nope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateCredentials(dir, "eu-west-1"); err == nil || !strings.Contains(err.Error(), "delete the file") {
		t.Errorf("broken file: %v", err)
	}
}

func TestNewCredentialsDiffer(t *testing.T) {
	a, _ := newCredentials()
	b, _ := newCredentials()
	if a == b || !secretKeyRe().MatchString(a.SecretAccessKey) {
		t.Errorf("%v %v", a, b)
	}
}
