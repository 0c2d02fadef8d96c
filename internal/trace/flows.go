package trace

import (
	"net/netip"
	"sync"
	"time"
)

// DefaultClosedFlows is how many closed flows a FlowLog remembers.
const DefaultClosedFlows = 4096

// Flow is one connection through the load balancer, as the flow log keeps
// it. Client and Server are the addresses of the connection the client
// holds, as the client sees them: for a flow accepted on a listener, the
// client's address and the listener's; for an in-process flow (the
// gateway's VPC link), where the client holds the target connection
// itself, that socket's local address and the target's. A client that
// has the same pair of addresses on its own connection has this flow:
// no two open TCP connections share them, so the join is exact.
type Flow struct {
	ID          uint64
	Client      netip.AddrPort
	Server      netip.AddrPort
	Listener    string // ip:port
	TargetGroup string
	Target      string // ip:port
	InProcess   bool
	Opened      int64 // Unix µs: when the client's connection was taken (or the link dial began)
	Connect     int64 // µs the connection to the target took
	Closed      int64 // Unix µs; 0 while open
	Bytes       int64 // both directions, once closed; 0 when unknown
}

type flowKey struct{ client, server netip.AddrPort }

// FlowLog is the load balancer's record of its flows for tracing: the open
// ones and the last DefaultClosedFlows closed ones. Open and Close cost a
// lock and a map operation per connection (not per request). A nil
// FlowLog records nothing.
type FlowLog struct {
	now func() time.Time

	mu     sync.Mutex
	seq    uint64
	open   map[flowKey]*Flow
	closed []Flow
	next   int
}

// NewFlowLog remembers up to n closed flows (DefaultClosedFlows when n <= 0).
func NewFlowLog(n int, now func() time.Time) *FlowLog {
	if n <= 0 {
		n = DefaultClosedFlows
	}
	if now == nil {
		now = time.Now
	}
	return &FlowLog{now: now, open: map[flowKey]*Flow{}, closed: make([]Flow, 0, n)}
}

// Open records an open flow and returns its id (0 when l is nil).
func (l *FlowLog) Open(f Flow) uint64 {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	f.ID = l.seq
	k := flowKey{f.Client, f.Server}
	if old := l.open[k]; old != nil { // its close was missed: keep it as closed now
		old.Closed = f.Opened
		l.retire(*old)
	}
	l.open[k] = &f
	return f.ID
}

// Close records that flow id with these addresses has closed, having
// moved bytes both ways (0: unknown).
func (l *FlowLog) Close(id uint64, client, server netip.AddrPort, bytes int64) {
	if l == nil || id == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	k := flowKey{client, server}
	f := l.open[k]
	if f == nil || f.ID != id {
		return
	}
	delete(l.open, k)
	f.Closed = l.now().UnixMicro()
	f.Bytes = bytes
	l.retire(*f)
}

func (l *FlowLog) retire(f Flow) {
	if len(l.closed) < cap(l.closed) {
		l.closed = append(l.closed, f)
		return
	}
	l.closed[l.next] = f
	l.next = (l.next + 1) % len(l.closed)
}

// Find is the flow with these addresses that was open at Unix µs at.
func (l *FlowLog) Find(client, server netip.AddrPort, at int64) (Flow, bool) {
	if l == nil || !client.IsValid() {
		return Flow{}, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	// A little slack: the flow's clock reading and the caller's are taken
	// on different goroutines.
	const slack = 1000
	if f := l.open[flowKey{client, server}]; f != nil && f.Opened <= at+slack {
		return *f, true
	}
	for i := len(l.closed) - 1; i >= 0; i-- {
		f := &l.closed[(l.next+i)%len(l.closed)]
		if f.Client == client && f.Server == server && f.Opened <= at+slack && at <= f.Closed+slack {
			return *f, true
		}
	}
	return Flow{}, false
}

// hopFor is the load balancer's hop of the request a gateway hop made, if
// its upstream connection was one of the load balancer's flows.
func (l *FlowLog) hopFor(g Hop) (Hop, bool) {
	f, ok := l.Find(g.UpstreamLocal, g.UpstreamRemote, g.UpstreamStart)
	if !ok {
		return Hop{}, false
	}
	h := Hop{
		Kind: KindNLB, Trace: g.Trace, Listener: f.Listener, TargetGroup: f.TargetGroup, Target: f.Target,
		FlowID: f.ID, Connect: f.Connect, InProcess: f.InProcess, FlowBytes: f.Bytes,
	}
	if f.Closed != 0 {
		h.FlowLife = f.Closed - f.Opened
	}
	// A flow opened for this request starts with it and takes its connect
	// time; a reused one was open already: the request enters it when the
	// gateway writes it.
	if !g.UpstreamReused {
		h.Start, h.Duration = f.Opened, f.Connect
	} else {
		h.Start, h.Reused, h.FlowAge = g.UpstreamStart, true, g.UpstreamStart-f.Opened
	}
	return h, true
}
