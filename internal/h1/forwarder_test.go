package h1

import (
	"bufio"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const okResponse = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

// testHop writes plain heads and records the failures it answers.
type testHop struct{ failed []*ForwardError }

func (h *testHop) WriteRequestHead(w *bufio.Writer, sc *ServerConn) {
	w.Write(sc.Req.Method)
	w.WriteString(" ")
	w.Write(sc.Req.Target)
	w.WriteString(" HTTP/1.1\r\nHost: upstream\r\n")
	WriteRequestFraming(w, &sc.Req)
}

func (h *testHop) WriteResponseHead(w *bufio.Writer, sc *ServerConn, f Framing) {
	w.WriteString("HTTP/1.1 " + strconv.Itoa(sc.Res.Status) + " " + string(sc.Res.Reason) + "\r\n")
	WriteResponseFraming(w, &sc.Res, f)
}

func (h *testHop) Fail(sc *ServerConn, err *ForwardError) int {
	h.failed = append(h.failed, err)
	status := err.Status()
	sc.W.WriteString("HTTP/1.1 " + strconv.Itoa(status) + " Failed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	return status
}

var _ Hop = (*testHop)(nil)

// testUpstream runs serve on every connection it accepts, with the
// connection's number (0, 1, …), and records the requests read by
// readRequest.
type testUpstream struct {
	t    *testing.T
	addr string
	mu   sync.Mutex
	seen []string
}

func newTestUpstream(t *testing.T, serve func(u *testUpstream, n int, c *net.TCPConn, br *bufio.Reader)) *testUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &testUpstream{t: t, addr: ln.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for n := 0; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				serve(u, n, c.(*net.TCPConn), bufio.NewReader(c))
			})
		}
	})
	return u
}

// readRequest reads one request and its Content-Length body.
func (u *testUpstream) readRequest(br *bufio.Reader) bool {
	var h Head
	if err := h.ReadRequest(br, 1<<16); err != nil {
		return false
	}
	if h.ContentLength > 0 {
		if _, err := br.Discard(int(h.ContentLength)); err != nil {
			return false
		}
	}
	u.mu.Lock()
	u.seen = append(u.seen, string(h.Method)+" "+string(h.Target))
	u.mu.Unlock()
	return true
}

func (u *testUpstream) requests() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.seen)
}

// answerAll answers every request on the connection.
func (u *testUpstream) answerAll(c net.Conn, br *bufio.Reader) {
	for u.readRequest(br) {
		if _, err := io.WriteString(c, okResponse); err != nil {
			return
		}
	}
}

// clientPair is a client connection and the proxy's ServerConn for it.
func clientPair(t *testing.T) (net.Conn, *ServerConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	_ = client.SetDeadline(time.Now().Add(10 * time.Second))
	return client, newServerConn(server)
}

// forwardOne sends raw from the client, forwards it and returns the
// outcome and the status line the client got.
func forwardOne(t *testing.T, fw *Forwarder, hop Hop, pool *Pool, client net.Conn, cbr *bufio.Reader, sc *ServerConn, raw string) (Outcome, string) {
	t.Helper()
	if _, err := io.WriteString(client, raw); err != nil {
		t.Fatal(err)
	}
	if err := sc.Req.ReadRequest(sc.R, 1<<16); err != nil {
		t.Fatal(err)
	}
	o := fw.Forward(hop, sc, pool, time.Time{})
	var res Head
	if err := res.ReadResponse(cbr, 1<<16); err != nil {
		t.Fatal(err)
	}
	if res.ContentLength > 0 {
		if _, err := cbr.Discard(int(res.ContentLength)); err != nil {
			t.Fatal(err)
		}
	}
	return o, strconv.Itoa(res.Status)
}

// TestForwardRetryRule: after an answered first request, the second
// request on the same kept-alive upstream connection meets what second
// does; whether it is sent again on a new connection follows mayRetry.
func TestForwardRetryRule(t *testing.T) {
	closeAfterReading := func(u *testUpstream, c *net.TCPConn, br *bufio.Reader) { u.readRequest(br) }
	tests := []struct {
		name, method string
		second       func(u *testUpstream, c *net.TCPConn, br *bufio.Reader)
		reset        bool // the upstream resets the idle connection before the second request
		status       string
		seen         []string
		kind         FailKind
	}{
		{name: "GET after the upstream closed: again", method: "GET", second: closeAfterReading,
			status: "200", seen: []string{"GET /1", "GET /2", "GET /2"}},
		{name: "DELETE after the upstream closed: again", method: "DELETE", second: closeAfterReading,
			status: "200", seen: []string{"GET /1", "DELETE /2", "DELETE /2"}},
		{name: "POST after the upstream closed: not again", method: "POST", second: closeAfterReading,
			status: "502", seen: []string{"GET /1", "POST /2"}, kind: UpstreamFailed},
		{name: "POST not written at all: again", method: "POST", reset: true,
			status: "200", seen: []string{"GET /1", "POST /2"}},
		{name: "GET answered with a malformed head: not again", method: "GET",
			second: func(u *testUpstream, c *net.TCPConn, br *bufio.Reader) {
				u.readRequest(br)
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab")
			},
			status: "502", seen: []string{"GET /1", "GET /2"}, kind: UpstreamFailed},
		{name: "GET timed out: not again", method: "GET",
			second: func(u *testUpstream, c *net.TCPConn, br *bufio.Reader) {
				u.readRequest(br)
				br.ReadByte() // until the proxy gives up and closes
			},
			status: "504", seen: []string{"GET /1", "GET /2"}, kind: UpstreamTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resetNow, wasReset := make(chan struct{}), make(chan struct{})
			u := newTestUpstream(t, func(u *testUpstream, n int, c *net.TCPConn, br *bufio.Reader) {
				if n > 0 {
					u.answerAll(c, br)
					return
				}
				if !u.readRequest(br) {
					return
				}
				io.WriteString(c, okResponse)
				if tt.reset {
					<-resetNow
					c.SetLinger(0) // close sends a reset
					c.Close()
					close(wasReset)
					return
				}
				tt.second(u, c, br)
			})
			pool := &Pool{Addr: u.addr, DialTimeout: time.Second, ProbeAfter: time.Hour}
			t.Cleanup(pool.Close)
			fw := &Forwarder{MaxResponseHead: 1 << 16, UpstreamTimeout: 200 * time.Millisecond}
			hop := &testHop{}
			client, sc := clientPair(t)
			cbr := bufio.NewReader(client)
			if o, status := forwardOne(t, fw, hop, pool, client, cbr, sc, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"); status != "200" || !o.Keep {
				t.Fatalf("first request: %s, %+v", status, o)
			}
			if tt.reset {
				close(resetNow)
				<-wasReset
				c, err := pool.Get(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				for deadline := time.Now().Add(10 * time.Second); peerOpen(c.Conn); {
					if time.Now().After(deadline) {
						t.Fatal("the reset never reached the pooled connection")
					}
					time.Sleep(time.Millisecond)
				}
				pool.Put(c)
			}
			o, status := forwardOne(t, fw, hop, pool, client, cbr, sc, tt.method+" /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
			if status != tt.status {
				t.Fatalf("status %s, want %s (outcome %+v)", status, tt.status, o)
			}
			if got := u.requests(); !slices.Equal(got, tt.seen) {
				t.Fatalf("upstream saw %q, want %q", got, tt.seen)
			}
			if tt.status != "200" {
				if len(hop.failed) != 1 || hop.failed[0].Kind != tt.kind || o.Err != hop.failed[0] || o.Keep {
					t.Fatalf("failures %v, outcome %+v; want one of kind %d", hop.failed, o, tt.kind)
				}
			}
		})
	}
}

// TestForwardEarlyAnswer: an upstream that answers and closes before it
// has read the body gets its answer passed on; the client connection
// closes and the upstream one is not reused.
func TestForwardEarlyAnswer(t *testing.T) {
	u := newTestUpstream(t, func(u *testUpstream, n int, c *net.TCPConn, br *bufio.Reader) {
		var h Head
		if h.ReadRequest(br, 1<<16) == nil {
			io.WriteString(c, "HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		}
	})
	pool := &Pool{Addr: u.addr, DialTimeout: time.Second}
	t.Cleanup(pool.Close)
	fw := &Forwarder{MaxBodyBytes: -1, MaxResponseHead: 1 << 16, UpstreamTimeout: 10 * time.Second, BodyTimeout: 10 * time.Second}
	client, sc := clientPair(t)
	const size = 16 << 20
	go func() {
		io.WriteString(client, "POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: "+strconv.Itoa(size)+"\r\n\r\n")
		io.Copy(client, io.LimitReader(zeros{}, size))
	}()
	if err := sc.Req.ReadRequest(sc.R, 1<<16); err != nil {
		t.Fatal(err)
	}
	o := fw.Forward(&testHop{}, sc, pool, time.Time{})
	if o.Status != 413 || !o.Relayed || o.Err != nil || o.Keep {
		t.Fatalf("outcome %+v, want the upstream's 413, connection closing", o)
	}
	line, err := bufio.NewReader(client).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 413 ") {
		t.Fatalf("client got %q, %v", line, err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
