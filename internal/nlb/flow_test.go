package nlb

import (
	"net/netip"
	"testing"
)

func testTargets(addrs ...string) []*target {
	var ts []*target
	for _, a := range addrs {
		ts = append(ts, newTarget(netip.MustParseAddrPort(a), 0, HealthCheck{Interval: 1}, fakeNow()))
	}
	return ts
}

func TestRankSpreadAndStability(t *testing.T) {
	all := testTargets("127.77.1.1:9000", "127.77.1.2:9000", "127.77.1.3:9000")
	dst := netip.MustParseAddrPort("127.77.0.10:65534")
	counts := map[string]int{}
	const flows = 3000
	first := map[int]string{}
	for p := range flows {
		src := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(40000+p))
		f := flowHash(src, dst)
		ts := append([]*target(nil), all...)
		rank(f, ts)
		// The same flow always ranks the same way, whatever the input order.
		rev := []*target{all[2], all[0], all[1]}
		rank(f, rev)
		for i := range ts {
			if ts[i] != rev[i] {
				t.Fatalf("flow %d: rank depends on input order", p)
			}
		}
		counts[ts[0].String()]++
		first[p] = ts[0].String()
	}
	for a, n := range counts {
		if n < flows/3*85/100 || n > flows/3*115/100 {
			t.Errorf("%s got %d of %d flows: %v", a, n, flows, counts)
		}
	}
	// Rendezvous: removing one target moves only the flows that were on it.
	two := []*target{all[0], all[1]}
	for p := range flows {
		src := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(40000+p))
		ts := append([]*target(nil), two...)
		rank(flowHash(src, dst), ts)
		if first[p] != all[2].String() && ts[0].String() != first[p] {
			t.Fatalf("flow %d moved from %s to %s though its target stayed", p, first[p], ts[0])
		}
	}
}

func TestFlowHashDependsOnWholeTuple(t *testing.T) {
	a := netip.MustParseAddrPort("127.0.0.1:40000")
	b := netip.MustParseAddrPort("127.0.0.1:40001")
	c := netip.MustParseAddrPort("127.0.0.2:40000")
	d1 := netip.MustParseAddrPort("127.77.0.10:65534")
	d2 := netip.MustParseAddrPort("127.77.0.10:65535")
	seen := map[uint64]bool{}
	for _, h := range []uint64{flowHash(a, d1), flowHash(b, d1), flowHash(c, d1), flowHash(a, d2), flowHash(d1, a)} {
		if seen[h] {
			t.Fatal("hash collision between different flows")
		}
		seen[h] = true
	}
	if flowHash(a, d1) != flowHash(a, d1) {
		t.Fatal("flow hash not deterministic")
	}
}
