package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portway/portway/internal/stack"
)

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	return out.String() + errOut.String(), err
}

func TestConfigDefaultParsesBack(t *testing.T) {
	out, err := runCLI(t, "config", "default")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "stack.yaml")
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := stack.Load(path); err != nil {
		t.Fatalf("portway config default does not load back: %v", err)
	}
	if out, err := runCLI(t, "config", "check", path); err != nil || !strings.Contains(out, "ok") {
		t.Fatalf("config check: %v %s", err, out)
	}
}

func TestCLIErrorsNameTheProblem(t *testing.T) {
	dir := t.TempDir()
	// A state dir with endpoints.json but without the control token.
	noToken := t.TempDir()
	if err := os.WriteFile(filepath.Join(noToken, stack.EndpointsFile), []byte(`{"control_url": "http://127.0.0.1:1"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"up", "--bogus"}, "--bogus"},
		{[]string{"up", "--log-level", "loud"}, "--log-level"},
		{[]string{"token", "--state-dir", dir}, "oauth-credentials.json"},
		{[]string{"targets", "--state-dir", dir}, "endpoints.json"},
		{[]string{"targets", "--state-dir", noToken}, filepath.Join(noToken, "control-token")},
		{[]string{"services", "scale", "bags", "1", "--state-dir", noToken}, "control-token"},
		{[]string{"control-url", "--state-dir", noToken}, "control-token"},
		{[]string{"nlb", "--control-listen", "10.0.0.6:8082", "--state-dir", dir}, "--control-listen 10.0.0.6:8082 is not a loopback address"},
		{[]string{"logs", "nope", "--state-dir", dir}, `no task "nope"`},
		{[]string{"sidecar", "--listen", "127.0.0.1:0", "--server-header", "nginx\r\nX-Evil: 1"}, "serverHeader"},
		{[]string{"app", "--kind", "widgets", "--listen", "127.0.0.1:0"}, "kind"},
		{[]string{"app", "--kind", "ingests", "--listen", "127.0.0.1:0", "--callback-allow", "127.0.0.0/8, 10.0.0.0/99"},
			`--callback-allow: allow[1]: "10.0.0.0/99" is not a CIDR`},
		{[]string{"app", "--kind", "ingests", "--listen", "127.0.0.1:0", "--callback-deny", "127.77.0.10,127.0.0.1:0"},
			`--callback-deny: deny[1]: "127.0.0.1:0": the port must be from 1 to 65535`},
		{[]string{"gateway"}, "--issuer"},
		{[]string{"config", "check", filepath.Join(dir, "missing.yaml")}, "missing.yaml"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, err := runCLI(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to name %q", err, tc.want)
			}
		})
	}
}

// Without the flags, `portway app` reads its callback policy from the
// environment portway up sets, and names the variable of a bad entry.
func TestAppCallbackPolicyFromEnvironment(t *testing.T) {
	t.Setenv("PORTWAY_CALLBACK_ALLOW", "127.0.0.0/8,::1/128")
	t.Setenv("PORTWAY_CALLBACK_DENY", "127.77.0.10, 127.0.0.1:8082,nonsense")
	_, err := runCLI(t, "app", "--kind", "ingests", "--listen", "127.0.0.1:0")
	if want := `$PORTWAY_CALLBACK_DENY: deny[2]: "nonsense" is not an IP`; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want it to say %q", err, want)
	}
	// The flag wins over the variable.
	_, err = runCLI(t, "app", "--kind", "widgets", "--listen", "127.0.0.1:0", "--callback-deny", "127.77.0.10")
	if err == nil || strings.Contains(err.Error(), "PORTWAY_CALLBACK_DENY") || !strings.Contains(err.Error(), "kind") {
		t.Fatalf("err = %v, want only the bad kind", err)
	}
}

// TestFlushLogs: flushLogs writes out what newLogger's batch holds (as main
// does before exiting on a second signal, or when a panic reaches it), and
// a logger whose flush ran is no longer held.
func TestFlushLogs(t *testing.T) {
	held := func() (n int) {
		openLogs.Range(func(any, any) bool { n++; return true })
		return n
	}
	before := held()
	var buf bytes.Buffer
	log, flush, err := newLogger(&buf, "info")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("batched line")
	if buf.Len() != 0 {
		t.Fatalf("an info line was written at once: %q", buf.String())
	}
	flushLogs()
	if !strings.Contains(buf.String(), "batched line") {
		t.Fatalf("flushLogs left the line in the batch: %q", buf.String())
	}
	flush()
	if n := held(); n != before {
		t.Fatalf("%d loggers held after flush, %d before newLogger", n, before)
	}
}

func TestConfigCheckWarnsOfNoScopeMethods(t *testing.T) {
	data, err := stack.Default().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// The third resource's method loses its scopes.
	text := string(data)
	i := strings.Index(text, "- path: /ingests\n")
	j := i + strings.Index(text[i:], "scopes:")
	k := j + strings.Index(text[j:], "integration:")
	text = text[:j] + text[k:] // scopes and integration are siblings
	path := filepath.Join(t.TempDir(), "stack.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, "config", "check", path)
	if err != nil {
		t.Fatalf("config check fails on a warning: %v %s", err, out)
	}
	want := "warning: gateway.resources[2].methods[0]: COGNITO_USER_POOLS without scopes accepts only ID tokens; client-credentials access tokens get 401"
	if !strings.Contains(out, want) || !strings.Contains(out, "ok") {
		t.Fatalf("config check output %q, want a line %q and ok", out, want)
	}
}
