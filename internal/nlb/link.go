package nlb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/portway/portway/internal/h1"
)

// flow is one connection through the load balancer as its target and the
// load balancer track it: accepted on a listener (proxyConn) or opened in
// process by DialListener (linkConn). close force-closes it; reset aborts
// it with a TCP RST (its target turned unhealthy). Both may be called with
// the group's or the load balancer's lock held.
type flow interface {
	close()
	reset()
	sampleBytes() // adds the growth of its target socket's byte counters to the target's (flowbytes.go)
}

// ErrNoTarget is returned by DialListener when the listener's target group
// has no target that accepted a connection; a client of the TCP listener
// sees the same case as a connection reset.
var ErrNoTarget = errors.New("nlb: no target available")

// DialListener opens a flow through the listener bound to address, in
// process: the target is chosen and tracked exactly as for a connection
// accepted on that listener (flow hash over healthy targets, fail-open,
// retry on another target when the dial fails, draining, connection
// termination, idle timeout, PROXY protocol v2), but the returned
// connection is the target connection itself, so no bytes are copied
// through the listener. This is how a co-located API gateway reaches the
// load balancer over its "VPC link".
//
// ok is false when address is not one of this load balancer's listeners
// (the caller dials it some other way).
func (lb *LoadBalancer) DialListener(ctx context.Context, address string) (c net.Conn, ok bool, err error) {
	ap, perr := netip.ParseAddrPort(address)
	if perr != nil {
		return nil, false, nil
	}
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	lb.mu.Lock()
	var l *listener
	for _, cand := range lb.listeners {
		if cand.addr == ap {
			l = cand
			break
		}
	}
	stopped := lb.stopped
	lb.mu.Unlock()
	if l == nil {
		return nil, false, nil
	}
	if stopped {
		return nil, true, fmt.Errorf("dial %s: %w", address, net.ErrClosed)
	}
	lc, err := lb.dialLink(ctx, l)
	if err != nil {
		return nil, true, fmt.Errorf("dial %s: %w", address, err)
	}
	return lc, true, nil
}

// linkOrder orders the candidate targets of in-process flow number seq:
// round-robin over them, then the others as fallbacks. A listener's flows
// go to a target by the hash of their 5-tuple, which spreads many flows
// evenly but a gateway's few dozen kept-alive ones unevenly; the link
// picks its own "source ports", so it spreads them exactly. Each flow is
// still pinned to its target for its life.
func linkOrder(cands []*target, seq uint32) []*target {
	if len(cands) < 2 {
		return cands
	}
	slices.SortFunc(cands, func(a, b *target) int { return a.addr.Compare(b.addr) })
	k := int(seq % uint32(len(cands)))
	out := make([]*target, 0, len(cands))
	out = append(out, cands[k:]...)
	return append(out, cands[:k]...)
}

func (lb *LoadBalancer) dialLink(ctx context.Context, l *listener) (*linkConn, error) {
	g := l.group
	src := lb.dial.source
	if !src.IsValid() || src.IsUnspecified() {
		src = l.addr.Addr()
	}
	seq := lb.linkSeq.Add(1)
	client := netip.AddrPortFrom(src, uint16(1024+seq%64512))
	var header []byte
	if g.cfg.ProxyProtocolV2 {
		header = ProxyV2Header(client, l.addr)
	}
	lc := &linkConn{lb: lb, g: g, idle: l.cfg.IdleTimeout}
	lb.connWG.Add(1)
	if !lb.track(lc) {
		lb.connWG.Done()
		return nil, net.ErrClosed
	}
	var lastErr error
	opened := time.Now()
	for _, t := range linkOrder(g.candidates(flowHash(client, l.addr)), seq) {
		if !g.reserve(t, lc) {
			continue
		}
		b, err := lb.dial.dialHeader(ctx, t.addr, header)
		if err != nil {
			g.release(t, lc, false)
			t.checkNow()
			lastErr = err
			lb.log.Warn("connect to target failed, trying next", "targetGroup", g.cfg.Name,
				"target", t.String(), "client", "in-process", "error", err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		if !lc.attach(b, t) { // force-closed while dialing
			b.Close()
			g.release(t, lc, false)
			break
		}
		g.established(t)
		lc.rec = lb.openFlow(tcpAddrPort(b.LocalAddr()), tcpAddrPort(b.RemoteAddr()), l, t, opened, true)
		return lc, nil
	}
	lb.untrack(lc)
	lb.connWG.Done()
	if lastErr != nil {
		return nil, fmt.Errorf("%w in target group %s: %w", ErrNoTarget, g.cfg.Name, lastErr)
	}
	lb.log.Warn("no target available", "targetGroup", g.cfg.Name, "client", "in-process")
	return nil, fmt.Errorf("%w in target group %s", ErrNoTarget, g.cfg.Name)
}

// The gateway's connection pool (package h1) relies on these; the flow's
// bookkeeping on flow.
var (
	_ h1.Drainer    = (*linkConn)(nil) // no new exchange to a draining target
	_ h1.RawTCP     = (*linkConn)(nil) // raw socket reads and writes
	_ h1.HalfCloser = (*linkConn)(nil) // (by the embedded *net.TCPConn)
	_ syscall.Conn  = (*linkConn)(nil) // the idle probe (MSG_PEEK), likewise
	_ flow          = (*linkConn)(nil)
)

// linkConn is an in-process flow: the connection to its target, with the
// load balancer's bookkeeping released on Close.
type linkConn struct {
	*net.TCPConn
	lb   *LoadBalancer
	g    *targetGroup
	t    *target
	idle time.Duration

	watchdog *time.Timer
	once     sync.Once
	rec      flowRecord // its entry in Config.Flows
	bytes    flowSample

	mu     sync.Mutex
	closed bool // force-closed (before or after the dial)
}

// attach sets the dialed connection; false if c was force-closed meanwhile.
func (c *linkConn) attach(b *net.TCPConn, t *target) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.TCPConn, c.t = b, t
	c.bytes.acc = &t.bytes
	c.watchdog = time.AfterFunc(c.idle, c.checkIdle)
	return true
}

// checkIdle closes the flow once nothing has moved for the idle timeout,
// as the socket itself tells (see socketIdle): reads and writes are not
// intercepted, so the gateway may do them straight on the socket.
func (c *linkConn) checkIdle() {
	// The kernel's clock for it counts in jiffies; the slack keeps a flow
	// from closing a tick before its timeout.
	const slack = 20 * time.Millisecond
	defer func() {
		if v := recover(); v != nil {
			c.lb.logPanic("in an in-process flow's idle watchdog", v, "targetGroup", c.g.cfg.Name)
			c.close()
		}
	}()
	if c.lb.onFlow != nil {
		c.lb.onFlow("link-idle")
	}
	idleFor := socketIdle(c.TCPConn)
	if idleFor >= c.idle+slack {
		c.lb.log.Debug("idle timeout: in-process flow closed", "targetGroup", c.g.cfg.Name, "target", c.t.String())
		c.close()
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.watchdog.Reset(c.idle + slack - idleFor)
}

// Draining reports whether the flow's target is draining or gone: the
// flow still works (as on AWS), but a connection pool should not start new
// exchanges on it, so that the target's connections end and it can go.
func (c *linkConn) Draining() bool { return c.t.leaving.Load() }

// RawTCP is the flow's socket: reads and writes may go straight to it.
func (c *linkConn) RawTCP() *net.TCPConn { return c.TCPConn }

// close force-closes the connection (draining with connection termination,
// idle timeout, a stop that gave up waiting). The caller may hold the
// group's or the load balancer's lock, so the bookkeeping runs apart.
func (c *linkConn) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	if c.TCPConn != nil {
		c.bytes.sample(c.TCPConn)
		c.TCPConn.Close()
		go c.closeAsync()
	}
}

// reset aborts the flow: the target gets a TCP RST, and the gateway's next
// read or write on the flow fails, as a client of the listener would see
// the load balancer's RST.
func (c *linkConn) reset() {
	c.mu.Lock()
	if !c.closed && c.TCPConn != nil {
		c.TCPConn.SetLinger(0)
	}
	c.mu.Unlock()
	c.close()
}

func (c *linkConn) sampleBytes() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bytes.sample(c.TCPConn)
}

// closeAsync is Close on a goroutine of its own.
func (c *linkConn) closeAsync() {
	defer func() {
		if v := recover(); v != nil {
			c.lb.logPanic("releasing an in-process flow", v, "targetGroup", c.g.cfg.Name)
		}
	}()
	c.Close()
}

// Close closes the connection and releases the flow.
func (c *linkConn) Close() error {
	var err error
	c.once.Do(func() {
		c.mu.Lock()
		c.watchdog.Stop()
		c.mu.Unlock()
		c.lb.closeFlow(c.rec, c.TCPConn)
		c.bytes.sample(c.TCPConn)
		err = c.TCPConn.Close()
		c.g.release(c.t, c, true)
		c.lb.untrack(c)
		c.lb.connWG.Done()
	})
	return err
}
