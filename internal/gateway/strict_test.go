package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingBackend counts the requests that reach it and echoes the body.
func countingBackend(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %q", r.Method, r.URL.Path, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// TestSmugglingRefused: messages whose framing two parsers could read
// differently are answered 400 (501 for an unknown coding) and never reach
// the integration; the connection is closed after the answer.
func TestSmugglingRefused(t *testing.T) {
	backend, hits := countingBackend(t)
	g := startGateway(t, Config{Resources: []Resource{anyResource("/x", backend.URL+"/x", 0)}})
	addr := hostOf(g.URL())
	tests := []struct {
		name, req string
		status    int
	}{
		{"CL and TE", "POST /v1/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"TE and CL", "POST /v1/x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n", 400},
		{"duplicate CL", "POST /v1/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400},
		{"obs-fold", "GET /v1/x HTTP/1.1\r\nHost: localhost\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n", 400},
		{"space before colon", "POST /v1/x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400},
		{"signed CL", "POST /v1/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: +2\r\n\r\nab", 400},
		{"unknown coding", "POST /v1/x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501},
		{"TE on HTTP/1.0", "POST /v1/x HTTP/1.0\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"two Hosts", "GET /v1/x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
		{"no Host", "GET /v1/x HTTP/1.1\r\n\r\n", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := hits.Load()
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.WriteString(c, tt.req); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.status)
			}
			if _, err := br.ReadByte(); err == nil {
				t.Fatal("connection still open after the refusal")
			}
			if n := hits.Load() - before; n != 0 {
				t.Fatalf("%d requests reached the integration", n)
			}
		})
	}
}

// TestChunkedAndPipelined: a chunked body is forwarded re-framed, and
// pipelined requests on one connection are answered in order.
func TestChunkedAndPipelined(t *testing.T) {
	backend, hits := countingBackend(t)
	g := startGateway(t, Config{Resources: []Resource{anyResource("/{proxy+}", backend.URL+"/{proxy}", 0)}})
	c, err := net.DialTimeout("tcp", hostOf(g.URL()), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "POST /v1/a HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer-X: 1\r\n\r\n"+
		"GET /v1/b HTTP/1.1\r\nHost: localhost\r\n\r\n"+
		"HEAD /v1/c HTTP/1.1\r\nHost: localhost\r\n\r\n"+
		"GET /v1/d HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
	br := bufio.NewReader(c)
	for _, want := range []struct{ method, body string }{
		{"POST", `POST /a "abcde"`}, {"GET", `GET /b ""`}, {"HEAD", ""}, {"GET", `GET /d ""`},
	} {
		res, err := http.ReadResponse(br, &http.Request{Method: want.method})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(body) != want.body {
			t.Fatalf("%s: %d %q, want %q", want.method, res.StatusCode, body, want.body)
		}
	}
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("connection open after Connection: close")
	}
	if hits.Load() != 4 {
		t.Fatalf("%d requests reached the backend, want 4", hits.Load())
	}
}

// TestExpectContinue: the gateway answers 100 Continue itself and then
// forwards the body.
func TestExpectContinue(t *testing.T) {
	backend, _ := countingBackend(t)
	g := startGateway(t, Config{Resources: []Resource{anyResource("/x", backend.URL+"/x", 0)}})
	c, err := net.DialTimeout("tcp", hostOf(g.URL()), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "POST /v1/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
		t.Fatalf("first line %q, %v: want 100 Continue", line, err)
	}
	if blank, _ := br.ReadString('\n'); blank != "\r\n" {
		t.Fatalf("after 100: %q", blank)
	}
	io.WriteString(c, "hello")
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || string(body) != `POST /x "hello"` {
		t.Fatalf("got %d %q", res.StatusCode, body)
	}
}
