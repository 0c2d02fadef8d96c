package sidecar

import (
	"bufio"
	"net"
	"strings"
	"testing"

	"github.com/portway/portway/internal/h1"
)

// rawApp answers every request on its connections with resp, reading heads
// with internal/h1 so that it allocates nothing per request: a hop
// benchmark's allocations are then the sidecar's own.
func rawApp(tb testing.TB, resp string) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br, bw := bufio.NewReader(c), bufio.NewWriter(c)
				var req h1.Head
				for {
					if err := req.ReadRequest(br, 64<<10); err != nil {
						return
					}
					if req.ContentLength > 0 {
						if _, err := br.Discard(int(req.ContentLength)); err != nil {
							return
						}
					}
					bw.WriteString(resp)
					if bw.Flush() != nil {
						return
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// BenchmarkRawHop is one keep-alive GET through a running sidecar to an app
// answering a small JSON body, over one client connection; client and app
// allocate nothing, so allocs/op are the sidecar's.
func BenchmarkRawHop(b *testing.B) {
	app := rawApp(b, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 700\r\n\r\n"+strings.Repeat("x", 700))
	s := startSidecar(b, Config{Upstream: app})
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	req := []byte("GET /ingests/0f7d6a4c-1b6c-4d43-8a56-2a6a3b8d9e51 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abc\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n")
	var res h1.Head
	exchange := func() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		if err := res.ReadResponse(br, 64<<10); err != nil {
			b.Fatal(err)
		}
		if res.Status != 200 {
			b.Fatalf("status %d", res.Status)
		}
		if _, err := br.Discard(int(res.ContentLength)); err != nil {
			b.Fatal(err)
		}
	}
	exchange() // dial the app outside the loop
	b.ReportAllocs()
	for b.Loop() {
		exchange()
	}
}
