package stack

import (
	"context"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portway/portway/internal/testutil"
)

// TestFailedStartLeavesStateDir: a start that fails, early (its load
// balancer address is taken) or late (its gateway port is, after auth,
// the keys, the default client and the control token were made), leaves
// the state dir as it found it: missing (and its parent), empty, or
// holding an earlier run's files (a stale endpoints.json included).
func TestFailedStartLeavesStateDir(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	block := testBlocks(t, 6)[5] // 127.76.30.0/23
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	nlbTaken, err := net.Listen("tcp", block.NLBAddress.String()+":65534")
	if err != nil {
		t.Fatal(err)
	}
	defer nlbTaken.Close()

	causes := []struct {
		name string
		cfg  func() Config
		want string
	}{
		{"gateway port taken", func() Config {
			other := testBlocks(t, 7)[6]
			c := testConfig().WithBlock(other)
			c.Gateway.Listen = taken.Addr().String()
			return c
		}, "bind: address already in use (gateway.listen is taken: for a second stack on this machine pass another address, or port 0 for a free one: --listen 127.0.0.1:0)"},
		{"nlb address taken", func() Config { return testConfig().WithBlock(block) }, "nlb.address " + block.NLBAddress.String()},
	}
	dirs := []struct {
		name string
		make func(t *testing.T) string
	}{
		{"missing", func(t *testing.T) string { return filepath.Join(t.TempDir(), "parent", "state") }},
		{"empty", func(t *testing.T) string { return t.TempDir() }},
		{"earlier run", func(t *testing.T) string {
			dir := t.TempDir()
			for name, content := range map[string]string{
				"notes.txt":              "mine",
				EndpointsFile:            `{"api_url": "http://127.0.0.1:1/v1"}`,
				"auth/README":            "kept",
				"tasks/0123/app.log":     "old log",
				"buckets/uploads/b.tgz":  "bag",
				ClientsDir + "/old.json": "{}",
			} {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			return dir
		}},
	}
	for _, cause := range causes {
		for _, d := range dirs {
			t.Run(cause.name+"/"+d.name, func(t *testing.T) {
				dir := d.make(t)
				before := testutil.Tree(t, dir)
				parentBefore := testutil.Tree(t, filepath.Dir(dir))
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				st, err := Start(ctx, cause.cfg(), Options{StateDir: dir, Executable: exe, ReadyTimeout: 10 * time.Second, BlockLockDir: t.TempDir()})
				if err == nil {
					stopStack(t, st)
					t.Fatal("Start succeeded")
				}
				if !strings.Contains(err.Error(), cause.want) {
					t.Errorf("Start = %v, want %q", err, cause.want)
				}
				after := testutil.Tree(t, dir)
				if !maps.Equal(before, after) {
					t.Errorf("state dir changed:\nbefore %v\nafter  %v", before, after)
				}
				if d.name == "missing" && !maps.Equal(parentBefore, testutil.Tree(t, filepath.Dir(dir))) {
					t.Errorf("the state dir's parent was left behind")
				}
			})
		}
	}
}

// TestFailedStartKeepsTaskLogs: a start whose tasks never become healthy
// removes what it made, but the task logs its error points to.
func TestFailedStartKeepsTaskLogs(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig().WithBlock(testBlocks(t, 14)[13])
	cfg.Services[0].Containers[0].Command = []string{"-no-such-flag"} // exits at once
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := Start(ctx, cfg, Options{StateDir: dir, Executable: exe, ReadyTimeout: 2 * time.Second, BlockLockDir: t.TempDir()})
	if err == nil {
		stopStack(t, st)
		t.Fatal("Start succeeded")
	}
	if !strings.Contains(err.Error(), "not ready after 2s") {
		t.Fatalf("Start = %v", err)
	}
	left := testutil.Tree(t, dir)
	logs := 0
	for p := range left {
		switch {
		case p == "" || p == "/tasks":
		case strings.HasPrefix(p, "/tasks/"):
			if strings.HasSuffix(p, ".log") {
				logs++
			}
		default:
			t.Errorf("left behind: %s", p)
		}
	}
	if logs == 0 {
		t.Errorf("no task log kept: %v", left)
	}
}
