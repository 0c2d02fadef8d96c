package h1

import (
	"bufio"
	"context"
	"io"
	"net"
	"sync"
	"time"
)

// Conn is a connection with its buffers, as a pool hands it out.
type Conn struct {
	net.Conn
	R *bufio.Reader
	W *bufio.Writer

	idleSince time.Time
	// Reused is true when the connection served an earlier exchange: a
	// failure before any response byte may then be the peer having closed
	// it while idle (see Forwarder for when a request is sent again).
	Reused bool

	out countingWriter // under W: counts what reached the socket
}

// countingWriter counts the bytes its writer took: under an upstream
// Conn's W, so that a failed exchange can tell whether any of the request
// went out; under a ServerConn's W, whether a response has started.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Pool keeps idle keep-alive connections to one upstream address, most
// recently used first.
type Pool struct {
	Addr        string
	DialTimeout time.Duration
	MaxIdle     int           // idle connections kept (default 64)
	IdleTimeout time.Duration // an idle connection older than this is closed, not reused (default 50s)
	BufferSize  int           // read and write buffer size (default 16 KiB)
	// DialFunc, when set, opens the connections (e.g. in process, through
	// a co-located load balancer); nil dials Addr over TCP.
	DialFunc func(ctx context.Context, addr string) (net.Conn, error)
	// ProbeAfter: a connection idle longer than this is checked, without
	// blocking, for the peer having closed it before it is reused (default
	// 1s). Busier connections are reused unchecked.
	ProbeAfter time.Duration

	mu     sync.Mutex
	idle   []*Conn
	closed bool
}

func (p *Pool) bufSize() int {
	if p.BufferSize > 0 {
		return p.BufferSize
	}
	return 16 << 10
}

// Get returns an idle connection or dials a new one.
func (p *Pool) Get(ctx context.Context) (*Conn, error) {
	now := time.Now()
	idleTimeout := p.IdleTimeout
	if idleTimeout <= 0 {
		idleTimeout = 50 * time.Second
	}
	p.mu.Lock()
	for n := len(p.idle); n > 0; n = len(p.idle) {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		if now.Sub(c.idleSince) < idleTimeout {
			p.mu.Unlock()
			if p.usable(c, now) {
				c.Reused = true
				return c, nil
			}
			c.Conn.Close()
			p.mu.Lock()
			continue
		}
		c.Conn.Close()
	}
	p.mu.Unlock()
	return p.Dial(ctx)
}

// usable reports whether an idle connection may carry a new exchange: not
// to a draining target, and, when it has been idle a while, not closed by
// its peer meanwhile (the race every keep-alive client has with a server
// closing idle connections, which would fail a request with a body).
func (p *Pool) usable(c *Conn, now time.Time) bool {
	if d, ok := c.Conn.(Drainer); ok && d.Draining() {
		return false
	}
	probeAfter := p.ProbeAfter
	if probeAfter <= 0 {
		probeAfter = time.Second
	}
	if now.Sub(c.idleSince) < probeAfter {
		return true
	}
	return peerOpen(c.Conn)
}

// Dial opens a new connection.
func (p *Pool) Dial(ctx context.Context) (*Conn, error) {
	var nc net.Conn
	var err error
	if p.DialFunc != nil {
		nc, err = p.DialFunc(ctx, p.Addr)
	} else {
		d := net.Dialer{Timeout: p.DialTimeout, KeepAlive: 30 * time.Second}
		nc, err = d.DialContext(ctx, "tcp", p.Addr)
	}
	if err != nil {
		return nil, err
	}
	size := p.bufSize()
	fio := fastIO(nc)
	c := &Conn{Conn: nc, R: bufio.NewReaderSize(fio, size), out: countingWriter{w: fio}}
	c.W = bufio.NewWriterSize(&c.out, size)
	return c, nil
}

// Put returns a connection whose exchange completed cleanly; it is closed
// when the pool is full or closed.
func (p *Pool) Put(c *Conn) {
	max := p.MaxIdle
	if max <= 0 {
		max = 64
	}
	c.idleSince = time.Now()
	p.mu.Lock()
	if p.closed || len(p.idle) >= max || c.R.Buffered() > 0 {
		p.mu.Unlock()
		c.Conn.Close()
		return
	}
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

// Release ends an exchange on c: back to the pool when reusable (its
// exchange completed and the peer keeps it open), else closed.
func (p *Pool) Release(c *Conn, reusable bool) {
	if reusable {
		p.Put(c)
		return
	}
	c.Conn.Close()
}

// Close closes the idle connections; later Puts close theirs.
func (p *Pool) Close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, c := range idle {
		c.Conn.Close()
	}
}
