package nlb

import (
	"net"
	"sync/atomic"
)

// flowBytes counts the bytes moved to and from one target, for
// portway_nlb_bytes_total. Flows are not intercepted to count them (an
// in-process flow's bytes go straight to its socket): the kernel's
// counters of each flow's target socket (TCP_INFO) are sampled at scrape
// time and when the flow closes, and their growth is added here.
type flowBytes struct {
	toTarget, fromTarget atomic.Uint64
}

// flowSample is one flow's share of its target's flowBytes: what was
// already added, so that a sample adds only the growth since the last.
type flowSample struct {
	acc                  *flowBytes // nil until the flow has a target connection
	toTarget, fromTarget atomic.Uint64
}

// sample adds the growth of c's byte counters to the target's. Safe to
// call concurrently (scrape and close); a closed socket adds nothing.
func (s *flowSample) sample(c *net.TCPConn) {
	if s == nil || s.acc == nil || c == nil {
		return
	}
	sent, received, ok := tcpBytes(c)
	if !ok {
		return
	}
	grow(&s.toTarget, &s.acc.toTarget, sent)
	grow(&s.fromTarget, &s.acc.fromTarget, received)
}

// grow raises seen to cur, if higher, and adds the difference to total.
func grow(seen, total *atomic.Uint64, cur uint64) {
	for {
		old := seen.Load()
		if cur <= old {
			return
		}
		if seen.CompareAndSwap(old, cur) {
			total.Add(cur - old)
			return
		}
	}
}
