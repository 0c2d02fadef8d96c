package h1

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Server runs the connection loop of a proxy: one goroutine per client
// connection reads a request head and hands it to Handle, over and over,
// with nginx's timeouts (idle keep-alive, slow head). Handle does the rest
// (body, upstream, response) on the connection's buffers.
type Server struct {
	// Handle serves the request whose head is in c.Req. It reports whether
	// the connection may carry another request.
	Handle func(c *ServerConn) bool
	// BadRequest answers a request whose head could not be read; the
	// connection is then closed (after a lingering read).
	BadRequest func(c *ServerConn, err *Error)
	// MaxHeaderBytes bounds a request head (ErrHeadTooLarge beyond).
	MaxHeaderBytes int
	// IdleTimeout bounds the wait for a request on a kept-alive
	// connection, ReadHeaderTimeout the reading of its head.
	IdleTimeout       time.Duration
	ReadHeaderTimeout time.Duration
	Logger            *slog.Logger // nil discards
	// Panic, when set, handles a panic in Handle (v, with the goroutine's
	// stack): it logs it and, unless c.ResponseStarted(), writes the
	// answer (a 500) to c.W — what the exchange left unflushed there is
	// gone. The exchange's upstream (SetUpstream) is already closed. The
	// connection is closed after it, lingering when the request had a
	// body. When nil, and for a panic outside Handle, the server logs the
	// panic at Error level and answers a plain 500. Either way the process
	// and the server go on.
	Panic func(c *ServerConn, v any, stack []byte)
	// Lingering close (LingerClose), as nginx's lingering_time and
	// lingering_timeout: after refusing a request whose body it did not
	// read, the server reads and discards what the client still sends
	// until it stops (EOF, or LingeringTimeout without data, default 5 s),
	// for LingeringTime at most (default 30 s). At most MaxLingering
	// connections (default 1024) linger at once; beyond, a connection is
	// closed at once (its client may then get a reset instead of the
	// answer) and the log says so, at most every lingerLogEvery.
	LingeringTime    time.Duration
	LingeringTimeout time.Duration
	MaxLingering     int

	lingering   atomic.Int32 // connections in LingerClose
	lingerDrops atomic.Int64 // closed at once since the last log line
	lingerLogAt atomic.Int64 // unix nanoseconds of that line

	mu       sync.Mutex
	conns    map[*ServerConn]struct{}
	stopping atomic.Bool // set under mu; read without it on every request
	connWG   sync.WaitGroup

	// Goroutines that served a connection wait a while for the next one
	// (handoff) rather than exit: a new connection then costs no goroutine
	// start nor stack growth.
	initOnce sync.Once
	handoff  chan *ServerConn
	done     chan struct{} // closed by Shutdown: idle workers exit
}

// workerIdle is how long a goroutine waits for another connection.
const workerIdle = 10 * time.Second

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.handoff = make(chan *ServerConn)
		s.done = make(chan struct{})
	})
}

// Connection states (ServerConn.state).
const (
	stateIdle   int32 = iota // waiting for the next request
	stateActive              // an exchange is in flight
	stateClosed              // closed by Shutdown while idle
	stateLinger              // answered; reading what the client still sends
)

// Lingering close defaults (nginx's) and how often hitting the limit is
// logged.
const (
	DefaultLingeringTime    = 30 * time.Second
	DefaultLingeringTimeout = 5 * time.Second
	DefaultMaxLingering     = 1024
	lingerLogEvery          = 10 * time.Second
)

// bufSize is a client connection's read and write buffer size.
const bufSize = 16 << 10

// ServerConn is one client connection and the buffers its exchanges reuse.
type ServerConn struct {
	Conn     net.Conn
	R        *bufio.Reader
	W        *bufio.Writer
	Req      Head
	Res      Head   // scratch for the upstream's response head
	RemoteIP string // the peer's IP (the PROXY header's, when the listener reads one)
	// Exchange is Handle's own record of the exchange in flight, for its
	// Panic hook (a request id, say); the server clears it after each one.
	Exchange any

	out      countingWriter // under W: counts the bytes that reached Conn
	inHandle bool           // Handle is running (for a panic: whose it is)
	state    atomic.Int32
	srv      *Server

	upMu     sync.Mutex
	upstream io.Closer
}

// Stopping reports whether the connection's server is shutting down: the
// exchange in flight should be its last.
func (sc *ServerConn) Stopping() bool { return sc.srv != nil && sc.srv.Stopping() }

// SetUpstream registers the upstream connection of the exchange in flight,
// so that a Shutdown whose deadline passes can cut it too rather than wait
// for the upstream's timeout, and a panic can close it. Register nil before
// handing the connection back to a pool; the server forgets it when Handle
// returns. (Not with a defer: that would run before a panic is recovered.)
func (sc *ServerConn) SetUpstream(c io.Closer) {
	sc.upMu.Lock()
	sc.upstream = c
	sc.upMu.Unlock()
}

// Upstream is the upstream connection registered with SetUpstream (nil
// when none): for a hop that records which connection carried a request.
func (sc *ServerConn) Upstream() io.Closer {
	sc.upMu.Lock()
	defer sc.upMu.Unlock()
	return sc.upstream
}

// abort closes the connection and the upstream one of its exchange.
func (sc *ServerConn) abort() {
	sc.Conn.Close()
	sc.closeUpstream()
}

func (sc *ServerConn) closeUpstream() {
	sc.upMu.Lock()
	if sc.upstream != nil {
		sc.upstream.Close()
		sc.upstream = nil
	}
	sc.upMu.Unlock()
}

// ResponseStarted reports whether a byte of a response to the exchange in
// flight (a 100 Continue included) has been written to the connection, not
// just buffered in W.
func (sc *ServerConn) ResponseStarted() bool { return sc.out.n > 0 }

// connPool keeps ServerConns, with their buffers and the heads' grown
// slices, from one connection to the next.
var connPool = sync.Pool{New: func() any {
	return &ServerConn{R: bufio.NewReaderSize(nil, bufSize), W: bufio.NewWriterSize(nil, bufSize)}
}}

func newServerConn(c net.Conn) *ServerConn {
	sc := connPool.Get().(*ServerConn)
	sc.Conn = c
	io := fastIO(c)
	sc.R.Reset(io)
	sc.out = countingWriter{w: io}
	sc.W.Reset(&sc.out)
	sc.state.Store(stateIdle)
	return sc
}

// release returns sc to the pool; it must be untracked and closed.
func (sc *ServerConn) release() {
	sc.Conn, sc.RemoteIP, sc.upstream, sc.srv, sc.Exchange = nil, "", nil, nil, nil
	sc.out, sc.inHandle = countingWriter{}, false
	sc.R.Reset(nil)
	sc.W.Reset(nil)
	connPool.Put(sc)
}

func (s *Server) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// Serve accepts connections on ln until it is closed (then it returns nil).
func (s *Server) Serve(ln net.Listener) error {
	s.init()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of file descriptors and the like: wait, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log().Error("accept failed", "err", err, "retryIn", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		sc := newServerConn(c)
		sc.srv = s
		if !s.track(sc) {
			c.Close()
			sc.release()
			continue
		}
		select {
		case s.handoff <- sc:
		default:
			go s.worker(sc)
		}
	}
}

// worker serves sc, then further connections handed off to it, until none
// comes for workerIdle or the server shuts down.
func (s *Server) worker(sc *ServerConn) {
	t := time.NewTimer(workerIdle)
	defer t.Stop()
	for {
		s.serve(sc)
		t.Reset(workerIdle)
		select {
		case sc = <-s.handoff:
		case <-t.C:
			return
		case <-s.done:
			return
		}
	}
}

func (s *Server) track(sc *ServerConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping.Load() {
		return false
	}
	if s.conns == nil {
		s.conns = map[*ServerConn]struct{}{}
	}
	s.conns[sc] = struct{}{}
	s.connWG.Add(1)
	return true
}

func (s *Server) untrack(sc *ServerConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, sc)
}

// Stopping reports whether Shutdown has begun: connections close after
// the exchange in flight.
func (s *Server) Stopping() bool { return s.stopping.Load() }

// Shutdown closes idle connections and waits for the others to finish
// their exchange; when ctx ends first it closes them and returns ctx's
// error. Close the listener first.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.mu.Lock()
	if !s.stopping.Load() {
		close(s.done)
	}
	s.stopping.Store(true)
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.connWG.Wait()
		close(done)
	}()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		s.each(func(sc *ServerConn) {
			// Idle connections and lingering ones (their answer is out)
			// are closed at once.
			if sc.state.CompareAndSwap(stateIdle, stateClosed) || sc.state.Load() == stateLinger {
				sc.Conn.Close()
			}
		})
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			s.each(func(sc *ServerConn) { sc.abort() })
			<-done
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func (s *Server) each(fn func(*ServerConn)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sc := range s.conns {
		fn(sc)
	}
}

// serve runs sc's exchanges one after the other until either side closes,
// a timeout strikes or the server shuts down.
func (s *Server) serve(sc *ServerConn) {
	defer func() {
		if v := recover(); v != nil {
			s.recovered(sc, v)
		}
		sc.Conn.Close()
		s.untrack(sc)
		sc.release()
		s.connWG.Done()
	}()
	sc.RemoteIP = hostOnly(sc.Conn.RemoteAddr()) // reads a PROXY header, if any
	for {
		if sc.R.Buffered() == 0 {
			_ = sc.Conn.SetReadDeadline(time.Now().Add(s.IdleTimeout))
			if _, err := sc.R.Peek(1); err != nil {
				return // closed, idle too long, or closed by Shutdown
			}
		}
		if !sc.state.CompareAndSwap(stateIdle, stateActive) {
			return
		}
		_ = sc.Conn.SetReadDeadline(time.Now().Add(s.ReadHeaderTimeout))
		if err := sc.Req.ReadRequest(sc.R, s.MaxHeaderBytes); err != nil {
			var he *Error
			if errors.As(err, &he) {
				s.BadRequest(sc, he)
				sc.LingerClose()
			} else if !IsCleanClose(err) && !IsTimeout(err) {
				s.log().Debug("reading request failed", "remote", sc.RemoteIP, "err", err)
			}
			return
		}
		sc.out.n, sc.inHandle = 0, true
		keep := s.Handle(sc)
		sc.inHandle, sc.Exchange = false, nil
		sc.SetUpstream(nil)
		if !keep || s.Stopping() {
			return
		}
		sc.state.Store(stateIdle)
	}
}

// panicWriteTimeout bounds writing the answer to a request whose handler
// panicked.
const panicWriteTimeout = 5 * time.Second

// recovered deals with a panic while serving sc: it cuts the exchange's
// upstream, logs the panic once (or has the Panic hook do it) and answers
// 500 when no byte of a response is out yet. The caller closes sc.
func (s *Server) recovered(sc *ServerConn, v any) {
	stack := debug.Stack()
	// A panic while dealing with this one (a broken logger) must not take
	// the process down either; the connection is closed all the same.
	defer func() { _ = recover() }()
	sc.closeUpstream() // its state is unknown: never reused
	started := sc.ResponseStarted()
	sc.W.Reset(&sc.out) // drop what the exchange left unflushed
	_ = sc.Conn.SetWriteDeadline(time.Now().Add(panicWriteTimeout))
	answered := false
	if sc.inHandle && s.Panic != nil {
		answered = s.callPanic(sc, v, stack)
	} else {
		s.log().Error("panic serving a connection", "remote", sc.RemoteIP, "method", string(sc.Req.Method),
			"panic", v, "stack", string(stack))
	}
	if !answered && !sc.ResponseStarted() {
		const body = "500 Internal Server Error"
		sc.W.Reset(&sc.out) // what a failed hook may have left
		sc.W.WriteString("HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain; charset=utf-8\r\n" +
			"Content-Length: " + strconv.Itoa(len(body)) + "\r\nConnection: close\r\n\r\n")
		if string(sc.Req.Method) != http.MethodHead {
			sc.W.WriteString(body)
		}
		_ = sc.W.Flush()
	}
	// A body the client may still be sending: read it away so that the
	// answer is not lost to a reset.
	if !started && sc.ResponseStarted() && (sc.Req.Chunked || sc.Req.ContentLength > 0) {
		sc.LingerClose()
	}
}

// callPanic runs the Panic hook and reports whether it returned; a panic
// in the hook itself is logged (with the first one), not passed on.
func (s *Server) callPanic(sc *ServerConn, v any, stack []byte) (returned bool) {
	defer func() {
		if v2 := recover(); v2 != nil {
			s.log().Error("panic in the Panic hook", "remote", sc.RemoteIP, "panic", v2,
				"first", v, "stack", string(debug.Stack()), "firstStack", string(stack))
		}
	}()
	s.Panic(sc, v, stack)
	return true
}

// LingerClose prepares to close a connection whose request was refused
// before its body was read: it half-closes and reads and discards what the
// client still sends, until the client stops or the server's lingering
// time is up (nginx's lingering close), so that a client that writes its
// whole body before reading gets the answer rather than a reset. Beyond the
// server's MaxLingering it returns at once. The caller closes the
// connection after.
func (sc *ServerConn) LingerClose() {
	s := sc.srv
	if s == nil {
		s = &Server{}
	}
	if !s.lingerStart() {
		return
	}
	defer s.lingering.Add(-1)
	sc.state.CompareAndSwap(stateActive, stateLinger) // Shutdown closes it at once
	if s.Stopping() {
		return
	}
	if tc, ok := sc.Conn.(HalfCloser); ok {
		_ = tc.CloseWrite()
	}
	total, timeout := orDefault(s.LingeringTime, DefaultLingeringTime), orDefault(s.LingeringTimeout, DefaultLingeringTimeout)
	end := time.Now().Add(total)
	for {
		if n := sc.R.Buffered(); n > 0 {
			_, _ = sc.R.Discard(n)
		}
		now := time.Now()
		if !now.Before(end) {
			return
		}
		d := now.Add(timeout)
		if d.After(end) {
			d = end
		}
		_ = sc.Conn.SetReadDeadline(d)
		if _, err := sc.R.Peek(1); err != nil {
			return // the client is done (EOF), silent too long, or gone
		}
	}
}

// lingerStart counts a connection into lingering close, or reports (and
// now and then logs) that the limit is reached.
func (s *Server) lingerStart() bool {
	max := s.MaxLingering
	if max <= 0 {
		max = DefaultMaxLingering
	}
	if s.lingering.Add(1) <= int32(max) {
		return true
	}
	s.lingering.Add(-1)
	drops := s.lingerDrops.Add(1)
	now := time.Now().UnixNano()
	last := s.lingerLogAt.Load()
	if now-last >= int64(lingerLogEvery) && s.lingerLogAt.CompareAndSwap(last, now) {
		s.lingerDrops.Add(-drops)
		s.log().Warn("lingering close limit reached: refused connections closed at once, their clients may get a reset instead of the answer",
			"maxLingering", max, "closedAtOnce", drops, "every", lingerLogEvery.String())
	}
	return false
}

// Lingering is the number of connections in lingering close now.
func (s *Server) Lingering() int { return int(s.lingering.Load()) }

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// IsTimeout reports whether err is a deadline that struck.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// hostOnly is the host part of a peer address ($remote_addr).
func hostOnly(a net.Addr) string {
	if a == nil {
		return ""
	}
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap().String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}
