package sidecar

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portway/portway/internal/h1"
	"github.com/portway/portway/internal/h1/h1test"
	"github.com/portway/portway/internal/testutil"
	"github.com/portway/portway/internal/trace"
	"github.com/portway/portway/internal/trace/tracetest"
)

type hopList = tracetest.Hops

// The sidecar records its hop of each request that carries a valid trace
// id: its status, the app's status and time; an app that cannot be
// reached leaves no upstream status. Untraced requests are not recorded.
func TestSidecarRecordsHop(t *testing.T) {
	app := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	hops := &hopList{}
	s := startSidecar(t, Config{Upstream: app.URL, Traces: hops})
	const root = "1-5759e988-bd862e3fe1be46a994272793"
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.Addr()+"/bags/x", nil)
	req.Header.Set("X-Amzn-Trace-Id", "Root="+root+";Sampled=1")
	if resp, _ := do(t, req); resp.StatusCode != http.StatusTeapot {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// The header goes on to the app as it came.
	if got := app.last(t).header.Get("X-Amzn-Trace-Id"); got != "Root="+root+";Sampled=1" {
		t.Errorf("app got trace %q", got)
	}
	untraced, _ := http.NewRequest(http.MethodGet, "http://"+s.Addr()+"/bags/y", nil)
	untraced.Header.Set("X-Amzn-Trace-Id", "Root=1-bad")
	do(t, untraced)
	// The hop is recorded once the answer is out.
	testutil.WaitFor(t, 5*time.Second, "the hop", func() bool { return len(hops.All()) >= 1 })
	hs := hops.All()
	if len(hs) != 1 {
		t.Fatalf("%d hops: %+v", len(hs), hs)
	}
	h := hs[0]
	if h.Kind != trace.KindSidecar || h.Trace != root || h.Status != http.StatusTeapot || h.UpstreamStatus != http.StatusTeapot ||
		h.UpstreamTime <= 0 || h.Duration < h.UpstreamTime || h.Method != "GET" || h.Start == 0 {
		t.Errorf("hop %+v", h)
	}

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	hops2 := &hopList{}
	s2 := startSidecar(t, Config{Upstream: dead, Traces: hops2})
	req, _ = http.NewRequest(http.MethodGet, "http://"+s2.Addr()+"/bags/x", nil)
	req.Header.Set("X-Amzn-Trace-Id", "Root="+root)
	do(t, req)
	testutil.WaitFor(t, 5*time.Second, "the hop", func() bool { return len(hops2.All()) >= 1 })
	if hs := hops2.All(); len(hs) != 1 || hs[0].Status != http.StatusBadGateway || hs[0].UpstreamStatus != 0 || hs[0].Error == "" {
		t.Errorf("dead app: %+v", hs)
	}
}

// BenchmarkRawHopTraced is BenchmarkRawHop for a request carrying a trace
// id, with tracing off and on (a real trace.Reporter sending its batches
// to a collector that reads and discards them): the difference is the
// sidecar's cost of tracing.
func BenchmarkRawHopTraced(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			app := "http://" + h1test.RawUpstream(b, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 700\r\n\r\n"+strings.Repeat("x", 700))
			cfg := Config{Upstream: app}
			if on {
				sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					_, _ = io.Copy(io.Discard, r.Body)
					w.WriteHeader(http.StatusNoContent)
				}))
				b.Cleanup(sink.Close)
				rep := trace.NewReporter(sink.URL, "t", nil)
				rep.Start()
				b.Cleanup(func() { rep.Stop(context.Background()) })
				cfg.Traces = rep
			}
			s := startSidecar(b, cfg)
			c, err := net.Dial("tcp", s.Addr())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			br := bufio.NewReader(c)
			req := []byte("GET /ingests/0f7d6a4c-1b6c-4d43-8a56-2a6a3b8d9e51 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abc\r\nX-Forwarded-For: 203.0.113.7\r\n" +
				"X-Amzn-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793\r\n\r\n")
			var res h1.Head
			h1test.Exchange(b, c, br, req, &res)
			b.ReportAllocs()
			stop := h1test.CPUMeter(b)
			for b.Loop() {
				h1test.Exchange(b, c, br, req, &res)
			}
			stop()
		})
	}
}
