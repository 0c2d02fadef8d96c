// Package e2e starts the real portway binary and talks to it as a client would.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portway/portway/internal/controlauth"
	"github.com/portway/portway/internal/stack"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "portway-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "portway")
	build := exec.Command("go", "build", "-o", binary, "../cmd/portway")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build portway:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer is a bytes.Buffer safe for a process to write while a test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testStack returns the built-in stack moved to addresses of its own (so a
// developer's running `portway up` does not collide with the tests) and
// free ports for the public listeners.
func testStack(n int) stack.Config {
	cfg := stack.Default()
	cfg.Gateway.Listen = "127.0.0.1:0"
	cfg.Auth.Listen = "127.0.0.1:0"
	cfg.Control.Listen = "127.0.0.1:0"
	nlbAddr := fmt.Sprintf("127.77.%d.10", 100+2*n)
	cfg.NLB.Address = nlbAddr
	cfg.Gateway.StageVariables["nlb_host"] = nlbAddr
	cfg.Tasks.Subnet = fmt.Sprintf("127.77.%d.0/24", 101+2*n)
	return cfg
}

func writeConfig(t *testing.T, cfg stack.Config) string {
	t.Helper()
	data, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "stack.yaml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// upProcess is a running `portway up`.
type upProcess struct {
	cmd      *exec.Cmd
	stateDir string
	stdout   *syncBuffer
	stderr   *syncBuffer
	done     chan struct{}
	err      error
}

// startUp runs `portway up` and waits until it has written endpoints.json.
func startUp(t *testing.T, stateDir string, args ...string) *upProcess {
	t.Helper()
	p := launchUp(t, stateDir, args...)
	p.waitReady(t)
	return p
}

// launchUp runs `portway up` (stopped when the test ends) without waiting.
func launchUp(t *testing.T, stateDir string, args ...string) *upProcess {
	t.Helper()
	p := &upProcess{stateDir: stateDir, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(binary, append([]string{"up", "--state-dir", stateDir}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(60 * time.Second):
				_ = p.cmd.Process.Kill()
				<-p.done
			}
		}
		if t.Failed() {
			t.Logf("portway up stdout:\n%s\nstderr:\n%s", p.stdout, p.stderr)
		}
	})
	return p
}

// waitReady waits until `portway up` has written endpoints.json.
func (p *upProcess) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(p.stateDir, stack.EndpointsFile)); err == nil {
			return
		}
		select {
		case <-p.done:
			t.Fatalf("portway up exited before ready: %v\nstderr:\n%s", p.err, p.stderr)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("portway up not ready after 90s\nstderr:\n%s", p.stderr)
		}
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *upProcess) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(90 * time.Second):
		t.Fatalf("portway up did not stop within 90s\nstderr:\n%s", p.stderr)
	}
	if p.err != nil {
		t.Fatalf("portway up exited with %v\nstderr:\n%s", p.err, p.stderr)
	}
}

// runPortway runs a portway subcommand to completion.
func runPortway(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// controlToken is the control API token of the stack in stateDir.
func controlToken(t *testing.T, stateDir string) string {
	t.Helper()
	tok, err := controlauth.ReadToken(filepath.Join(stateDir, controlauth.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func readJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// processGone reports whether pid no longer exists (or is a zombie of
// someone else's, which cannot be ours: we reap our children).
func processGone(pid int) bool {
	err := syscall.Kill(pid, 0)
	if errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	fields := strings.Fields(string(stat))
	return len(fields) > 2 && fields[2] == "Z"
}

func getJSON(t *testing.T, client *http.Client, url string, v any) *http.Response {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %d %q: %v", url, resp.StatusCode, body, err)
		}
	}
	return resp
}

// getSettled GETs url, retrying 5xx answers (services still starting) for
// up to a minute, and returns the status, body and header of the answer.
func getSettled(t *testing.T, client *http.Client, url string) (int, string, http.Header) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := client.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 500 || time.Now().After(deadline) {
			return resp.StatusCode, string(body), resp.Header
		}
		time.Sleep(100 * time.Millisecond) // polling a condition, bounded by the deadline
	}
}
