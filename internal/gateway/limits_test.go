package gateway

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// TestHeaderLimit: the request line plus header values may take 10 KiB; one
// byte more is REQUEST_TOO_LARGE (413, a gateway response with the usual
// ids); a head over 16 KiB is refused with 431 before the gateway runs.
func TestHeaderLimit(t *testing.T) {
	backend := newEchoBackend(t)
	g := startGateway(t, Config{Resources: []Resource{anyResource("/x", backend.URL+"/", 0)}})
	addr := hostOf(g.URL())
	// Request line "GET /v1/x HTTP/1.1" counts 18 (method, target, proto and
	// the two spaces); the Host value len(addr); the padding header the rest.
	fixed := len("GET /v1/x HTTP/1.1") + len(addr)
	request := func(pad int) string {
		return "GET /v1/x HTTP/1.1\r\nHost: " + addr + "\r\nX-Pad: " + strings.Repeat("a", pad) + "\r\nConnection: close\r\n\r\n"
	}
	// "Connection: close" is a header value too.
	fixed += len("close")
	tests := []struct {
		name   string
		pad    int
		status int
		body   string
	}{
		{"at the limit", MaxHeaderBytes - fixed, 200, ""},
		{"one byte over", MaxHeaderBytes - fixed + 1, 413, `{"message":"Request Too Long"}`},
		{"far over", 24 << 10, 431, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := rawRequest(t, addr, request(tt.pad))
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tt.status, body)
			}
			if tt.status == 413 {
				if body != tt.body || res.Header.Get("x-amzn-ErrorType") != "RequestTooLargeException" {
					t.Fatalf("body %s headers %v", body, res.Header)
				}
				assertGatewayIDs(t, res)
			}
		})
	}
}

// waitClosed reads from conn until the server closes it (EOF or reset),
// failing if that takes longer than limit.
func waitClosed(t *testing.T, conn net.Conn, limit time.Duration) string {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(limit))
	got, err := io.ReadAll(conn)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection still open after %s", limit)
	}
	return string(got)
}

func TestClientTimeouts(t *testing.T) {
	backend := newEchoBackend(t)
	g := startGateway(t, Config{
		Resources: []Resource{anyResource("/x", backend.URL+"/", 0)},
		Timeouts:  TimeoutsConfig{ReadHeader: 200 * time.Millisecond, Read: 300 * time.Millisecond, Idle: 200 * time.Millisecond},
	})
	addr := hostOf(g.URL())
	dial := func(t *testing.T) net.Conn {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	t.Run("idle keep-alive connection closed", func(t *testing.T) {
		c := dial(t)
		fmt.Fprintf(c, "GET /v1/x HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
		out := waitClosed(t, c, 10*time.Second)
		if !strings.HasPrefix(out, "HTTP/1.1 200 ") {
			t.Fatalf("response %q", out)
		}
	})
	t.Run("slow headers", func(t *testing.T) {
		c := dial(t)
		fmt.Fprintf(c, "GET /v1/x HTTP/1.1\r\nHost: %s\r\n", addr) // never finishes the headers
		if out := waitClosed(t, c, 10*time.Second); strings.Contains(out, " 200 ") {
			t.Fatalf("served: %q", out)
		}
	})
	t.Run("slow body", func(t *testing.T) {
		c := dial(t)
		fmt.Fprintf(c, "POST /v1/x HTTP/1.1\r\nHost: %s\r\nContent-Length: 100\r\n\r\nabc", addr) // 97 bytes never come
		out := waitClosed(t, c, 10*time.Second)
		if !strings.HasPrefix(out, "HTTP/1.1 408 ") || !strings.HasSuffix(out, `{"message":"Request Timeout"}`) ||
			!strings.Contains(out, "x-amzn-ErrorType: BadRequestException") {
			t.Fatalf("response %q", out)
		}
	})
}
