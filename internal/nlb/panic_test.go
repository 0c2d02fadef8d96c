package nlb

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portway/portway/internal/testutil"
)

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

// panicOnce returns a flow hook that panics the first time it reaches stage.
func panicOnce(stage, msg string) func(string) {
	var done atomic.Bool
	return func(s string) {
		if s == stage && done.CompareAndSwap(false, true) {
			panic(msg)
		}
	}
}

// newPanickyLB starts a load balancer whose flows panic once at stage, with
// its log in logs, and one healthy target.
func newPanickyLB(t *testing.T, stage string, logs *lockedBuffer, idle time.Duration) (*LoadBalancer, *testTarget) {
	t.Helper()
	tts, hcPort := startTargets(t, targetSpec{ip: "127.0.0.2"})
	cfg := testConfig(t, hcPort)
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	if idle > 0 {
		cfg.IdleTimeout = idle
	}
	lb, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	lb.onFlow = panicOnce(stage, "boom at "+stage)
	if err := lb.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		lb.Stop(ctx)
	})
	register(t, lb, tts...)
	waitState(t, lb, StateHealthy, tts...)
	return lb, tts[0]
}

// checkPanicLogged: the panic is logged once, as an error with its stack.
func checkPanicLogged(t *testing.T, logs *lockedBuffer, msg, frame string) {
	t.Helper()
	testutil.WaitFor(t, 10*time.Second, "the panic logged", func() bool { return strings.Contains(logs.String(), msg) })
	out := logs.String()
	if n := strings.Count(out, msg); n != 1 {
		t.Fatalf("%q logged %d times, want once:\n%s", msg, n, out)
	}
	for line := range strings.SplitSeq(out, "\n") {
		if strings.Contains(line, msg) && (!strings.Contains(line, `"level":"ERROR"`) || !strings.Contains(line, frame)) {
			t.Fatalf("panic line without level or stack frame %s: %s", frame, line)
		}
	}
}

// stopCleanly: no flow was leaked (Stop would wait for it).
func stopCleanly(t *testing.T, lb *LoadBalancer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := lb.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v (a flow was leaked)", err)
	}
}

// TestFlowPanicRecovered: a panic on a listener flow's goroutines closes
// that flow, releases its target's bookkeeping and is logged once; the
// listener serves the next flows.
func TestFlowPanicRecovered(t *testing.T) {
	for _, stage := range []string{"pipe", "copy"} {
		t.Run(stage, func(t *testing.T) {
			var logs lockedBuffer
			lb, tt := newPanickyLB(t, stage, &logs, 0)
			// The flow is reset: so fast that the dial itself may see it.
			if name, err := whoami(t, lb); err == nil {
				t.Fatalf("the panicked flow answered %q", name)
			}
			for range 5 {
				if name, err := whoami(t, lb); err != nil || name != tt.ip {
					t.Fatalf("after the panic: %q, %v", name, err)
				}
			}
			checkPanicLogged(t, &logs, "boom at "+stage, "panicOnce")
			testutil.WaitFor(t, 10*time.Second, "no active connection left", func() bool {
				return healthOf(t, lb, tt).ActiveConnections == 0
			})
			stopCleanly(t, lb)
		})
	}
}

// TestLinkPanicRecovered: a panic in an in-process flow's idle watchdog
// closes that flow and releases it; other flows go on.
func TestLinkPanicRecovered(t *testing.T) {
	var logs lockedBuffer
	lb, tt := newPanickyLB(t, "link-idle", &logs, 200*time.Millisecond)
	c := dialLink(t, lb)
	if _, err := ask(c, bufio.NewReader(c)); err != nil {
		t.Fatal(err)
	}
	if err := waitClosed(c, 10*time.Second); err != nil {
		t.Fatalf("the panicked flow stayed open: %v", err)
	}
	checkPanicLogged(t, &logs, "boom at link-idle", "panicOnce")
	testutil.WaitFor(t, 10*time.Second, "no active connection left", func() bool {
		return healthOf(t, lb, tt).ActiveConnections == 0
	})
	c2 := dialLink(t, lb)
	if name, err := ask(c2, bufio.NewReader(c2)); err != nil || name != tt.ip {
		t.Fatalf("after the panic: %q, %v", name, err)
	}
	c2.Close()
	stopCleanly(t, lb)
}

// TestHealthCheckPanicRecovered: a health check that panics counts as a
// failed check; the checker goes on and the target becomes healthy.
func TestHealthCheckPanicRecovered(t *testing.T) {
	tts, hcPort := startTargets(t, targetSpec{ip: "127.0.0.2"})
	var logs lockedBuffer
	cfg := testConfig(t, hcPort)
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	lb, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	g := lb.groups["tg"]
	real := g.probe
	var calls atomic.Int32
	g.probe = func(ctx context.Context, addr netip.AddrPort) checkResult {
		if calls.Add(1) == 1 {
			panic("boom in a health check")
		}
		return real(ctx, addr)
	}
	if err := lb.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	register(t, lb, tts...)
	waitState(t, lb, StateHealthy, tts...)
	checkPanicLogged(t, &logs, "boom in a health check", "nlb.TestHealthCheckPanicRecovered")
	stopCleanly(t, lb)
}
