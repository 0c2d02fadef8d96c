package sidecar

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testTimeout bounds every socket operation of these tests.
const testTimeout = 10 * time.Second

// rawConn is a client connection to the sidecar speaking raw bytes.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, s *Sidecar) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.Addr(), testTimeout)
	if err != nil {
		t.Fatalf("dial sidecar: %v", err)
	}
	_ = c.SetDeadline(time.Now().Add(testTimeout))
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

func (rc *rawConn) send(s string) {
	rc.t.Helper()
	if _, err := io.WriteString(rc.c, s); err != nil {
		rc.t.Fatalf("write: %v", err)
	}
}

// read reads one response to a request with method, and its body.
func (rc *rawConn) read(method string) (*http.Response, string) {
	rc.t.Helper()
	resp, err := http.ReadResponse(rc.br, &http.Request{Method: method})
	if err != nil {
		rc.t.Fatalf("read response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		rc.t.Fatalf("read response body: %v", err)
	}
	return resp, string(body)
}

// expectClosed fails unless the sidecar closes the connection with nothing
// more to read.
func (rc *rawConn) expectClosed() {
	rc.t.Helper()
	_ = rc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var buf [512]byte
	n, err := rc.br.Read(buf[:])
	if n > 0 {
		rc.t.Fatalf("more bytes after the response, want the connection closed: %q", buf[:n])
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		rc.t.Fatal("connection still open, want it closed by the sidecar")
	}
	if err == nil {
		rc.t.Fatal("read returned nothing and no error")
	}
	_ = rc.c.SetDeadline(time.Now().Add(testTimeout))
}

// paths lists the paths the upstream saw, in order.
func (u *upstream) paths() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	var ps []string
	for _, r := range u.reqs {
		ps = append(ps, r.path)
	}
	return ps
}

// echoPath answers with the request's path and body.
func echoPath(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, r.URL.Path)
}

// rawUpstream is an app that answers with exactly the bytes respond gives,
// closing the connection afterwards when respond says so.
type rawUpstream struct {
	url   string
	conns atomic.Int32
	mu    sync.Mutex
	reqs  []*http.Request
	open  []net.Conn
}

func newRawUpstream(t *testing.T, respond func(r *http.Request) (raw string, closeAfter bool)) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{url: "http://" + ln.Addr().String()}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.conns.Add(1)
			u.mu.Lock()
			u.open = append(u.open, c)
			u.mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(testTimeout))
				br := bufio.NewReader(c)
				for {
					r, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					if _, err := io.Copy(io.Discard, r.Body); err != nil {
						return
					}
					u.mu.Lock()
					u.reqs = append(u.reqs, r)
					u.mu.Unlock()
					raw, closeAfter := respond(r)
					if _, err := io.WriteString(c, raw); err != nil || closeAfter {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		u.mu.Lock()
		for _, c := range u.open {
			c.Close()
		}
		u.mu.Unlock()
		wg.Wait()
	})
	return u
}

func (u *rawUpstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.reqs)
}

func (u *rawUpstream) last(t *testing.T) *http.Request {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) == 0 {
		t.Fatal("upstream saw no request")
	}
	return u.reqs[len(u.reqs)-1]
}

// TestStrictSmugglingRefused: ambiguous or malformed request heads get a
// 400 and a closed connection, and neither they nor what follows them on
// the connection reach the app.
func TestStrictSmugglingRefused(t *testing.T) {
	up := newUpstream(t, echoPath)
	s := startSidecar(t, Config{Upstream: up.URL})
	const smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
	const post = "POST /front HTTP/1.1\r\nHost: x\r\n"
	tests := []struct{ name, raw string }{
		{"CL and TE", post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{"TE and CL", post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"},
		{"TE and CL 0", post + "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n0\r\n\r\n"},
		{"duplicate CL, same value", post + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello"},
		{"duplicate CL, different values", post + "Content-Length: 5\r\nContent-Length: 0\r\n\r\nhello"},
		{"obs-fold", post + "X-A: 1\r\n Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello"},
		{"obs-fold HTAB", "GET /front HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\tmore\r\n\r\n"},
		{"space before colon", post + "Transfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\nhello"},
		{"space before colon, Host", "GET /front HTTP/1.1\r\nHost : x\r\n\r\n"},
		{"CL with sign", post + "Content-Length: +5\r\n\r\nhello"},
		{"CL hex", post + "Content-Length: 0x5\r\n\r\nhello"},
		{"TE in HTTP/1.0", "POST /front HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{"duplicate TE", post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{"bare CR in a value", post + "X-A: a\rContent-Length: 5\r\n\r\nhello"},
		{"NUL in a value", "GET /front HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n"},
		{"missing Host", "GET /front HTTP/1.1\r\n\r\n"},
		{"two Hosts", "GET /front HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
		{"Host with userinfo", "GET /front HTTP/1.1\r\nHost: a@b\r\n\r\n"},
		{"Host with invalid port", "GET /front HTTP/1.1\r\nHost: a:8x\r\n\r\n"},
		{"absolute form with userinfo", "GET http://evil.example:80@x/front HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"absolute form with invalid port", "GET http://x:99999/front HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"relative target", "GET front HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"double space in request line", "GET  /front HTTP/1.1\r\nHost: x\r\n\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := up.count()
			rc := dialRaw(t, s)
			rc.send(tc.raw + smuggled)
			resp, body := rc.read(http.MethodPost)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400 (body %q)", resp.StatusCode, body)
			}
			if !resp.Close {
				t.Error("error response without Connection: close")
			}
			if !strings.Contains(body, "400 Bad Request") {
				t.Errorf("body = %q", body)
			}
			assertCORS(t, resp.Header)
			rc.expectClosed()
			if n := up.count(); n != before {
				t.Errorf("upstream saw %d requests (%q), want none", n-before, up.paths()[before:])
			}
		})
	}
}

// TestStrictMalformedChunkedBody: a request body with a malformed chunk is
// refused with 400, the connection is closed, and nothing after it on the
// connection is taken for a request.
func TestStrictMalformedChunkedBody(t *testing.T) {
	up := newUpstream(t, echoPath)
	s := startSidecar(t, Config{Upstream: up.URL})
	const head = "POST /chunky HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	const smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
	tests := []struct{ name, body string }{
		{"non-hex size", "zz\r\nhello\r\n0\r\n\r\n"},
		{"16 hex digits", "0000000000000005\r\nhello\r\n0\r\n\r\n"},
		{"data longer than size", "3\r\nhello\r\n0\r\n\r\n"},
		{"missing CRLF after data", "5\r\nhello0\r\n\r\n"},
		{"size line too long", "5;" + strings.Repeat("x", 8000) + "\r\nhello\r\n0\r\n\r\n"},
		{"malformed trailer", "5\r\nhello\r\n0\r\nno colon\r\n\r\n"},
		{"negative size", "-5\r\nhello\r\n0\r\n\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, s)
			rc.send(head + tc.body + smuggled)
			resp, body := rc.read(http.MethodPost)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400 (body %q)", resp.StatusCode, body)
			}
			assertCORS(t, resp.Header)
			rc.expectClosed()
			if slices.Contains(up.paths(), "/smuggled") {
				t.Error("the request after a malformed body reached the upstream")
			}
		})
	}
}

// TestStrictStatuses: heads that are well-formed but unsupported get the
// matching status and a closed connection, without reaching the app.
func TestStrictStatuses(t *testing.T) {
	up := newUpstream(t, echoPath)
	s := startSidecar(t, Config{Upstream: up.URL, MaxHeaderBytes: 4096})
	tests := []struct {
		name   string
		raw    string
		status int
		title  string
	}{
		{"unknown transfer coding", "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501, "501 Not Implemented"},
		{"identity transfer coding", "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n", 501, "501 Not Implemented"},
		{"HTTP/2.0 request line", "GET /x HTTP/2.0\r\nHost: x\r\n\r\n", 505, "505 HTTP Version Not Supported"},
		{"HTTP/1.2 request line", "GET /x HTTP/1.2\r\nHost: x\r\n\r\n", 505, "505 HTTP Version Not Supported"},
		{"unknown expectation", "POST /x HTTP/1.1\r\nHost: x\r\nExpect: nope\r\nContent-Length: 2\r\n\r\nhi", 417, "417 Expectation Failed"},
		{"head over MaxHeaderBytes", "GET /x HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 5000) + "\r\n\r\n", 431, "431 Request Header Fields Too Large"},
		{"many fields over MaxHeaderBytes", "GET /x HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-Many: 0123456789012345678901234567890123456789\r\n", 100) + "\r\n", 431, "431 Request Header Fields Too Large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := up.count()
			rc := dialRaw(t, s)
			rc.send(tc.raw)
			resp, body := rc.read(http.MethodGet)
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d (body %q)", resp.StatusCode, tc.status, body)
			}
			if !strings.Contains(body, tc.title) {
				t.Errorf("body = %q, want it to name %q", body, tc.title)
			}
			assertCORS(t, resp.Header)
			rc.expectClosed()
			if up.count() != before {
				t.Error("refused request reached the upstream")
			}
		})
	}
	t.Run("head within MaxHeaderBytes", func(t *testing.T) {
		rc := dialRaw(t, s)
		rc.send("GET /fits HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 3500) + "\r\n\r\n")
		resp, body := rc.read(http.MethodGet)
		if resp.StatusCode != http.StatusOK || body != "/fits" {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
		if got := up.last(t).header.Get("X-Big"); len(got) != 3500 {
			t.Errorf("upstream X-Big has %d bytes", len(got))
		}
	})
}

func TestStrictChunkedRequestForwarded(t *testing.T) {
	var mu sync.Mutex
	var te []string
	var cl int64
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		te, cl = r.TransferEncoding, r.ContentLength
		mu.Unlock()
		_, _ = io.WriteString(w, "got it")
	})
	s := startSidecar(t, Config{Upstream: up.URL})
	rc := dialRaw(t, s)
	rc.send("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n" +
		"5;ext=1\r\nhello\r\n6\r\n world\r\n000A\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n")
	resp, body := rc.read(http.MethodPost)
	if resp.StatusCode != http.StatusOK || body != "got it" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	r := up.last(t)
	if string(r.body) != "hello world0123456789" {
		t.Errorf("upstream body = %q", r.body)
	}
	mu.Lock()
	gotTE, gotCL := te, cl
	mu.Unlock()
	if !slices.Equal(gotTE, []string{"chunked"}) || gotCL != -1 {
		t.Errorf("upstream framing: Transfer-Encoding %q, ContentLength %d, want chunked", gotTE, gotCL)
	}
	if r.header.Get("Content-Type") != "text/plain" {
		t.Errorf("Content-Type = %q", r.header.Get("Content-Type"))
	}

	// The connection goes on after a chunked body.
	rc.send("GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, _ := rc.read(http.MethodGet); resp.StatusCode != http.StatusOK || up.last(t).path != "/after" {
		t.Fatalf("request after a chunked body: %d, upstream path %q", resp.StatusCode, up.last(t).path)
	}
}

func TestStrictExpectContinue(t *testing.T) {
	up := newUpstream(t, echoPath)
	s := startSidecar(t, Config{Upstream: up.URL})
	for _, tc := range []struct{ name, framing, body, want string }{
		{"content-length", "Content-Length: 11\r\n", "hello world", "hello world"},
		{"chunked", "Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n", "hello"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := up.count()
			rc := dialRaw(t, s)
			rc.send("POST /expect HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n" + tc.framing + "\r\n")
			resp, _ := rc.read(http.MethodPost)
			if resp.StatusCode != http.StatusContinue {
				t.Fatalf("first response = %d, want 100 Continue", resp.StatusCode)
			}
			if up.count() != before {
				t.Fatal("upstream answered before the body was sent")
			}
			rc.send(tc.body)
			resp, body := rc.read(http.MethodPost)
			if resp.StatusCode != http.StatusOK || body != "/expect" {
				t.Fatalf("final response = %d %q", resp.StatusCode, body)
			}
			r := up.last(t)
			if string(r.body) != tc.want {
				t.Errorf("upstream body = %q, want %q", r.body, tc.want)
			}
			if v := r.header.Get("Expect"); v != "" {
				t.Errorf("Expect forwarded to the upstream: %q", v)
			}
		})
	}
}

func TestStrictPipelining(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.URL.Path)
	})
	s := startSidecar(t, Config{Upstream: up.URL})
	rc := dialRaw(t, s)
	rc.send("GET /one HTTP/1.1\r\nHost: x\r\n\r\n" +
		"GET /two HTTP/1.1\r\nHost: x\r\n\r\n" +
		"POST /three HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody" +
		"POST /four HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n" +
		"GET /five HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, want := range []string{"/one", "/two", "/three", "/four", "/five"} {
		resp, body := rc.read(http.MethodGet)
		if resp.StatusCode != http.StatusOK || body != want {
			t.Fatalf("response = %d %q, want 200 %q", resp.StatusCode, body, want)
		}
		if resp.Close {
			t.Fatalf("%s: connection closing in the middle of a pipeline", want)
		}
	}
	if got := up.paths(); !slices.Equal(got, []string{"/one", "/two", "/three", "/four", "/five"}) {
		t.Errorf("upstream saw %q", got)
	}
	up.mu.Lock()
	b3, b4 := string(up.reqs[2].body), string(up.reqs[3].body)
	up.mu.Unlock()
	if b3 != "body" || b4 != "hi" {
		t.Errorf("pipelined bodies = %q, %q", b3, b4)
	}
}

func TestStrictHTTP10(t *testing.T) {
	up := newUpstream(t, echoPath)
	s := startSidecar(t, Config{Upstream: up.URL})
	t.Run("closes without keep-alive", func(t *testing.T) {
		rc := dialRaw(t, s)
		rc.send("GET /ten HTTP/1.0\r\nHost: x\r\n\r\n")
		resp, body := rc.read(http.MethodGet)
		if resp.StatusCode != http.StatusOK || body != "/ten" {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
		if !resp.Close {
			t.Error("response to HTTP/1.0 without keep-alive lacks Connection: close")
		}
		rc.expectClosed()
	})
	t.Run("keep-alive", func(t *testing.T) {
		rc := dialRaw(t, s)
		for _, p := range []string{"/ka1", "/ka2"} {
			rc.send("GET " + p + " HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
			resp, body := rc.read(http.MethodGet)
			if resp.StatusCode != http.StatusOK || body != p {
				t.Fatalf("got %d %q, want %q", resp.StatusCode, body, p)
			}
		}
	})
	t.Run("body by length", func(t *testing.T) {
		rc := dialRaw(t, s)
		rc.send("POST /post10 HTTP/1.0\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
		resp, _ := rc.read(http.MethodPost)
		if resp.StatusCode != http.StatusOK || string(up.last(t).body) != "abc" {
			t.Fatalf("got %d, upstream body %q", resp.StatusCode, up.last(t).body)
		}
		rc.expectClosed()
	})
}

// TestStrictHTTP10WithoutHost: Host is optional in HTTP/1.0, but the
// sidecar forwards every request as HTTP/1.1, which needs one.
func TestStrictHTTP10WithoutHost(t *testing.T) {
	up := newUpstream(t, echoPath)
	s := startSidecar(t, Config{Upstream: up.URL})
	rc := dialRaw(t, s)
	rc.send("GET /nohost HTTP/1.0\r\n\r\n")
	resp, body := rc.read(http.MethodGet)
	if resp.StatusCode != http.StatusOK || body != "/nohost" {
		t.Fatalf("got %d %q, want 200 from the upstream", resp.StatusCode, body)
	}
}

// TestStrictResponseFraming: a response the app sends without a length
// reaches HTTP/1.1 clients chunked and HTTP/1.0 clients delimited by the
// connection's end.
func TestStrictResponseFraming(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "part1-")
		w.(http.Flusher).Flush() // no length: net/http sends it chunked
		_, _ = io.WriteString(w, strings.Repeat("x", 20000))
		_, _ = io.WriteString(w, "-end")
	})
	want := "part1-" + strings.Repeat("x", 20000) + "-end"
	s := startSidecar(t, Config{Upstream: up.URL})

	t.Run("HTTP/1.1 client gets chunked", func(t *testing.T) {
		rc := dialRaw(t, s)
		for range 2 {
			rc.send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, body := rc.read(http.MethodGet)
			if resp.StatusCode != http.StatusOK || body != want {
				t.Fatalf("got %d, %d bytes", resp.StatusCode, len(body))
			}
			if !slices.Equal(resp.TransferEncoding, []string{"chunked"}) || resp.ContentLength != -1 {
				t.Errorf("framing: Transfer-Encoding %q, ContentLength %d, want chunked", resp.TransferEncoding, resp.ContentLength)
			}
			if resp.Close {
				t.Error("connection closing after a chunked response")
			}
		}
	})
	t.Run("HTTP/1.0 client gets close-delimited", func(t *testing.T) {
		rc := dialRaw(t, s)
		rc.send("GET /stream HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
		resp, body := rc.read(http.MethodGet)
		if resp.StatusCode != http.StatusOK || body != want {
			t.Fatalf("got %d, %d bytes", resp.StatusCode, len(body))
		}
		if resp.TransferEncoding != nil || resp.ContentLength != -1 || !resp.Close {
			t.Errorf("framing: Transfer-Encoding %q, ContentLength %d, Close %v, want neither and Connection: close", resp.TransferEncoding, resp.ContentLength, resp.Close)
		}
		rc.expectClosed()
	})
}

// TestStrictCloseDelimitedUpstream: an app response framed by the app
// closing the connection is re-framed for the client.
func TestStrictCloseDelimitedUpstream(t *testing.T) {
	up := newRawUpstream(t, func(r *http.Request) (string, bool) {
		return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end " + r.URL.Path, true
	})
	s := startSidecar(t, Config{Upstream: up.url})
	t.Run("HTTP/1.1", func(t *testing.T) {
		rc := dialRaw(t, s)
		for _, p := range []string{"/a", "/b"} {
			rc.send("GET " + p + " HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, body := rc.read(http.MethodGet)
			if resp.StatusCode != http.StatusOK || body != "until the end "+p {
				t.Fatalf("got %d %q", resp.StatusCode, body)
			}
			if !slices.Equal(resp.TransferEncoding, []string{"chunked"}) || resp.Close {
				t.Errorf("framing: Transfer-Encoding %q, Close %v", resp.TransferEncoding, resp.Close)
			}
		}
	})
	t.Run("HTTP/1.0", func(t *testing.T) {
		rc := dialRaw(t, s)
		rc.send("GET /c HTTP/1.0\r\nHost: x\r\n\r\n")
		resp, body := rc.read(http.MethodGet)
		if resp.StatusCode != http.StatusOK || body != "until the end /c" || resp.TransferEncoding != nil {
			t.Fatalf("got %d %q %q", resp.StatusCode, body, resp.TransferEncoding)
		}
		rc.expectClosed()
	})
}

func TestStrictHead(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "11")
		w.Header().Set("Content-Type", "text/plain")
		if r.Method != http.MethodHead {
			_, _ = io.WriteString(w, "hello world")
		}
	})
	s := startSidecar(t, Config{Upstream: up.URL})
	rc := dialRaw(t, s)
	rc.send("HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nGET /g HTTP/1.1\r\nHost: x\r\n\r\nHEAD /h2 HTTP/1.1\r\nHost: x\r\n\r\n")

	resp, body := rc.read(http.MethodHead)
	if resp.StatusCode != http.StatusOK || resp.ContentLength != 11 || body != "" {
		t.Fatalf("HEAD: %d, ContentLength %d, body %q", resp.StatusCode, resp.ContentLength, body)
	}
	assertCORS(t, resp.Header)
	resp, body = rc.read(http.MethodGet)
	if resp.StatusCode != http.StatusOK || body != "hello world" {
		t.Fatalf("GET after HEAD: %d %q", resp.StatusCode, body)
	}
	resp, body = rc.read(http.MethodHead)
	if resp.StatusCode != http.StatusOK || resp.ContentLength != 11 || body != "" {
		t.Fatalf("second HEAD: %d, ContentLength %d, body %q", resp.StatusCode, resp.ContentLength, body)
	}
	// Nothing stray follows: the next request's response is the next thing.
	rc.send("GET /last HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, body := rc.read(http.MethodGet); resp.StatusCode != http.StatusOK || body != "hello world" {
		t.Fatalf("last GET: %d %q", resp.StatusCode, body)
	}
	if got := up.paths(); !slices.Equal(got, []string{"/h", "/g", "/h2", "/last"}) {
		t.Errorf("upstream saw %q", got)
	}
}

func TestStrictHopByHopRequest(t *testing.T) {
	up := newUpstream(t, echoPath)
	s := startSidecar(t, Config{Upstream: up.URL})
	for _, tc := range []struct{ name, connection string }{
		{"lower-case token", "x-secret, keep-alive"},
		{"mixed-case token", "X-Secret"},
		{"upper-case token, two fields", "X-OTHER\r\nConnection: X-SECRET"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, s)
			rc.send("GET /hop HTTP/1.1\r\nHost: x\r\nConnection: " + tc.connection + "\r\nX-Secret: 1\r\nX-Other: 2\r\nKeep-Alive: 1\r\n" +
				"Proxy-Connection: keep-alive\r\nTE: trailers\r\nUpgrade: websocket\r\nTrailer: X-T\r\nX-Kept: yes\r\n\r\n")
			resp, _ := rc.read(http.MethodGet)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			h := up.last(t).header
			for _, k := range []string{"X-Secret", "Keep-Alive", "Connection", "Proxy-Connection", "Te", "Upgrade", "Trailer"} {
				if v, ok := h[k]; ok {
					t.Errorf("hop-by-hop %s forwarded: %q", k, v)
				}
			}
			if h.Get("X-Kept") != "yes" {
				t.Error("end-to-end X-Kept lost")
			}
			if strings.Contains(tc.connection, "X-OTHER") {
				if v, ok := h["X-Other"]; ok {
					t.Errorf("X-Other listed in Connection forwarded: %q", v)
				}
			} else if h.Get("X-Other") != "2" {
				t.Error("X-Other (not listed) lost")
			}
		})
	}
}

func TestStrictHopByHopResponse(t *testing.T) {
	up := newRawUpstream(t, func(r *http.Request) (string, bool) {
		return "HTTP/1.1 200 OK\r\nConnection: X-Hop, keep-alive\r\nconnection: x-lower\r\nX-Hop: secret\r\nx-lower: secret\r\nKeep-Alive: timeout=5\r\n" +
			"Upgrade: h2c\r\nProxy-Connection: keep-alive\r\nX-Kept: yes\r\nAccess-Control-Allow-Origin: https://evil.example\r\nContent-Length: 2\r\n\r\nok", false
	})
	s := startSidecar(t, Config{Upstream: up.url})
	rc := dialRaw(t, s)
	rc.send("GET /r HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body := rc.read(http.MethodGet)
	if resp.StatusCode != http.StatusOK || body != "ok" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	for _, k := range []string{"X-Hop", "X-Lower", "Keep-Alive", "Connection", "Upgrade", "Proxy-Connection"} {
		if v, ok := resp.Header[k]; ok {
			t.Errorf("hop-by-hop %s passed to the client: %q", k, v)
		}
	}
	if resp.Header.Get("X-Kept") != "yes" {
		t.Error("X-Kept lost")
	}
	assertCORS(t, resp.Header)
	// The upstream connection was kept alive and is reused.
	rc.send("GET /r2 HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, body := rc.read(http.MethodGet); resp.StatusCode != http.StatusOK || body != "ok" {
		t.Fatalf("second request: %d %q", resp.StatusCode, body)
	}
	if n := up.conns.Load(); n != 1 {
		t.Errorf("upstream connections = %d, want 1", n)
	}
}

func TestStrictForwardedHeaders(t *testing.T) {
	up := newUpstream(t, echoPath)
	s := startSidecar(t, Config{Upstream: up.URL})
	rc := dialRaw(t, s)
	rc.send("GET /fwd HTTP/1.1\r\nHost: x\r\nX-Real-IP: 6.6.6.6\r\nx-real-ip: 7.7.7.7\r\nX-Forwarded-For: a\r\nx-forwarded-for: b\r\n\r\n")
	if resp, _ := rc.read(http.MethodGet); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	h := up.last(t).header
	if got := h.Values("X-Real-Ip"); !slices.Equal(got, []string{"127.0.0.1"}) {
		t.Errorf("X-Real-IP = %q, want [127.0.0.1]", got)
	}
	if got := h.Values("X-Forwarded-For"); !slices.Equal(got, []string{"a, b, 127.0.0.1"}) {
		t.Errorf("X-Forwarded-For = %q, want [\"a, b, 127.0.0.1\"]", got)
	}

	// Without any: just the client.
	rc.send("GET /fwd2 HTTP/1.1\r\nHost: x\r\n\r\n")
	rc.read(http.MethodGet)
	h = up.last(t).header
	if got := h.Values("X-Forwarded-For"); !slices.Equal(got, []string{"127.0.0.1"}) {
		t.Errorf("X-Forwarded-For = %q, want [127.0.0.1]", got)
	}
	if got := h.Values("X-Real-Ip"); !slices.Equal(got, []string{"127.0.0.1"}) {
		t.Errorf("X-Real-IP = %q, want [127.0.0.1]", got)
	}
}

func TestStrictAbsoluteForm(t *testing.T) {
	up := newUpstream(t, echoPath)
	s := startSidecar(t, Config{Upstream: up.URL})
	tests := []struct {
		target, host, path, query string
	}{
		{"http://example.test/ingests?x=1", "example.test", "/ingests", "x=1"},
		{"HTTP://Example.Test:8080/a/b", "Example.Test:8080", "/a/b", ""},
		{"http://example.test?y=2", "example.test", "/", "y=2"},
		{"http://example.test", "example.test", "/", ""},
	}
	for _, tc := range tests {
		t.Run(tc.target, func(t *testing.T) {
			rc := dialRaw(t, s)
			rc.send("GET " + tc.target + " HTTP/1.1\r\nHost: other.test\r\n\r\n")
			resp, _ := rc.read(http.MethodGet)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			r := up.last(t)
			if r.host != tc.host || r.path != tc.path || r.query != tc.query {
				t.Errorf("upstream saw host %q path %q query %q, want %q %q %q", r.host, r.path, r.query, tc.host, tc.path, tc.query)
			}
			if v := r.header.Values("Host"); len(v) != 0 {
				t.Errorf("extra Host fields %q", v)
			}
		})
	}
}

// TestStrictUpstreamClosesKeptAlive: when the app closes a kept-alive
// connection, the next request goes out on a fresh one.
func TestStrictUpstreamClosesKeptAlive(t *testing.T) {
	t.Run("Connection: close on the first response", func(t *testing.T) {
		var n atomic.Int32
		up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				w.Header().Set("Connection", "close")
			}
			_, _ = io.WriteString(w, r.URL.Path)
		})
		s := startSidecar(t, Config{Upstream: up.URL})
		rc := dialRaw(t, s)
		for _, p := range []string{"/first", "/second", "/third"} {
			rc.send("GET " + p + " HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, body := rc.read(http.MethodGet)
			if resp.StatusCode != http.StatusOK || body != p {
				t.Fatalf("%s: got %d %q", p, resp.StatusCode, body)
			}
			if resp.Close {
				t.Fatalf("%s: the app closing its connection closed the client's", p)
			}
		}
		if c := up.conns.Load(); c != 2 {
			t.Errorf("upstream connections = %d, want 2", c)
		}
	})
	t.Run("app drops idle connections", func(t *testing.T) {
		up := newUpstream(t, echoPath)
		s := startSidecar(t, Config{Upstream: up.URL})
		rc := dialRaw(t, s)
		for i, p := range []string{"/first", "/second", "/third"} {
			if i > 0 {
				up.CloseClientConnections()
			}
			rc.send("GET " + p + " HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, body := rc.read(http.MethodGet)
			if resp.StatusCode != http.StatusOK || body != p {
				t.Fatalf("%s: got %d %q, want a retry on a fresh connection", p, resp.StatusCode, body)
			}
		}
		if c := up.conns.Load(); c != 3 {
			t.Errorf("upstream connections = %d, want 3", c)
		}
	})
	t.Run("app closes silently after each response", func(t *testing.T) {
		up := newRawUpstream(t, func(r *http.Request) (string, bool) {
			return "HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(r.URL.Path)) + "\r\n\r\n" + r.URL.Path, true
		})
		s := startSidecar(t, Config{Upstream: up.url})
		rc := dialRaw(t, s)
		for _, p := range []string{"/first", "/second", "/third", "/fourth"} {
			rc.send("GET " + p + " HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, body := rc.read(http.MethodGet)
			if resp.StatusCode != http.StatusOK || body != p {
				t.Fatalf("%s: got %d %q", p, resp.StatusCode, body)
			}
		}
		if c := up.count(); c != 4 {
			t.Errorf("upstream answered %d requests, want 4", c)
		}
	})
}

// TestStrictStopClosesIdle: Stop returns promptly with an idle kept-alive
// client connection open, and closes it.
func TestStrictStopClosesIdle(t *testing.T) {
	up := newUpstream(t, echoPath)
	s := startSidecar(t, Config{Upstream: up.URL})
	rc := dialRaw(t, s)
	rc.send("GET /before HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, body := rc.read(http.MethodGet); resp.StatusCode != http.StatusOK || body != "/before" || resp.Close {
		t.Fatalf("got %d %q close %v", resp.StatusCode, body, resp.Close)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Stop took %v with only an idle connection", d)
	}
	rc.expectClosed()
	if _, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		t.Error("still accepting after Stop")
	}
}

// TestStrictStopFinishesInFlight: Stop lets a request in flight finish,
// answering it with Connection: close.
func TestStrictStopFinishesInFlight(t *testing.T) {
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		_, _ = io.WriteString(w, "finished")
	})
	s := startSidecar(t, Config{Upstream: up.URL})
	rc := dialRaw(t, s)
	rc.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	select {
	case <-arrived:
	case <-time.After(testTimeout):
		t.Fatal("request never reached the upstream")
	}
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stopped <- s.Stop(ctx)
	}()
	for deadline := time.Now().Add(testTimeout); !s.srv.Stopping(); {
		if time.Now().After(deadline) {
			t.Fatal("Stop never began")
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) with a request in flight", err)
	default:
	}
	close(release)
	resp, body := rc.read(http.MethodGet)
	if resp.StatusCode != http.StatusOK || body != "finished" {
		t.Fatalf("in-flight request: %d %q", resp.StatusCode, body)
	}
	if !resp.Close {
		t.Error("response during shutdown lacks Connection: close")
	}
	rc.expectClosed()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("Stop: %v", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Stop did not return after the request finished")
	}
}

// TestStrictStopDeadline: when ctx ends with an exchange still waiting on
// the app, Stop closes what is left and returns, rather than waiting out
// the upstream timeout.
func TestStrictStopDeadline(t *testing.T) {
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) }) // before the upstream's Close, which waits for the handler
	s := startSidecar(t, Config{Upstream: up.URL, UpstreamTimeout: 30 * time.Second})
	rc := dialRaw(t, s)
	rc.send("GET /stuck HTTP/1.1\r\nHost: x\r\n\r\n")
	select {
	case <-arrived:
	case <-time.After(testTimeout):
		t.Fatal("request never reached the upstream")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Stop(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop = %v, want the context's deadline error", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Stop took %v with a 200ms context", d)
	}
	rc.expectClosed()
}

// TestStrictHTTP10DuplicateHost: two Host fields are ambiguous whatever
// the version (nginx: "client sent duplicate host header"); since the
// sidecar forwards the request as HTTP/1.1, both would reach the app.
func TestStrictHTTP10DuplicateHost(t *testing.T) {
	up := newRawUpstream(t, func(r *http.Request) (string, bool) {
		return "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false
	})
	s := startSidecar(t, Config{Upstream: up.url})
	rc := dialRaw(t, s)
	rc.send("GET /dup HTTP/1.0\r\nHost: a.test\r\nHost: b.test\r\n\r\n")
	resp, body := rc.read(http.MethodGet)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "portway sidecar") {
		t.Fatalf("got %d %q, want the sidecar's 400", resp.StatusCode, body)
	}
	rc.expectClosed()
	if n := up.conns.Load(); n != 0 {
		t.Errorf("the request reached the upstream (%d connections)", n)
	}
}

// TestStrictHTTP10ExpectIgnored: a server must ignore 100-continue in an
// HTTP/1.0 request and must not send a 1xx response to an HTTP/1.0 client
// (RFC 9110 sections 10.1.1 and 15.2): an HTTP/1.0 client would take the
// 100 for the final response.
func TestStrictHTTP10ExpectIgnored(t *testing.T) {
	up := newUpstream(t, echoPath)
	s := startSidecar(t, Config{Upstream: up.URL})
	rc := dialRaw(t, s)
	rc.send("POST /old HTTP/1.0\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi")
	resp, body := rc.read(http.MethodPost)
	if resp.StatusCode != http.StatusOK || body != "/old" {
		t.Fatalf("first response to HTTP/1.0 = %d %q, want the final 200", resp.StatusCode, body)
	}
}

// TestStrictHostListedInConnection: a client listing Host in Connection
// must not make the sidecar send the app an HTTP/1.1 request without Host.
func TestStrictHostListedInConnection(t *testing.T) {

	up := newUpstream(t, echoPath)
	s := startSidecar(t, Config{Upstream: up.URL})
	rc := dialRaw(t, s)
	rc.send("GET /listed HTTP/1.1\r\nHost: x.test\r\nConnection: host\r\n\r\n")
	resp, body := rc.read(http.MethodGet)
	if resp.StatusCode != http.StatusOK || body != "/listed" || up.last(t).host != "x.test" {
		t.Fatalf("got %d %q, want 200 from the upstream with Host x.test", resp.StatusCode, body)
	}
}

// TestStrictUpstreamInterimResponses: the app's 1xx responses before the
// final one are not passed on.
func TestStrictUpstreamInterimResponses(t *testing.T) {
	up := newRawUpstream(t, func(r *http.Request) (string, bool) {
		return "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" +
			"HTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\ndone", false
	})
	s := startSidecar(t, Config{Upstream: up.url})
	rc := dialRaw(t, s)
	for range 2 {
		rc.send("GET /hints HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, body := rc.read(http.MethodGet)
		if resp.StatusCode != http.StatusCreated || body != "done" {
			t.Fatalf("got %d %q, want 201 \"done\"", resp.StatusCode, body)
		}
	}
}

// TestStrictUpstreamMalformedResponse: an app response with ambiguous or
// broken framing is a 502, and the client connection is not left in doubt.
func TestStrictUpstreamMalformedResponse(t *testing.T) {
	tests := []struct{ name, raw string }{
		{"CL and TE", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"},
		{"two CL", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"},
		{"obs-fold", "HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 0\r\n\r\n"},
		{"bad status line", "HTTP/1.1 2xx OK\r\nContent-Length: 0\r\n\r\n"},
		{"not HTTP", "SSH-2.0-OpenSSH_9.6\r\n\r\n"},
		{"switching protocols unasked", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := newRawUpstream(t, func(r *http.Request) (string, bool) { return tc.raw, true })
			s := startSidecar(t, Config{Upstream: up.url})
			rc := dialRaw(t, s)
			rc.send("GET /bad HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, body := rc.read(http.MethodGet)
			if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "502 Bad Gateway") {
				t.Fatalf("got %d %q, want 502", resp.StatusCode, body)
			}
			assertCORS(t, resp.Header)
			rc.expectClosed()
		})
	}
	t.Run("malformed chunk mid-body", func(t *testing.T) {
		up := newRawUpstream(t, func(r *http.Request) (string, bool) {
			return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n", true
		})
		s := startSidecar(t, Config{Upstream: up.url})
		rc := dialRaw(t, s)
		rc.send("GET /mid HTTP/1.1\r\nHost: x\r\n\r\n")
		// Whether or not the head is out already, the client must see a
		// failure, never a response that looks complete.
		resp, err := http.ReadResponse(rc.br, &http.Request{Method: http.MethodGet})
		if err == nil {
			body, err := io.ReadAll(resp.Body)
			if err == nil {
				t.Fatalf("a response cut short by a malformed upstream chunk reads as complete: %d %q", resp.StatusCode, body)
			}
		}
		rc.expectClosed()
	})
}
