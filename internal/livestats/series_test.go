package livestats

import (
	"fmt"
	"testing"
	"time"
)

func TestSeriesWindow(t *testing.T) {
	var s Series
	t0 := time.Unix(1_700_000_000, 0)
	for i := range 90 {
		s.Record(t0.Add(time.Duration(i)*time.Millisecond), 2*time.Millisecond, 200)
	}
	for i := range 10 {
		s.Record(t0.Add(time.Duration(i)*time.Millisecond), 200*time.Millisecond, 503)
	}
	s.Record(t0, time.Millisecond, 404)
	sum := s.Summary(t0)
	if sum.Requests != 101 || sum.Errors5xx != 10 || sum.Errors4xx != 1 {
		t.Fatalf("counts: %+v", sum)
	}
	if sum.P50 < 1500 || sum.P50 > 2000 {
		t.Errorf("p50 = %dµs, want in (1500, 2000]", sum.P50)
	}
	if sum.P99 < 150000 || sum.P99 > 200000 {
		t.Errorf("p99 = %dµs, want in (150000, 200000]", sum.P99)
	}
	if sum.Max != 200000 {
		t.Errorf("max = %d", sum.Max)
	}
	if got := fmt.Sprintf("%.3f", sum.ErrorRate); got != "0.099" {
		t.Errorf("error rate %s", got)
	}
	if sum.PerSecond[Window-1] != 101 {
		t.Errorf("last second: %d", sum.PerSecond[Window-1])
	}
	// 59 s later the requests are still in the window, at its oldest second.
	if sum := s.Summary(t0.Add(59 * time.Second)); sum.Requests != 101 || sum.PerSecond[0] != 101 {
		t.Errorf("at +59s: %d requests, oldest second %d", sum.Requests, sum.PerSecond[0])
	}
	// A minute later they are gone; a new request reuses the slot.
	if sum := s.Summary(t0.Add(Window * time.Second)); sum.Requests != 0 || sum.P50 != 0 {
		t.Errorf("after the window: %+v", sum)
	}
	s.Record(t0.Add(Window*time.Second), 40*time.Millisecond, 200)
	sum = s.Summary(t0.Add(Window * time.Second))
	if sum.Requests != 1 || sum.P99 <= 30000 || sum.P99 > 40000 {
		t.Errorf("reused slot: %+v", sum)
	}
	if !s.idle(t0.Add(2*Window*time.Second)) || s.idle(t0.Add(Window*time.Second)) {
		t.Error("idle")
	}
}

func TestBucketOf(t *testing.T) {
	for _, c := range []struct {
		us   int64
		want int
	}{{0, 0}, {100, 0}, {101, 1}, {30000000, len(LatencyBounds) - 1}, {30000001, len(LatencyBounds)}} {
		if got := bucketOf(c.us); got != c.want {
			t.Errorf("bucketOf(%d) = %d, want %d", c.us, got, c.want)
		}
	}
}

func TestBoardBounded(t *testing.T) {
	b := NewBoard(2, "overflow")
	now := time.Unix(1_700_000_000, 0)
	for _, k := range []string{"a", "b", "c", "d"} {
		b.Record(k, now, time.Millisecond, 200, "n-"+k)
	}
	if b.Len() != 3 {
		t.Fatalf("len %d, want 2 keys and the overflow", b.Len())
	}
	got := map[string]Row[string]{}
	for _, r := range b.Rows(now) {
		got[r.Key] = r
	}
	if got["overflow"].Summary.Requests != 2 || got["overflow"].Note != "n-d" || got["a"].Summary.Requests != 1 {
		t.Errorf("rows: %+v", got)
	}
	b.Record("a", now.Add(30*time.Second), time.Millisecond, 200, "")
	b.Prune(now.Add(Window * time.Second))
	if b.Len() != 1 || len(b.Rows(now)) != 1 {
		t.Errorf("after prune: %d keys", b.Len())
	}
}

func TestLive(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := New(func() time.Time { return now })
	l.Request(Request{Stage: "prod", Method: "GET", Resource: "/items", Status: 200, Duration: time.Millisecond, Client: "c1", AuthResult: "allow"})
	l.Request(Request{Stage: "prod", Method: "GET", Resource: "/items", Status: 401, Duration: time.Millisecond, Client: "c2", AuthResult: "expired", Reason: "token expired"})
	l.Request(Request{Stage: "prod", Method: "GET", Resource: "/open", Status: 200})
	l.TaskRequest("task1", time.Millisecond, 500)
	l.TaskRequest("", time.Millisecond, 500)
	if n := len(l.Routes.Rows(now)); n != 2 {
		t.Errorf("routes %d", n)
	}
	rows := l.Clients.Rows(now)
	if len(rows) != 2 {
		t.Fatalf("clients %+v", rows)
	}
	for _, r := range rows {
		if r.Key.Client == "c2" && (r.Key.Result != "expired" || r.Note != "token expired" || r.Summary.Errors4xx != 1) {
			t.Errorf("c2: %+v", r)
		}
	}
	if rows := l.Tasks.Rows(now); len(rows) != 1 || rows[0].Summary.ErrorRate != 1 {
		t.Errorf("tasks %+v", rows)
	}
}

// BenchmarkRecord is the per-request cost on the gateway's path: a route
// and a client recorded (it must not allocate).
func BenchmarkRecord(b *testing.B) {
	l := New(nil)
	r := Request{Stage: "prod", Method: "GET", Resource: "/items/{id}", Status: 200, Duration: 1500 * time.Microsecond, Client: "client-1", AuthResult: "allow"}
	l.Request(r)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		l.Request(r)
	}
}

func BenchmarkRecordParallel(b *testing.B) {
	l := New(nil)
	r := Request{Stage: "prod", Method: "GET", Resource: "/items/{id}", Status: 200, Duration: 1500 * time.Microsecond}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Request(r)
		}
	})
}

func TestRecordDoesNotAllocate(t *testing.T) {
	l := New(nil)
	r := Request{Stage: "prod", Method: "GET", Resource: "/items/{id}", Status: 200, Duration: time.Millisecond, Client: "c", AuthResult: "allow"}
	l.Request(r)
	if n := testing.AllocsPerRun(100, func() { l.Request(r) }); n != 0 {
		t.Errorf("%v allocations per request", n)
	}
}
