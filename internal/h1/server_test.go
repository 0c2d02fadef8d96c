package h1_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portway/portway/internal/h1"
	"github.com/portway/portway/internal/testutil"
)

// startServer serves srv on a loopback listener; the test's cleanup closes
// the listener and shuts srv down.
func startServer(t *testing.T, srv *h1.Server) string {
	t.Helper()
	if srv.IdleTimeout == 0 {
		srv.IdleTimeout = time.Minute
	}
	if srv.ReadHeaderTimeout == 0 {
		srv.ReadHeaderTimeout = time.Minute
	}
	if srv.MaxHeaderBytes == 0 {
		srv.MaxHeaderBytes = 16 << 10
	}
	if srv.BadRequest == nil {
		srv.BadRequest = func(c *h1.ServerConn, he *h1.Error) {
			fmt.Fprintf(c.W, "HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", he.Status, http.StatusText(he.Status))
			_ = c.W.Flush()
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.Serve(ln); err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-served
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return ln.Addr().String()
}

// reply answers c's request with body (and X-Target, the request target);
// it reports whether the connection may go on.
func reply(c *h1.ServerConn, body string) bool {
	fmt.Fprintf(c.W, "HTTP/1.1 200 OK\r\nX-Target: %s\r\nContent-Length: %d\r\n\r\n%s", c.Req.Target, len(body), body)
	return c.W.Flush() == nil && !c.Req.Close
}

// goroutineID is the calling goroutine's number, from its stack header.
func goroutineID() string {
	var b [64]byte
	n := runtime.Stack(b[:], false)
	return strings.Fields(string(b[:n]))[1]
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	return c
}

// get sends a GET for target on c and reads the response.
func get(t *testing.T, c net.Conn, br *bufio.Reader, target string) (*http.Response, string) {
	t.Helper()
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", target); err != nil {
		t.Fatal(err)
	}
	return readHTTPResponse(t, br)
}

func readHTTPResponse(t *testing.T, br *bufio.Reader) (*http.Response, string) {
	t.Helper()
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("reading the response body: %v", err)
	}
	return res, string(body)
}

// waitClosed reads c until the server closes it, failing after limit.
func waitClosed(t *testing.T, c net.Conn, limit time.Duration) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(limit))
	got, err := io.ReadAll(c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection still open after %v (read %q)", limit, got)
	}
	return string(got)
}

// TestServerGoroutineReuse: a goroutine that served one connection serves
// the next (handoff), and each connection sees only its own bytes — also
// after a connection that closed in the middle of a head or of a body, with
// data left in the reused buffers.
func TestServerGoroutineReuse(t *testing.T) {
	var mu sync.Mutex
	servedBy := map[string]int{} // goroutine → connections served
	srv := &h1.Server{Handle: func(c *h1.ServerConn) bool {
		if c.Req.ContentLength > 0 {
			var body strings.Builder
			bw := bufio.NewWriter(&body)
			if _, err := h1.CopyLength(bw, c.R, c.Req.ContentLength); err != nil {
				return false // the client went away mid-body
			}
			bw.Flush()
			return reply(c, "body="+body.String())
		}
		return reply(c, goroutineID())
	}}
	addr := startServer(t, srv)

	// One request per connection until a goroutine serves a second one.
	reused := false
	testutil.WaitFor(t, 20*time.Second, "a serving goroutine reused", func() bool {
		c := dial(t, addr)
		br := bufio.NewReader(c)
		res, gid := get(t, c, br, "/reuse")
		if res.StatusCode != 200 || res.Header.Get("X-Target") != "/reuse" {
			t.Fatalf("response %d %v", res.StatusCode, res.Header)
		}
		c.Close()
		mu.Lock()
		defer mu.Unlock()
		servedBy[gid]++
		reused = servedBy[gid] > 1
		return reused
	})

	// Connections that end mid-request, each followed by one that must be
	// served cleanly. Repeat so that the clean ones land on goroutines (and
	// pooled buffers) the broken ones used.
	broken := []struct {
		name string
		send string
	}{
		{"mid-head", "GET /broken HTTP/1.1\r\nHost: h\r\nX-Half: "},
		{"mid-body", "POST /broken HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\nonly part of it"},
		{"pipelined remainder", "GET /first HTTP/1.1\r\nHost: h\r\n\r\nGET /second HTTP/1.1\r\nHost: h\r\nContent-Le"},
	}
	for round := range 5 {
		for _, b := range broken {
			c := dial(t, addr)
			if _, err := io.WriteString(c, b.send); err != nil {
				t.Fatal(err)
			}
			if b.name == "pipelined remainder" {
				// The complete first request is answered before the close.
				if res, _ := readHTTPResponse(t, bufio.NewReader(c)); res.Header.Get("X-Target") != "/first" {
					t.Fatalf("%s: first response for %q", b.name, res.Header.Get("X-Target"))
				}
			}
			c.Close()

			c2 := dial(t, addr)
			br := bufio.NewReader(c2)
			target := fmt.Sprintf("/clean-%d-%s", round, strings.ReplaceAll(b.name, " ", "-"))
			res, body := get(t, c2, br, target)
			if res.StatusCode != 200 || res.Header.Get("X-Target") != target {
				t.Fatalf("after a connection closed %s: %d for %q, want 200 for %q", b.name, res.StatusCode, res.Header.Get("X-Target"), target)
			}
			// A body on the same connection reads exactly its own bytes.
			fmt.Fprintf(c2, "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello")
			if _, body = readHTTPResponse(t, br); body != "body=hello" {
				t.Fatalf("after a connection closed %s: body %q", b.name, body)
			}
			c2.Close()
		}
	}
}

// TestShutdownClosesIdleConnections: an idle kept-alive connection is
// closed at once, not after its idle timeout, and Shutdown returns nil.
func TestShutdownClosesIdleConnections(t *testing.T) {
	srv := &h1.Server{
		Handle:      func(c *h1.ServerConn) bool { return reply(c, "ok") },
		IdleTimeout: time.Hour,
	}
	addr := startServer(t, srv)
	c := dial(t, addr)
	br := bufio.NewReader(c)
	if res, _ := get(t, c, br, "/"); res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	// Generous for a loaded machine, far below the idle timeout: an error
	// means Shutdown had to abort the connection rather than close it idle.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if out := waitClosed(t, c, 10*time.Second); out != "" {
		t.Fatalf("idle connection got %q", out)
	}
	if !srv.Stopping() {
		t.Fatal("Stopping() = false after Shutdown")
	}
}

// TestShutdownLetsActiveExchangesFinish: Shutdown waits for an exchange in
// flight; its response is complete and says the connection closes after.
func TestShutdownLetsActiveExchangesFinish(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	srv := &h1.Server{Handle: func(c *h1.ServerConn) bool {
		close(entered)
		<-release
		closing := ""
		if c.Stopping() {
			closing = "Connection: close\r\n"
		}
		fmt.Fprintf(c.W, "HTTP/1.1 200 OK\r\n%sContent-Length: 4\r\n\r\ndone", closing)
		return c.W.Flush() == nil
	}}
	addr := startServer(t, srv)
	c := dial(t, addr)
	br := bufio.NewReader(c)
	fmt.Fprintf(c, "GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
	<-entered

	shutdown := make(chan error, 1)
	go func() { shutdown <- srv.Shutdown(context.Background()) }()
	testutil.WaitFor(t, 10*time.Second, "Shutdown to begin", srv.Stopping)
	select {
	case err := <-shutdown:
		t.Fatalf("Shutdown returned (%v) while an exchange was in flight", err)
	default:
	}
	close(release)
	res, body := readHTTPResponse(t, br)
	if res.StatusCode != 200 || body != "done" || !res.Close {
		t.Fatalf("response %d %q close=%v", res.StatusCode, body, res.Close)
	}
	select {
	case err := <-shutdown:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return after the exchange finished")
	}
	if out := waitClosed(t, c, 10*time.Second); out != "" {
		t.Fatalf("after the last response: %q", out)
	}
}

// closeRecorder is an upstream connection as SetUpstream sees it.
type closeRecorder struct {
	closed chan struct{}
	once   sync.Once
}

func (r *closeRecorder) Close() error {
	r.once.Do(func() { close(r.closed) })
	return nil
}

// TestShutdownAbortsAtDeadline: when Shutdown's context ends first, the
// client connection of the exchange in flight and the upstream connection
// it registered are closed, and Shutdown returns the context's error.
func TestShutdownAbortsAtDeadline(t *testing.T) {
	up := &closeRecorder{closed: make(chan struct{})}
	entered := make(chan struct{})
	var handlerDone atomic.Bool
	srv := &h1.Server{Handle: func(c *h1.ServerConn) bool {
		c.SetUpstream(up)
		close(entered)
		<-up.closed // an upstream that answers only when cut
		handlerDone.Store(true)
		return false
	}}
	addr := startServer(t, srv)
	c := dial(t, addr)
	fmt.Fprintf(c, "GET /stuck HTTP/1.1\r\nHost: h\r\n\r\n")
	<-entered

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want context.DeadlineExceeded", err)
	}
	select {
	case <-up.closed:
	default:
		t.Fatal("the upstream of the exchange in flight was not closed")
	}
	if !handlerDone.Load() {
		t.Fatal("Shutdown returned before the exchange ended")
	}
	if out := waitClosed(t, c, 10*time.Second); out != "" {
		t.Fatalf("aborted connection got %q", out)
	}
}

// TestServeAfterShutdown: connections accepted after Shutdown are closed
// unserved.
func TestServeAfterShutdown(t *testing.T) {
	srv := &h1.Server{Handle: func(c *h1.ServerConn) bool { return reply(c, "ok") }}
	addr := startServer(t, srv)
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := dial(t, addr)
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	if out := waitClosed(t, c, 10*time.Second); out != "" {
		t.Fatalf("served after Shutdown: %q", out)
	}
}

// syncBuffer is a log destination that tests read while servers write.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func testLogger(b *syncBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// panicky panics on the targets named so and answers the others.
func panicky(c *h1.ServerConn) bool {
	switch string(c.Req.Target) {
	case "/panic":
		panic("boom in the handler")
	case "/panic-nil":
		var m map[string]*int // a nil map gives a nil *int
		return *m["x"] == 0   // a nil dereference
	case "/panic-after-head":
		c.W.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
		c.W.Flush()
		panic("boom mid-response")
	case "/panic-unflushed":
		c.W.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nnever sent")
		panic("boom before the flush")
	}
	return reply(c, "ok")
}

// TestServerRecoversPanics: a panic in Handle costs the client its request
// only: it gets a 500 when no byte of the response was out yet (else the
// connection closes), the stack is logged once, and the server goes on
// serving, on this goroutine and others.
func TestServerRecoversPanics(t *testing.T) {
	var logs syncBuffer
	srv := &h1.Server{Handle: panicky, Logger: testLogger(&logs)}
	addr := startServer(t, srv)

	for _, target := range []string{"/panic", "/panic-nil", "/panic-unflushed"} {
		c := dial(t, addr)
		br := bufio.NewReader(c)
		// A kept-alive request first: the panic is not the connection's first.
		if res, _ := get(t, c, br, "/fine"); res.StatusCode != 200 {
			t.Fatalf("status %d", res.StatusCode)
		}
		res, body := get(t, c, br, target)
		if res.StatusCode != 500 || !res.Close || strings.Contains(body, "never sent") {
			t.Fatalf("%s: %d close=%v %q, want 500 and the connection closed", target, res.StatusCode, res.Close, body)
		}
		if out := waitClosed(t, c, 10*time.Second); out != "" {
			t.Fatalf("%s: after the 500: %q", target, out)
		}
		// The next connection is served.
		c2 := dial(t, addr)
		if res, _ := get(t, c2, bufio.NewReader(c2), "/after"); res.StatusCode != 200 {
			t.Fatalf("after %s: status %d", target, res.StatusCode)
		}
	}
	// A response already under way: the connection just closes.
	c := dial(t, addr)
	fmt.Fprintf(c, "GET /panic-after-head HTTP/1.1\r\nHost: h\r\n\r\n")
	if out := waitClosed(t, c, 10*time.Second); !strings.HasPrefix(out, "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(out, "partial") {
		t.Fatalf("panic mid-response: %q", out)
	}

	log := logs.String()
	for _, want := range []string{"boom in the handler", "nil pointer dereference", "boom before the flush", "boom mid-response"} {
		if n := strings.Count(log, want); n != 1 {
			t.Errorf("%q logged %d times, want once:\n%s", want, n, log)
		}
	}
	if n := strings.Count(log, "level=ERROR"); n != 4 {
		t.Errorf("%d error lines for 4 panics:\n%s", n, log)
	}
	if !strings.Contains(log, "h1_test.panicky") {
		t.Errorf("no stack naming the panicking function:\n%s", log)
	}
}

// TestServerPanicHook: with a Panic hook the component answers and logs
// itself; the upstream registered by the exchange is closed; a request
// whose body was not read yet still gets the answer (lingering close).
func TestServerPanicHook(t *testing.T) {
	type call struct {
		v       any
		stack   string
		started bool
		id      any
	}
	calls := make(chan call, 4)
	up := &closeRecorder{closed: make(chan struct{})}
	var logs syncBuffer
	srv := &h1.Server{
		Logger: testLogger(&logs),
		Handle: func(c *h1.ServerConn) bool {
			c.Exchange = "req-" + string(c.Req.Target)
			if string(c.Req.Target) == "/upstream" {
				c.SetUpstream(up)
				panic("boom with an upstream")
			}
			return panicky(c)
		},
		Panic: func(c *h1.ServerConn, v any, stack []byte) {
			calls <- call{v, string(stack), c.ResponseStarted(), c.Exchange}
			if !c.ResponseStarted() {
				c.W.WriteString("HTTP/1.1 500 Internal Server Error\r\nX-Hook: yes\r\nContent-Length: 4\r\nConnection: close\r\n\r\nhook")
				c.W.Flush()
			}
		},
	}
	addr := startServer(t, srv)

	// A POST whose 1 MB body the handler never reads: the client writes
	// it all (no Expect), then reads the hook's answer.
	c := dial(t, addr)
	body := strings.Repeat("x", 1<<20)
	fmt.Fprintf(c, "POST /panic HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n", len(body))
	if _, err := io.WriteString(c, body); err != nil {
		t.Fatalf("writing the body: %v", err)
	}
	res, got := readHTTPResponse(t, bufio.NewReader(c))
	if res.StatusCode != 500 || res.Header.Get("X-Hook") != "yes" || got != "hook" {
		t.Fatalf("response %d %v %q", res.StatusCode, res.Header, got)
	}
	cl := <-calls
	if cl.v != "boom in the handler" || cl.started || cl.id != "req-/panic" || !strings.Contains(cl.stack, "h1_test.panicky") {
		t.Fatalf("hook got v=%v started=%v exchange=%v stack:\n%s", cl.v, cl.started, cl.id, cl.stack)
	}

	// The exchange's upstream is cut: its state is unknown after a panic.
	c = dial(t, addr)
	if res, _ := get(t, c, bufio.NewReader(c), "/upstream"); res.StatusCode != 500 {
		t.Fatalf("status %d", res.StatusCode)
	}
	<-calls
	select {
	case <-up.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream of the panicked exchange was not closed")
	}

	c = dial(t, addr)
	fmt.Fprintf(c, "GET /panic-after-head HTTP/1.1\r\nHost: h\r\n\r\n")
	if out := waitClosed(t, c, 10*time.Second); strings.Contains(out, "hook") {
		t.Fatalf("hook answered after the response had started: %q", out)
	}
	if cl := <-calls; cl.v != "boom mid-response" || !cl.started {
		t.Fatalf("hook got v=%v started=%v, want the mid-response panic with ResponseStarted", cl.v, cl.started)
	}
	if strings.Contains(logs.String(), "boom") {
		t.Fatalf("the server logged a panic its hook handles:\n%s", logs.String())
	}
}

// refuseBodies answers every request with a body 413 without reading it,
// then closes lingering, as the gateway and the sidecar do.
func refuseBodies(c *h1.ServerConn) bool {
	if c.Req.ContentLength <= 0 && !c.Req.Chunked {
		return reply(c, "ok")
	}
	c.W.WriteString("HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 9\r\nConnection: close\r\n\r\ntoo large")
	if c.W.Flush() == nil {
		c.LingerClose()
	}
	return false
}

// writeBlindly writes head and then n bytes of body without waiting for
// an answer, as Python's urllib and many simple clients do (no Expect).
func writeBlindly(c net.Conn, head string, n int) error {
	if _, err := io.WriteString(c, head); err != nil {
		return err
	}
	chunk := []byte(strings.Repeat("x", 64<<10))
	for n > 0 {
		k := min(n, len(chunk))
		if _, err := c.Write(chunk[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// TestLingeringCloseLargeBody: a client that writes an 11 MB body after a
// refused head, and reads only once it has written it all, gets the whole
// answer: the server reads and discards the body (nginx's lingering close)
// instead of closing on it, which would reset the connection and lose the
// answer.
func TestLingeringCloseLargeBody(t *testing.T) {
	srv := &h1.Server{Handle: refuseBodies}
	addr := startServer(t, srv)
	const size = 11_000_000
	c := dial(t, addr)
	head := fmt.Sprintf("POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n", size)
	if err := writeBlindly(c, head, size); err != nil {
		t.Fatalf("writing the body: %v (the server stopped reading it)", err)
	}
	res, body := readHTTPResponse(t, bufio.NewReader(c))
	if res.StatusCode != 413 || body != "too large" {
		t.Fatalf("response %d %q", res.StatusCode, body)
	}
	// Chunked, the same.
	c = dial(t, addr)
	errc := make(chan error, 1)
	go func() {
		errc <- writeBlindly(c, "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2000000\r\n", 0x2000000)
	}()
	res, body = readHTTPResponse(t, bufio.NewReader(c))
	if res.StatusCode != 413 || body != "too large" {
		t.Fatalf("chunked: response %d %q", res.StatusCode, body)
	}
	if err := <-errc; err != nil {
		t.Fatalf("chunked: writing the body: %v", err)
	}
}

// TestLingeringTimeouts: lingering ends when the client is silent for
// LingeringTimeout, and after LingeringTime in all however much it sends.
func TestLingeringTimeouts(t *testing.T) {
	srv := &h1.Server{Handle: refuseBodies, LingeringTime: 600 * time.Millisecond, LingeringTimeout: 100 * time.Millisecond}
	addr := startServer(t, srv)
	head := "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000000\r\n\r\nsome"

	t.Run("silent client", func(t *testing.T) {
		c := dial(t, addr)
		io.WriteString(c, head)
		if out := waitClosed(t, c, 10*time.Second); !strings.HasPrefix(out, "HTTP/1.1 413 ") {
			t.Fatalf("got %q", out)
		}
	})
	t.Run("client that keeps sending", func(t *testing.T) {
		c := dial(t, addr)
		start := time.Now()
		io.WriteString(c, head)
		br := bufio.NewReader(c)
		if res, _ := readHTTPResponse(t, br); res.StatusCode != 413 {
			t.Fatalf("status %d", res.StatusCode)
		}
		// Keep sending, more often than LingeringTimeout, until the server
		// gives up: at LingeringTime, not before.
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		var closedAfter time.Duration
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); <-tick.C {
			if _, err := io.WriteString(c, "more"); err != nil {
				closedAfter = time.Since(start)
				break
			}
		}
		if closedAfter == 0 {
			t.Fatal("still lingering after 10 s")
		}
		if closedAfter < 600*time.Millisecond {
			t.Fatalf("lingering ended after %v, before LingeringTime", closedAfter)
		}
	})
}

// TestLingeringLimit: beyond MaxLingering connections lingering at once, a
// refused connection is closed at once, and the log says so.
func TestLingeringLimit(t *testing.T) {
	var logs syncBuffer
	srv := &h1.Server{Handle: refuseBodies, MaxLingering: 1, LingeringTimeout: time.Minute, Logger: testLogger(&logs)}
	addr := startServer(t, srv)
	head := "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\npart"

	first := dial(t, addr)
	io.WriteString(first, head)
	if res, _ := readHTTPResponse(t, bufio.NewReader(first)); res.StatusCode != 413 {
		t.Fatalf("status %d", res.StatusCode)
	}
	testutil.WaitFor(t, 10*time.Second, "one connection lingering", func() bool { return srv.Lingering() == 1 })

	second := dial(t, addr)
	io.WriteString(second, head)
	// Closed at once rather than after its minute of lingering.
	waitClosed(t, second, 10*time.Second)
	if !strings.Contains(logs.String(), "lingering close limit") {
		t.Fatalf("the log does not say the limit was hit:\n%s", logs.String())
	}
	if srv.Lingering() != 1 {
		t.Fatalf("Lingering() = %d, want the first connection still lingering", srv.Lingering())
	}
	// The first is still lingering: it is closed once its client stops.
	first.(*net.TCPConn).CloseWrite()
	waitClosed(t, first, 10*time.Second)
	testutil.WaitFor(t, 10*time.Second, "no connection lingering", func() bool { return srv.Lingering() == 0 })
}

// TestShutdownCutsLingering: a lingering connection (its answer is out)
// does not hold Shutdown up.
func TestShutdownCutsLingering(t *testing.T) {
	srv := &h1.Server{Handle: refuseBodies, LingeringTimeout: time.Minute}
	addr := startServer(t, srv)
	c := dial(t, addr)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\npart")
	if res, _ := readHTTPResponse(t, bufio.NewReader(c)); res.StatusCode != 413 {
		t.Fatalf("status %d", res.StatusCode)
	}
	testutil.WaitFor(t, 10*time.Second, "the connection lingering", func() bool { return srv.Lingering() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v (it waited for the lingering connection)", err)
	}
	waitClosed(t, c, 10*time.Second)
}

// TestServerPanicHookPanics: a Panic hook that panics itself (before it
// answered) leaves the answer to the server's plain 500; both panics are
// logged, and the server goes on.
func TestServerPanicHookPanics(t *testing.T) {
	var logs syncBuffer
	srv := &h1.Server{
		Logger: testLogger(&logs),
		Handle: panicky,
		Panic: func(c *h1.ServerConn, v any, stack []byte) {
			c.W.WriteString("HTTP/1.1 500 half an answer")
			panic("boom in the hook")
		},
	}
	addr := startServer(t, srv)
	c := dial(t, addr)
	res, body := get(t, c, bufio.NewReader(c), "/panic")
	if res.StatusCode != 500 || body != "500 Internal Server Error" {
		t.Fatalf("response %d %q", res.StatusCode, body)
	}
	c2 := dial(t, addr)
	if res, _ := get(t, c2, bufio.NewReader(c2), "/fine"); res.StatusCode != 200 {
		t.Fatalf("after the panics: status %d", res.StatusCode)
	}
	if out := logs.String(); !strings.Contains(out, "panic in the Panic hook") || !strings.Contains(out, "boom in the hook") ||
		!strings.Contains(out, "boom in the handler") {
		t.Fatalf("log:\n%s", out)
	}
}
