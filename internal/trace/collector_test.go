package trace

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portway/portway/internal/h1/h1test"
	"github.com/portway/portway/internal/testutil"
)

func TestReporterToCollector(t *testing.T) {
	st := NewStore(100, nil)
	c, err := NewCollector(CollectorConfig{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer c.Stop(context.Background())
	env := map[string]string{}
	for _, kv := range c.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	t.Setenv(EnvURL, env[EnvURL])
	t.Setenv(EnvToken, env[EnvToken])
	t.Setenv("PORTWAY_TASK_ID", "task-1")
	rep := ReporterFromEnv(nil)
	if rep == nil {
		t.Fatal("no reporter from the collector's env")
	}
	rep.Start()
	rep.Record(Hop{Kind: KindSidecar, Trace: rootN(1), Start: 10, Duration: 5, Status: 200, UpstreamStatus: 200})
	rep.Record(Hop{Kind: KindApp, Trace: rootN(1), Start: 11, Duration: 3, Status: 200, Path: strings.Repeat("p", 1000)})
	// A task may not forge the gateway's hop.
	rep.Record(Hop{Kind: KindGateway, Trace: rootN(2), RequestID: "forged"})
	testutil.WaitFor(t, 5*time.Second, "the hops at the store", func() bool {
		tr, ok := st.Get(rootN(1))
		return ok && len(tr.Hops) == 2
	})
	tr, _ := st.Get(rootN(1))
	for _, h := range tr.Hops {
		if h.Task != "task-1" || len(h.Path) > maxFieldLen {
			t.Errorf("hop %+v", h.Hop)
		}
	}
	if _, ok := st.Get(rootN(2)); ok {
		t.Error("a gateway hop from a task was kept")
	}
	rep.Stop(context.Background())
	if rep.Dropped() != 0 {
		t.Errorf("dropped %d", rep.Dropped())
	}
}

func TestIngestRefuses(t *testing.T) {
	st := NewStore(10, nil)
	h := IngestHandler(st, "secret")
	line := func(kind string) string {
		return string(appendWire(nil, &Hop{Kind: kind, Trace: rootN(1), Start: 1, Duration: 2, Status: 200}))
	}
	for _, tt := range []struct {
		method, auth, body string
		want               int
	}{
		{"POST", "", line("app"), 401},
		{"POST", "Bearer wrong", line("app"), 401},
		{"GET", "Bearer secret", ``, 405},
		{"POST", "Bearer secret", "h1\tapp\n", 400},
		{"POST", "Bearer secret", strings.Replace(line("app"), "\t200\t", "\t2000\t", 1), 400},
		{"POST", "Bearer secret", strings.Replace(line("app"), "h1", "h9", 1), 400},
		{"POST", "Bearer secret", strings.Repeat(line("app"), maxBatchHops+1), 413},
		{"POST", "Bearer secret", strings.Repeat("x", maxBatchBytes+1), 413},
		{"POST", "Bearer secret", line("app") + line("sidecar"), 204},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(tt.method, IngestPath, strings.NewReader(tt.body))
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		h.ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("%s %q %.40q: %d, want %d", tt.method, tt.auth, tt.body, rec.Code, tt.want)
		}
	}
	if tr, ok := st.Get(rootN(1)); !ok || len(tr.Hops) != 2 {
		t.Errorf("stored: %+v", tr)
	}
}

func TestWireRoundTrip(t *testing.T) {
	in := Hop{Kind: KindSidecar, Trace: rootN(3), Start: 1796613429783123, Duration: 513, Status: 502, UpstreamStatus: 0,
		UpstreamTime: 0, Method: "GET", Path: "/bags/a\tb\nc", Task: "t1", Error: "upstream: dial tcp: refused"}
	line := appendWire(nil, &in)
	if strings.Count(string(line), "\n") != 1 || strings.Count(string(line), "\t") != wireFields-1 {
		t.Fatalf("line %q", line)
	}
	out, err := parseWire(line[:len(line)-1])
	in.Path = "/bags/a b c" // control characters travel as spaces
	if err != nil || out != in {
		t.Errorf("round trip:\n got %+v, %v\nwant %+v", out, err, in)
	}
	for _, bad := range []string{"", "h1", "h1\tapp\tx\t1\t2\t3\t4\t5\tGET\t/\tt\te\textra\tmore", "h1\tapp\tx\tNaN\t2\t3\t4\t5\tGET\t/\tt\te"} {
		if _, err := parseWire([]byte(bad)); err == nil {
			t.Errorf("parseWire(%q) accepted", bad)
		}
	}
}

// Record never blocks: a full queue drops and counts.
func TestReporterDropsWhenFull(t *testing.T) {
	rep := NewReporter("http://127.0.0.1:1/none", "x", nil) // not started: nothing drains
	for i := 0; i < reporterQueue+10; i++ {
		rep.Record(Hop{Kind: KindApp, Trace: rootN(1)})
	}
	if rep.Dropped() != 10 {
		t.Errorf("dropped %d, want 10", rep.Dropped())
	}
	var nilRep *Reporter
	nilRep.Record(Hop{})
	nilRep.Start()
	nilRep.Stop(context.Background())
}

// An absent collector loses hops, never blocks the sender.
func TestReporterCollectorAway(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer srv.Close()
	rep := NewReporter(srv.URL, "x", nil)
	rep.Start()
	rep.Record(Hop{Kind: KindApp, Trace: rootN(1)})
	testutil.WaitFor(t, 5*time.Second, "the batch counted as dropped", func() bool { return rep.Dropped() == 1 })
	rep.Stop(context.Background())
}

func TestQueryHandler(t *testing.T) {
	st := NewStore(10, nil)
	st.Add(Hop{Kind: KindGateway, Trace: rootN(1), RequestID: "req-1", Status: 401})
	st.Add(Hop{Kind: KindGateway, Trace: rootN(2), RequestID: "req-2", Status: 200})
	h := QueryHandler(st)
	for _, tt := range []struct {
		path, want string
		code       int
	}{
		{"/traces/req-1", `"traceId": "` + rootN(1), 200},
		{"/traces/" + rootN(2), `"requestId": "req-2"`, 200},
		{"/traces/nope", "no trace", 404},
		{"/traces?last=1", rootN(2), 200},
		{"/traces?status=4xx", rootN(1), 200},
		{"/traces?status=9xx", "status", 400},
		{"/traces?last=0", "last", 400},
		{"/traces?last=100000", "last", 400},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", tt.path, nil))
		if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.want) {
			t.Errorf("%s: %d %s", tt.path, rec.Code, rec.Body)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/traces?status=5xx", nil))
	if !strings.Contains(rec.Body.String(), `"traces": []`) {
		t.Errorf("empty list: %s", rec.Body)
	}
}

// BenchmarkReporter is a sidecar's or app's cost of tracing one request:
// recording its hop, then (amortized) encoding and posting it in a batch
// of 512 to a collector that reads and discards them (in this process too,
// so the CPU per hop is an upper bound).
func BenchmarkReporter(b *testing.B) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer sink.Close()
	rep := NewReporter(sink.URL, "t", nil) // not started: the loop sends
	h := Hop{Kind: KindSidecar, Trace: rootN(1), Start: 1796613429783123, Duration: 513, Status: 200, UpstreamStatus: 200, UpstreamTime: 500, Method: "GET", Task: "a5d6f454db70fc21fc8a196f4f20300e"}
	b.ReportAllocs()
	stop := h1test.CPUMeter(b)
	n := 0
	for b.Loop() {
		rep.Record(h)
		if n++; n == reporterBatch {
			rep.mu.Lock()
			batch := rep.pending
			rep.pending = nil
			rep.mu.Unlock()
			if err := rep.send(batch); err != nil {
				b.Fatal(err)
			}
			n = 0
		}
	}
	stop()
}
