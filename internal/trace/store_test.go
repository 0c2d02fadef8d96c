package trace

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

func rootN(i int) string { return fmt.Sprintf("1-5759e988-%024x", i) }

func TestStoreRingAndLookup(t *testing.T) {
	s := NewStore(3, nil)
	for i := 1; i <= 4; i++ {
		s.Add(Hop{Kind: KindGateway, Trace: rootN(i), RequestID: fmt.Sprintf("req-%d", i), Start: int64(i * 100), Status: 200 + i})
	}
	if _, ok := s.Get(rootN(1)); ok {
		t.Error("the oldest trace should be gone (3 kept)")
	}
	if _, ok := s.Get("req-1"); ok {
		t.Error("and its request id with it")
	}
	for _, id := range []string{rootN(4), "Root=" + rootN(4), "req-4"} {
		tr, ok := s.Get(id)
		if !ok || tr.TraceID != rootN(4) || tr.RequestID != "req-4" || tr.Status != 204 {
			t.Errorf("Get(%q) = %+v, %v", id, tr, ok)
		}
	}
	s.Add(Hop{Kind: KindGateway, Trace: "not a root"})
	// Two requests with one trace id share the trace; each is found.
	s.Add(Hop{Kind: KindGateway, Trace: rootN(4), RequestID: "req-4b", Start: 450})
	if tr, ok := s.Get("req-4b"); !ok || tr.TraceID != rootN(4) || len(tr.Hops) != 2 {
		t.Errorf("second request of a trace: %+v %v", tr, ok)
	}
	if got := s.Recent(10, Filter{}); len(got) != 3 || got[0].TraceID != rootN(4) || got[2].TraceID != rootN(2) {
		t.Errorf("Recent = %+v", got)
	}
	var nilStore *Store
	nilStore.Add(Hop{Kind: KindGateway, Trace: rootN(1)}) // no panic
}

func TestStoreBoundsHops(t *testing.T) {
	s := NewStore(2, nil)
	for i := 0; i < MaxHopsPerTrace+3; i++ {
		s.Add(Hop{Kind: KindApp, Trace: rootN(1), Start: int64(i)})
	}
	tr, _ := s.Get(rootN(1))
	if len(tr.Hops) != MaxHopsPerTrace {
		t.Errorf("%d hops kept, want %d", len(tr.Hops), MaxHopsPerTrace)
	}
}

func TestStatusFilter(t *testing.T) {
	s := NewStore(10, nil)
	for i, st := range []int{200, 401, 403, 500, 504, 401} {
		s.Add(Hop{Kind: KindGateway, Trace: rootN(i + 1), Status: st})
	}
	s.Add(Hop{Kind: KindApp, Trace: rootN(99), Status: 401}) // no gateway hop: never listed
	for _, tt := range []struct {
		f    string
		want int
	}{{"", 6}, {"4xx", 3}, {"4XX", 3}, {"401", 2}, {"5xx", 2}, {"504", 1}, {"2xx", 1}, {"302", 0}} {
		f, err := ParseStatusFilter(tt.f)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Recent(100, f); len(got) != tt.want {
			t.Errorf("status %q: %d traces, want %d", tt.f, len(got), tt.want)
		}
	}
	if got := s.Recent(2, Filter{Status: "4xx"}); len(got) != 2 || got[0].TraceID != rootN(6) {
		t.Errorf("Recent(2, 4xx) = %+v", got)
	}
	for _, bad := range []string{"4", "6xx", "0xx", "4x", "abc", "1000", "099", "+40"} {
		if _, err := ParseStatusFilter(bad); err == nil {
			t.Errorf("ParseStatusFilter(%q) accepted", bad)
		}
	}
}

// The load balancer's hop is the flow whose addresses are those of the
// gateway's upstream connection and that was open at the time: exact even
// when the same addresses were used by an earlier flow.
func TestAssembleJoinsTheFlow(t *testing.T) {
	clock := time.UnixMicro(1_000_000)
	fl := NewFlowLog(4, func() time.Time { return clock })
	s := NewStore(10, fl)
	gw := netip.MustParseAddrPort("127.77.0.10:40000")
	tgt := netip.MustParseAddrPort("127.77.1.5:9000")
	other := netip.MustParseAddrPort("127.77.1.6:9000")

	// An earlier flow with the same addresses, closed at 1.5 s.
	old := fl.Open(Flow{Client: gw, Server: tgt, Target: "old", Opened: 1_000_000, Connect: 50})
	clock = time.UnixMicro(1_500_000)
	fl.Close(old, gw, tgt, 1234)
	// Another flow open to another target from the same port.
	fl.Open(Flow{Client: gw, Server: other, Target: "127.77.1.6:9000", Opened: 1_900_000, Connect: 70})
	// The request's flow, opened for it at 2 s.
	fl.Open(Flow{Client: gw, Server: tgt, Listener: "127.77.0.10:65535", TargetGroup: "ingests", Target: "127.77.1.5:9000", Opened: 2_000_100, Connect: 80, InProcess: true})

	root := rootN(7)
	s.Add(Hop{Kind: KindApp, Trace: root, Start: 2_000_400, Duration: 100, Status: 200})
	s.Add(Hop{Kind: KindSidecar, Trace: root, Start: 2_000_300, Duration: 300, Status: 200})
	s.Add(Hop{Kind: KindGateway, Trace: root, RequestID: "r", Start: 2_000_000, Duration: 900, Status: 200,
		UpstreamLocal: gw, UpstreamRemote: tgt, UpstreamStart: 2_000_090})
	tr, _ := s.Get(root)
	var kinds string
	for _, h := range tr.Hops {
		kinds += h.Kind + " "
	}
	if kinds != "gateway nlb sidecar app " {
		t.Fatalf("hops: %s", kinds)
	}
	n := tr.Hops[1]
	if n.Target != "127.77.1.5:9000" || n.TargetGroup != "ingests" || n.Offset != 100 || n.Duration != 80 || n.Reused || !n.InProcess {
		t.Errorf("nlb hop %+v", n)
	}
	if tr.Hops[2].Offset != 300 || tr.Hops[3].Offset != 400 {
		t.Errorf("offsets: %+v", tr.Hops)
	}

	// A request in the old flow's time finds the old (closed) one, reused.
	s.Add(Hop{Kind: KindGateway, Trace: rootN(8), Start: 1_200_000, UpstreamLocal: gw, UpstreamRemote: tgt, UpstreamStart: 1_200_010, UpstreamReused: true})
	tr, _ = s.Get(rootN(8))
	if len(tr.Hops) != 2 || tr.Hops[1].Target != "old" || !tr.Hops[1].Reused || tr.Hops[1].FlowAge != 200_010 || tr.Hops[1].FlowBytes != 1234 || tr.Hops[1].FlowLife != 500_000 {
		t.Errorf("old flow: %+v", tr.Hops)
	}
	// No flow with those addresses at that time: no nlb hop, no guess.
	s.Add(Hop{Kind: KindGateway, Trace: rootN(9), Start: 1_700_000, UpstreamLocal: gw, UpstreamRemote: tgt, UpstreamStart: 1_700_000})
	if tr, _ = s.Get(rootN(9)); len(tr.Hops) != 1 {
		t.Errorf("joined a flow that was not open: %+v", tr.Hops)
	}
}

func TestFlowLogBounded(t *testing.T) {
	fl := NewFlowLog(2, nil)
	c := netip.MustParseAddrPort("127.0.0.1:1")
	for i := 0; i < 5; i++ {
		srv := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), uint16(i+1))
		id := fl.Open(Flow{Client: c, Server: srv, Opened: int64(i)})
		fl.Close(id, c, srv, 0)
	}
	if len(fl.closed) != 2 || len(fl.open) != 0 {
		t.Errorf("%d closed, %d open", len(fl.closed), len(fl.open))
	}
	var nilLog *FlowLog
	if nilLog.Open(Flow{}) != 0 {
		t.Error("nil log")
	}
	nilLog.Close(1, c, c, 0)
}

func TestStoreTap(t *testing.T) {
	s := NewStore(2, nil)
	var seen []string
	s.Tap(func(h Hop) { seen = append(seen, h.Kind+" "+h.Task) })
	s.Add(Hop{Kind: KindSidecar, Trace: rootN(1), Task: "t1"})
	s.Add(Hop{Kind: KindSidecar, Trace: "not a root", Task: "t2"}) // not kept, not tapped
	s.Add(Hop{Kind: KindGateway, Trace: rootN(1)})
	if fmt.Sprint(seen) != "[sidecar t1 gateway ]" {
		t.Errorf("tapped %q", seen)
	}
}
