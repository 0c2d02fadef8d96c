package sidecar

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// staleSecond is an app whose first connection answers its first request
// and then, on the second, reads the request and closes without answering
// (the race every keep-alive client has with a server closing an idle
// connection); every other request gets answer.
func staleSecond(t *testing.T, answer string) *rawUpstream {
	var n atomic.Int32
	return newRawUpstream(t, func(r *http.Request) (string, bool) {
		if n.Add(1) == 2 {
			return "", true
		}
		return answer, false
	})
}

const okAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

// TestRetryOnlyIdempotent: a request the app may have received on a
// kept-alive connection that then failed is sent again only when it is
// idempotent (RFC 9110 section 9.2.2): the GET once more on a fresh
// connection, the POST not at all (502).
func TestRetryOnlyIdempotent(t *testing.T) {
	for _, tc := range []struct {
		method string
		status int
		paths  []string // what the app saw
	}{
		{http.MethodGet, http.StatusOK, []string{"/warm", "/again", "/again"}},
		{http.MethodPut, http.StatusOK, []string{"/warm", "/again", "/again"}},
		{http.MethodPost, http.StatusBadGateway, []string{"/warm", "/again"}},
		{http.MethodPatch, http.StatusBadGateway, []string{"/warm", "/again"}},
	} {
		t.Run(tc.method, func(t *testing.T) {
			up := staleSecond(t, okAnswer)
			s := startSidecar(t, Config{Upstream: up.url})
			rc := dialRaw(t, s)
			rc.send("GET /warm HTTP/1.1\r\nHost: x\r\n\r\n")
			if resp, body := rc.read(http.MethodGet); resp.StatusCode != http.StatusOK {
				t.Fatalf("warm-up: %d %q", resp.StatusCode, body)
			}
			rc.send(tc.method + " /again HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
			resp, body := rc.read(tc.method)
			if resp.StatusCode != tc.status {
				t.Fatalf("got %d %q, want %d", resp.StatusCode, body, tc.status)
			}
			var got []string
			for _, r := range up.requests() {
				got = append(got, r.URL.Path)
				if r.URL.Path == "/again" && r.Method != tc.method {
					t.Errorf("app got %s, want %s", r.Method, tc.method)
				}
			}
			if !slices.Equal(got, tc.paths) {
				t.Fatalf("app saw %q, want %q", got, tc.paths)
			}
		})
	}
}

// TestNoRetryAfterMalformedHead: an app that answered with a malformed
// head got the request; it is not sent again, not even a GET (nginx's
// proxy_next_upstream default, "error timeout", leaves out invalid_header).
func TestNoRetryAfterMalformedHead(t *testing.T) {
	var n atomic.Int32
	up := newRawUpstream(t, func(r *http.Request) (string, bool) {
		if n.Add(1) == 2 {
			return "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", true
		}
		return okAnswer, false
	})
	s := startSidecar(t, Config{Upstream: up.url})
	rc := dialRaw(t, s)
	rc.send("GET /warm HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, body := rc.read(http.MethodGet); resp.StatusCode != http.StatusOK {
		t.Fatalf("warm-up: %d %q", resp.StatusCode, body)
	}
	rc.send("GET /bad HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, body := rc.read(http.MethodGet); resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("got %d %q, want 502", resp.StatusCode, body)
	}
	if c := up.count(); c != 2 {
		t.Fatalf("app saw %d requests, want 2 (no retry)", c)
	}
}

func (u *rawUpstream) requests() []*http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.reqs)
}

// earlyAnswerApp reads a request head, answers with raw and closes the
// connection without reading the body, as an app refusing a body too large
// for it does. It reports how many requests it answered.
func earlyAnswerApp(t *testing.T, raw string) (url string, answered *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	answered = new(atomic.Int32)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(testTimeout))
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				if _, err := io.WriteString(c, raw); err == nil {
					answered.Add(1)
				}
			})
		}
	})
	return "http://" + ln.Addr().String(), answered
}

// sendBody writes n bytes of body on c in the background, until done or the
// peer stops taking them; the returned channel is closed when it returns.
func sendBody(c net.Conn, n int64, chunked bool) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for sent := int64(0); sent < n; {
			k := min(int64(len(buf)), n-sent)
			p := buf[:k]
			if chunked {
				p = append([]byte(strconv.FormatInt(k, 16)+"\r\n"), append(buf[:k:k], "\r\n"...)...)
			}
			if _, err := c.Write(p); err != nil {
				return
			}
			sent += k
		}
		if chunked {
			_, _ = io.WriteString(c, "0\r\n\r\n")
		}
	}()
	return done
}

const tooLargeAnswer = "HTTP/1.1 413 Request Entity Too Large\r\nContent-Type: text/plain\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big\n"

// TestEarlyAnswerPassedOn: the app answers 413 and closes while the body is
// still on its way; the client gets that answer, not a 502, with
// Connection: close.
func TestEarlyAnswerPassedOn(t *testing.T) {
	for _, chunked := range []bool{false, true} {
		t.Run("chunked="+strconv.FormatBool(chunked), func(t *testing.T) {
			app, answered := earlyAnswerApp(t, tooLargeAnswer)
			s := startSidecar(t, Config{Upstream: app})
			rc := dialRaw(t, s)
			const size = 12 << 20 // the sidecar's own limit: it lets the body through
			framing := "Content-Length: " + strconv.Itoa(size)
			if chunked {
				framing = "Transfer-Encoding: chunked"
			}
			rc.send("POST /bags HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n" + framing + "\r\n\r\n")
			sent := sendBody(rc.c, size, chunked)
			resp, body := rc.read(http.MethodPost)
			if resp.StatusCode != http.StatusRequestEntityTooLarge || body != "too big\n" {
				t.Fatalf("got %d %q, want the app's 413", resp.StatusCode, body)
			}
			if !resp.Close {
				t.Error("the answer lacks Connection: close: the rest of the body is still coming")
			}
			assertCORS(t, resp.Header)
			<-sent // the sidecar closes the connection after a lingering read
			if n := answered.Load(); n != 1 {
				t.Errorf("app answered %d requests, want 1", n)
			}
		})
	}
}
