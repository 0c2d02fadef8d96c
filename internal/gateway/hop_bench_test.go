package gateway

import (
	"bufio"
	"net"
	"strings"
	"testing"

	"github.com/portway/portway/internal/h1"
)

// rawBackend answers every request on its connections with resp, reading
// heads with internal/h1 so that it allocates nothing per request: a hop
// benchmark's allocations are then the proxy's own.
func rawBackend(tb testing.TB, resp string) string {
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
	return ln.Addr().String()
}

// rawExchange sends req on c and reads one response with a body framed by
// Content-Length.
func rawExchange(tb testing.TB, c net.Conn, br *bufio.Reader, req []byte, res *h1.Head) {
	if _, err := c.Write(req); err != nil {
		tb.Fatal(err)
	}
	if err := res.ReadResponse(br, 64<<10); err != nil {
		tb.Fatal(err)
	}
	if res.Status != 200 {
		tb.Fatalf("status %d", res.Status)
	}
	if _, err := br.Discard(int(res.ContentLength)); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkGatewayHop is one keep-alive GET through a running gateway to a
// backend answering a small JSON body, over one client connection; client
// and backend allocate nothing, so allocs/op are the gateway's.
func BenchmarkGatewayHop(b *testing.B) {
	backend := rawBackend(b, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 700\r\n\r\n"+strings.Repeat("x", 700))
	g := startGateway(b, Config{Resources: []Resource{anyResource("/ingests/{proxy+}", "http://"+backend+"/ingests/{proxy}", 0)}})
	c, err := net.Dial("tcp", hostOf(g.URL()))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	req := []byte("GET /v1/ingests/0f7d6a4c-1b6c-4d43-8a56-2a6a3b8d9e51 HTTP/1.1\r\nHost: " + hostOf(g.URL()) + "\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	var res h1.Head
	rawExchange(b, c, br, req, &res) // dial the backend outside the loop
	b.ReportAllocs()
	for b.Loop() {
		rawExchange(b, c, br, req, &res)
	}
}
