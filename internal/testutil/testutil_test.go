package testutil

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestWaitForHolds(t *testing.T) {
	var n atomic.Int32
	WaitFor(t, 10*time.Second, "the third poll", func() bool { return n.Add(1) >= 3 })
	if got := n.Load(); got != 3 {
		t.Fatalf("cond ran %d times, want 3", got)
	}
}

// fatalRecorder records Fatalf instead of ending the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}
func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = format
}

func TestWaitForTimesOut(t *testing.T) {
	r := &fatalRecorder{TB: t}
	start := time.Now()
	calls := 0
	func() {
		// Fatalf would end the goroutine; the recorder returns, so stop the
		// loop by holding the condition once the failure is recorded.
		WaitFor(r, 20*time.Millisecond, "never", func() bool { calls++; return r.msg != "" })
	}()
	if r.msg == "" {
		t.Fatal("no failure reported")
	}
	if time.Since(start) < 20*time.Millisecond {
		t.Fatalf("gave up after %v, before the timeout", time.Since(start))
	}
	if calls < 2 {
		t.Fatalf("cond ran %d times", calls)
	}
}
