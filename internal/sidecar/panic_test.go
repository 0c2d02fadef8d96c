package sidecar

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portway/portway/internal/testutil"
)

// panickyHandler logs JSON lines to buf and panics, once, on the record
// whose message is panicOn: a stand-in for any bug on the request path.
type panickyHandler struct {
	slog.Handler
	panicOn string
	armed   *atomic.Bool
}

func (h panickyHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == h.panicOn && h.armed.CompareAndSwap(true, false) {
		panic("boom in a log handler")
	}
	return h.Handler.Handle(ctx, r)
}

func (h panickyHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return panickyHandler{h.Handler.WithAttrs(as), h.panicOn, h.armed}
}

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

// TestPanicAnswers500: a panic while serving a request is nginx's 500 page
// (CORS headers included), one error line with the stack, an access line
// with status 500; the sidecar goes on serving.
func TestPanicAnswers500(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	var logs lockedBuffer
	armed := &atomic.Bool{}
	armed.Store(true)
	log := slog.New(panickyHandler{slog.NewJSONHandler(&logs, nil), "upstream error", armed})
	s := startSidecar(t, Config{Upstream: dead, Logger: log})

	req, _ := http.NewRequest(http.MethodGet, "http://"+s.Addr()+"/ingests", nil)
	resp, body := do(t, req)
	if resp.StatusCode != 500 || !bytes.Contains(body, []byte("<h1>500 Internal Server Error</h1>")) {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
	assertCORS(t, resp.Header)
	// The next request is served (the dead upstream's 502).
	req, _ = http.NewRequest(http.MethodGet, "http://"+s.Addr()+"/ingests", nil)
	if resp, _ := do(t, req); resp.StatusCode != 502 {
		t.Fatalf("after the panic: status %d, want 502", resp.StatusCode)
	}

	testutil.WaitFor(t, 10*time.Second, "the access lines", func() bool {
		return strings.Count(logs.String(), `"msg":"access"`) == 2
	})
	out := logs.String()
	if n := strings.Count(out, "boom in a log handler"); n != 1 {
		t.Fatalf("panic logged %d times, want once:\n%s", n, out)
	}
	for line := range strings.SplitSeq(out, "\n") {
		switch {
		case strings.Contains(line, "boom in a log handler"):
			if !strings.Contains(line, `"level":"ERROR"`) || !strings.Contains(line, "panickyHandler.Handle") {
				t.Errorf("panic line without level or stack: %s", line)
			}
		case strings.Contains(line, `"msg":"access"`) && !strings.Contains(line, `"status":502`):
			if !strings.Contains(line, `"status":500`) {
				t.Errorf("access line of the panicked request: %s", line)
			}
		}
	}
}
