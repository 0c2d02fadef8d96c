package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is written by followLogs while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestFollowLogs: `portway logs -f` prints what is there, then what is
// appended, then starts over on a file that was rotated (replaced).
func TestFollowLogs(t *testing.T) {
	dir := t.TempDir()
	app := filepath.Join(dir, "app.log")
	if err := os.WriteFile(app, []byte("first\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &lockedBuffer{}
	done := make(chan error, 1)
	go func() { done <- followLogs(ctx, out, []string{app}, 10*time.Millisecond) }()

	waitOutput := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(out.String(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("output %q never contained %q", out.String(), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitOutput("first\n")

	f, err := os.OpenFile(app, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("second\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	waitOutput("first\nsecond\n")

	// Rotation: a new, shorter file under the same name.
	tmp := app + ".new"
	if err := os.WriteFile(tmp, []byte("fresh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, app); err != nil {
		t.Fatal(err)
	}
	waitOutput("second\nfresh\n")

	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("followLogs did not return after its context ended")
	}
	if strings.Count(out.String(), "first") != 1 {
		t.Errorf("a line was printed twice: %q", out.String())
	}
}
