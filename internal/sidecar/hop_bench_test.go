package sidecar

import (
	"bufio"
	"net"
	"strings"
	"testing"

	"github.com/portway/portway/internal/h1"
	"github.com/portway/portway/internal/h1/h1test"
)

// BenchmarkRawHop is one keep-alive GET through a running sidecar to an app
// answering a small JSON body, over one client connection; client and app
// allocate nothing, so allocs/op are the sidecar's.
func BenchmarkRawHop(b *testing.B) {
	app := "http://" + h1test.RawUpstream(b, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 700\r\n\r\n"+strings.Repeat("x", 700))
	s := startSidecar(b, Config{Upstream: app})
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	req := []byte("GET /ingests/0f7d6a4c-1b6c-4d43-8a56-2a6a3b8d9e51 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abc\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n")
	var res h1.Head
	h1test.Exchange(b, c, br, req, &res) // dial the app outside the loop
	b.ReportAllocs()
	for b.Loop() {
		h1test.Exchange(b, c, br, req, &res)
	}
}
