// Package h1test holds test helpers for proxies built on internal/h1: an
// upstream and a client that allocate nothing per request, so that a hop
// benchmark's allocations are the proxy's own. Only test files import it.
package h1test

import (
	"bufio"
	"net"
	"testing"

	"github.com/portway/portway/internal/h1"
)

// RawUpstream answers every request on its connections with resp, reading
// heads with internal/h1, until the test ends. It returns its host:port.
func RawUpstream(tb testing.TB, resp string) string {
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

// Exchange sends req on c and reads one 200 response whose body is framed
// by Content-Length, into res.
func Exchange(tb testing.TB, c net.Conn, br *bufio.Reader, req []byte, res *h1.Head) {
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
