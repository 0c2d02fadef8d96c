package stack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portway/portway/internal/pki"
)

// TestPreflight: every check `portway up` makes before it starts reports
// its problem by YAML path, all of them at once.
func TestPreflight(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "app")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		exe  string
		want []string
	}{
		{"ok", func(*Config) {}, exe, nil},
		{"executable not on PATH", func(c *Config) { c.Services[0].Containers[0].Executable = "portway-no-such-program" },
			exe, []string{`services[0].containers[0].executable: exec: "portway-no-such-program": executable file not found in $PATH`}},
		{"executable not executable", func(c *Config) { c.Services[0].Containers[0].Executable = notExec },
			exe, []string{"services[0].containers[0].executable: exec: \"" + notExec + "\": permission denied"}},
		{"portway binary missing", func(*Config) {}, filepath.Join(dir, "gone"), []string{"executable: stat " + filepath.Join(dir, "gone")}},
		{"control listen", func(c *Config) { c.Control.Listen = "10.0.0.6:8082" },
			exe, []string{"control.listen 10.0.0.6:8082 is not a loopback address"}},
		{"tls file", func(c *Config) {
			c.Gateway.TLS = pki.ListenerTLS{CertFile: filepath.Join(dir, "no.pem"), KeyFile: filepath.Join(dir, "no.key")}
		}, exe, []string{"gateway.tls"}},
		{"several at once", func(c *Config) {
			c.Tasks.Subnet = "127.76.0.0/16"
			c.Services[0].Containers[0].Executable = "portway-no-such-program"
			c.Control.Listen = "10.0.0.6:8082"
		}, exe, []string{"tasks.subnet: 127.76.0.0/16 holds nlb.address 127.76.0.10", "services[0].containers[0].executable", "control.listen 10.0.0.6:8082"}},
		{"auth", func(c *Config) { c.Auth.DefaultClient.Scopes = []string{"nope/x"} },
			exe, []string{`auth.defaultClient.scopes[0]: "nope/x" is not a scope of any resource server`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			tc.edit(&cfg)
			err := cfg.Preflight(tc.exe)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Preflight = %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Preflight passed, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Preflight = %v\nwant %q", err, w)
				}
			}
		})
	}
}
