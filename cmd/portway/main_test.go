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
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"up", "--bogus"}, "--bogus"},
		{[]string{"up", "--log-level", "loud"}, "--log-level"},
		{[]string{"token", "--state-dir", dir}, "oauth-credentials.json"},
		{[]string{"targets", "--state-dir", dir}, "endpoints.json"},
		{[]string{"logs", "nope", "--state-dir", dir}, `no task "nope"`},
		{[]string{"app", "--kind", "widgets", "--listen", "127.0.0.1:0"}, "kind"},
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
