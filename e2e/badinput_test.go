package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUpRejectsBadConfig: an unknown or invalid field stops `portway up` at
// once with a message naming the field, and nothing is left running.
func TestUpRejectsBadConfig(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"unknown field", "gateway:\n  listn: 127.0.0.1:0\n", `gateway.listn: unknown field; did you mean listen?`},
		{"invalid field", "", "nlb.targetGroups[0].healthCheck.healthyThreshold"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "stack.yaml")
			data := tc.yaml
			if data == "" {
				cfg := testStack(1)
				cfg.NLB.TargetGroups[0].HealthCheck.HealthyThreshold = 99
				raw, err := cfg.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				data = string(raw)
			}
			if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
			_, errOut, err := runPortway(t, "up", "--config", path, "--state-dir", t.TempDir())
			if err == nil {
				t.Fatal("portway up accepted a bad config")
			}
			if !strings.Contains(errOut, tc.want) {
				t.Errorf("error %q does not name %q", errOut, tc.want)
			}
		})
	}
}

// TestUpNamesBusyPort: a port in use is named in the error, and what had
// started is stopped.
func TestUpNamesBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := ln.Addr().String()
	cfgPath := writeConfig(t, testStack(1))
	_, errOut, err := runPortway(t, "up", "--config", cfgPath, "--state-dir", t.TempDir(), "--listen", busy)
	if err == nil {
		t.Fatal("portway up started on a busy port")
	}
	if !strings.Contains(errOut, busy) {
		t.Errorf("error %q does not name the busy address %s", errOut, busy)
	}
}
