package h1

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// upstreamSrv accepts connections and hands them to the test.
type upstreamSrv struct {
	ln    net.Listener
	conns chan net.Conn
}

func newUpstreamSrv(t *testing.T) *upstreamSrv {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &upstreamSrv{ln: ln, conns: make(chan net.Conn, 16)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.conns <- c
		}
	}()
	return u
}

// TestPoolSkipsConnectionClosedByPeer: a long-idle connection the peer
// closed meanwhile is not handed out again.
func TestPoolSkipsConnectionClosedByPeer(t *testing.T) {
	u := newUpstreamSrv(t)
	p := &Pool{Addr: u.ln.Addr().String(), DialTimeout: time.Second, ProbeAfter: time.Nanosecond}
	t.Cleanup(p.Close)
	c, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p.Put(c)
	server := <-u.conns
	server.Close() // the upstream closes the idle connection
	// Wait until the close has reached the client side.
	deadline := time.Now().Add(5 * time.Second)
	for peerOpen(c.Conn) {
		if time.Now().After(deadline) {
			t.Fatal("the peer's close never reached the connection")
		}
		time.Sleep(time.Millisecond)
	}
	c2, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if c2 == c || c2.Reused {
		t.Fatal("got the closed connection back")
	}
}

// TestPoolReusesOpenConnection: an open idle connection is reused, probed
// or not.
func TestPoolReusesOpenConnection(t *testing.T) {
	for _, probe := range []time.Duration{time.Nanosecond, time.Hour} {
		u := newUpstreamSrv(t)
		p := &Pool{Addr: u.ln.Addr().String(), DialTimeout: time.Second, ProbeAfter: probe}
		c, err := p.Get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(-time.Second)) // a deadline left from the last exchange
		p.Put(c)
		c2, err := p.Get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if c2 != c || !c2.Reused {
			t.Fatalf("probe after %s: open connection not reused", probe)
		}
		p.Put(c2)
		p.Close()
	}
}

// drainingConn reports Draining as told.
type drainingConn struct {
	net.Conn
	draining *atomic.Bool
}

func (d drainingConn) Draining() bool { return d.draining.Load() }

// TestPoolSkipsDrainingConnection: a connection to a draining target gets
// no new exchange.
func TestPoolSkipsDrainingConnection(t *testing.T) {
	u := newUpstreamSrv(t)
	var drain atomic.Bool
	p := &Pool{Addr: u.ln.Addr().String(), DialTimeout: time.Second, ProbeAfter: time.Hour,
		DialFunc: func(ctx context.Context, addr string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", addr)
			return drainingConn{Conn: c, draining: &drain}, err
		}}
	t.Cleanup(p.Close)
	c, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p.Put(c)
	drain.Store(true)
	c2, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if c2 == c || c2.Reused {
		t.Fatal("a connection to a draining target was reused")
	}
}
