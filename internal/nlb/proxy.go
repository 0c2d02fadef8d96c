package nlb

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// copyChunk is how many bytes one splice round moves before the copier
// notes activity; large enough to keep the zero-copy path efficient.
const copyChunk = 4 << 20

var _ flow = (*proxyConn)(nil)

// proxyConn is one client connection and, once dialed, its target connection.
type proxyConn struct {
	lb     *LoadBalancer
	client *net.TCPConn
	start  time.Time
	last   atomic.Int64 // nanoseconds since start of the last activity

	mu      sync.Mutex
	backend *net.TCPConn
	closed  bool

	rec   flowRecord // its entry in Config.Flows
	bytes flowSample
}

func newProxyConn(c *net.TCPConn, lb *LoadBalancer) *proxyConn {
	return &proxyConn{lb: lb, client: c, start: time.Now()}
}

// setBackend attaches the connection to t; false if pc was closed meanwhile.
func (pc *proxyConn) setBackend(b *net.TCPConn, t *target) bool {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.closed {
		return false
	}
	pc.backend = b
	pc.bytes.acc = &t.bytes
	return true
}

func (pc *proxyConn) sampleBytes() {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	pc.bytes.sample(pc.backend)
}

func (pc *proxyConn) isClosed() bool {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return pc.closed
}

// close closes both sides; safe to call more than once and concurrently.
func (pc *proxyConn) close() {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	pc.closed = true
	pc.client.Close()
	if pc.backend != nil {
		pc.bytes.sample(pc.backend)
		pc.backend.Close()
	}
}

// reset closes both sides with RST, passing an abort on to the other side.
func (pc *proxyConn) reset() {
	pc.mu.Lock()
	if !pc.closed {
		pc.client.SetLinger(0)
		if pc.backend != nil {
			pc.backend.SetLinger(0)
		}
	}
	pc.mu.Unlock()
	pc.close()
}

func (pc *proxyConn) touch() { pc.last.Store(int64(time.Since(pc.start))) }

func (pc *proxyConn) idleFor() time.Duration {
	return time.Since(pc.start) - time.Duration(pc.last.Load())
}

// pipe copies bytes both ways until both directions reach EOF, either side
// fails, nothing moves for idle, or pc is closed. A direction that reaches
// EOF half-closes its destination (CloseWrite) and the other goes on.
func (pc *proxyConn) pipe(idle time.Duration) {
	backend := pc.backend
	tick := max(idle/8, 10*time.Millisecond)
	pc.touch()

	var watchdog *time.Timer
	var wmu sync.Mutex
	stopped := false
	wmu.Lock()
	watchdog = time.AfterFunc(tick, func() {
		defer func() {
			if v := recover(); v != nil {
				pc.lb.logPanic("in a flow's idle watchdog", v)
				pc.reset()
			}
		}()
		if pc.idleFor() >= idle {
			pc.close()
			return
		}
		wmu.Lock()
		defer wmu.Unlock()
		if !stopped {
			watchdog.Reset(tick)
		}
	})
	wmu.Unlock()
	defer func() {
		wmu.Lock()
		stopped = true
		wmu.Unlock()
		watchdog.Stop()
	}()

	errc := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				pc.lb.logPanic("copying a flow", v)
				pc.reset() // the other direction's copy ends too
				errc <- errPanicked
			}
		}()
		if pc.lb.onFlow != nil {
			pc.lb.onFlow("copy")
		}
		errc <- pc.copyHalf(backend, pc.client, tick)
	}()
	first := pc.copyHalf(pc.client, backend, tick)
	if first != nil {
		pc.abort(first)
	}
	if second := <-errc; second != nil {
		pc.abort(second)
	}
	pc.lb.closeFlow(pc.rec, pc.client)
	pc.close()
}

// abort ends the connection after a copy error: a reset by one side is
// passed on as a reset; anything else just closes.
func (pc *proxyConn) abort(err error) {
	if errors.Is(err, net.ErrClosed) {
		pc.close()
		return
	}
	pc.reset()
}

// smallCopySize is the buffer of the plain read/write path. Requests and
// responses that fit are copied with one read(2) and one write(2), cheaper
// than splice(2)'s pipe round trip; a read that fills the buffer marks a
// bulk transfer, which goes on with splice.
const smallCopySize = 16 << 10

var smallBufs = sync.Pool{New: func() any {
	b := make([]byte, smallCopySize)
	return &b
}}

// copyHalf moves bytes from src to dst until EOF (then it half-closes dst
// and returns nil) or an error. Small messages are copied through a pooled
// buffer; once a read fills the buffer, the rest of the burst moves with
// splice(2) (TCPConn.ReadFrom of a LimitedReader over a TCPConn), zero-copy,
// in chunks and under a short read deadline so that activity is noticed.
func (pc *proxyConn) copyHalf(dst, src *net.TCPConn, tick time.Duration) error {
	bp := smallBufs.Get().(*[]byte)
	defer smallBufs.Put(bp)
	buf := *bp
	for {
		n, err := src.Read(buf)
		if n > 0 {
			pc.touch()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		switch {
		case errors.Is(err, io.EOF):
			dst.CloseWrite()
			return nil
		case err != nil:
			return err
		case n == len(buf):
			if eof, err := pc.spliceBurst(dst, src, tick); err != nil || eof {
				return err
			}
		}
	}
}

// spliceBurst splices from src to dst until the data stops coming for a
// tick; it reports whether src reached EOF (dst is then half-closed).
func (pc *proxyConn) spliceBurst(dst, src *net.TCPConn, tick time.Duration) (eof bool, err error) {
	defer src.SetReadDeadline(time.Time{})
	for {
		if err := src.SetReadDeadline(time.Now().Add(tick)); err != nil {
			return false, err
		}
		lr := &io.LimitedReader{R: src, N: copyChunk}
		n, err := dst.ReadFrom(lr)
		if n > 0 {
			pc.touch()
		}
		switch {
		case err != nil && errors.Is(err, os.ErrDeadlineExceeded):
			if n == 0 {
				return false, nil // the burst is over: back to plain reads
			}
		case err != nil:
			return false, err
		case lr.N > 0: // ReadFrom stopped before the limit without error: EOF
			dst.CloseWrite()
			return true, nil
		}
	}
}
