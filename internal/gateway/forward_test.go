package gateway

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

	"github.com/portway/portway/internal/sidecar"
)

// scriptedBackend reads requests (and their bodies) on each connection and
// answers each with what respond returns: raw bytes, then the connection
// closed when close is set ("" and close: closed without an answer).
type scriptedBackend struct {
	addr  string
	conns atomic.Int32
	mu    sync.Mutex
	seen  []string // "METHOD /path" of each request read
}

func newScriptedBackend(t *testing.T, respond func(n int) (raw string, close bool)) *scriptedBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &scriptedBackend{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.conns.Add(1)
			wg.Go(func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				br := bufio.NewReader(c)
				for {
					r, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					if _, err := io.Copy(io.Discard, r.Body); err != nil {
						return
					}
					b.mu.Lock()
					b.seen = append(b.seen, r.Method+" "+r.URL.Path)
					n := len(b.seen)
					b.mu.Unlock()
					raw, close := respond(n)
					if _, err := io.WriteString(c, raw); err != nil || close {
						return
					}
				}
			})
		}
	})
	return b
}

func (b *scriptedBackend) requests() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.seen)
}

const okAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

// exchangeOn sends raw on c and reads the response to method.
func exchangeOn(t *testing.T, c net.Conn, br *bufio.Reader, raw, method string) (*http.Response, string) {
	t.Helper()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(body)
}

// TestIntegrationRetryOnlyIdempotent: a request the backend may have
// received on a kept-alive connection that then failed is sent again only
// when it is idempotent: the GET once more on a fresh connection, the POST
// not at all (500, as AWS answers a failed integration).
func TestIntegrationRetryOnlyIdempotent(t *testing.T) {
	for _, tc := range []struct {
		method string
		status int
		seen   []string
	}{
		{http.MethodGet, http.StatusOK, []string{"GET /warm", "GET /again", "GET /again"}},
		{http.MethodDelete, http.StatusOK, []string{"GET /warm", "DELETE /again", "DELETE /again"}},
		{http.MethodPost, http.StatusInternalServerError, []string{"GET /warm", "POST /again"}},
		{http.MethodPatch, http.StatusInternalServerError, []string{"GET /warm", "PATCH /again"}},
	} {
		t.Run(tc.method, func(t *testing.T) {
			backend := newScriptedBackend(t, func(n int) (string, bool) {
				if n == 2 {
					return "", true // read the request, close without answering
				}
				return okAnswer, false
			})
			c, br, host := warmedUp(t, backend)
			res, body := exchangeOn(t, c, br, tc.method+" /v1/again HTTP/1.1\r\n"+host+"Content-Length: 0\r\n\r\n", tc.method)
			if res.StatusCode != tc.status {
				t.Fatalf("got %d %s, want %d", res.StatusCode, body, tc.status)
			}
			if got := backend.requests(); !slices.Equal(got, tc.seen) {
				t.Fatalf("backend saw %q, want %q", got, tc.seen)
			}
		})
	}
}

// warmedUp starts a gateway in front of backend and opens a client
// connection whose first request (GET /warm) left a kept-alive connection
// to the backend in the gateway's pool. It returns the connection, its
// reader and the Host field line to send.
func warmedUp(t *testing.T, backend *scriptedBackend) (net.Conn, *bufio.Reader, string) {
	t.Helper()
	g := startGateway(t, Config{Resources: []Resource{anyResource("/{proxy+}", "http://"+backend.addr+"/{proxy}", 0)}})
	c, err := net.Dial("tcp", hostOf(g.URL()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	host := "Host: " + hostOf(g.URL()) + "\r\n"
	if res, body := exchangeOn(t, c, br, "GET /v1/warm HTTP/1.1\r\n"+host+"\r\n", http.MethodGet); res.StatusCode != http.StatusOK {
		t.Fatalf("warm-up: %d %s", res.StatusCode, body)
	}
	return c, br, host
}

// TestIntegrationNoRetryAfterMalformedHead: a backend that answered with a
// malformed head got the request; it is not sent again, not even a GET.
func TestIntegrationNoRetryAfterMalformedHead(t *testing.T) {
	backend := newScriptedBackend(t, func(n int) (string, bool) {
		if n == 2 {
			return "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", true
		}
		return okAnswer, false
	})
	c, br, host := warmedUp(t, backend)
	if res, body := exchangeOn(t, c, br, "GET /v1/bad HTTP/1.1\r\n"+host+"\r\n", http.MethodGet); res.StatusCode != http.StatusInternalServerError {
		t.Fatalf("got %d %s, want 500", res.StatusCode, body)
	}
	if got, want := backend.requests(), []string{"GET /warm", "GET /bad"}; !slices.Equal(got, want) {
		t.Fatalf("backend saw %q, want %q (no retry)", got, want)
	}
}

// TestEarlyAnswerThroughSidecar: a 9 MiB chunked POST (under the gateway's
// 10 MiB limit) through gateway → sidecar → app, where the app answers 413
// and closes without reading the body: the client gets the app's 413 with
// Connection: close, not a gateway error.
func TestEarlyAnswerThroughSidecar(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
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
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
					_, _ = io.WriteString(c, "HTTP/1.1 413 Request Entity Too Large\r\nContent-Type: text/plain\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big\n")
				}
			})
		}
	})
	sc, err := sidecar.New(sidecar.Config{Listen: "127.0.0.1:0", Upstream: "http://" + ln.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sc.Stop(t.Context()) })
	g := startGateway(t, Config{Resources: []Resource{anyResource("/up", "http://"+sc.Addr()+"/bags", 0)}})

	c, err := net.Dial("tcp", hostOf(g.URL()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "POST /v1/up HTTP/1.1\r\nHost: "+hostOf(g.URL())+"\r\nTransfer-Encoding: chunked\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		chunk := []byte(strconv.FormatInt(64<<10, 16) + "\r\n" + string(make([]byte, 64<<10)) + "\r\n")
		for range (9 << 20) / (64 << 10) {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
		_, _ = io.WriteString(c, "0\r\n\r\n")
	}()
	res, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: http.MethodPost})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusRequestEntityTooLarge || string(body) != "too big\n" {
		t.Fatalf("got %d %q %v, want the app's 413", res.StatusCode, body, res.Header)
	}
	<-sent
	if res.Close {
		return
	}
	// The sidecar drained the rest of the body (lingering close), so the
	// gateway took the whole request: the client's connection may go on.
	if _, err := io.WriteString(c, "GET /v1/up HTTP/1.1\r\nHost: "+hostOf(g.URL())+"\r\n\r\n"); err != nil {
		t.Fatalf("the answer kept the connection, but it is closed: %v", err)
	}
	res2, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: http.MethodGet})
	if err != nil {
		t.Fatalf("the answer kept the connection, but a next request got: %v", err)
	}
	res2.Body.Close()
}
