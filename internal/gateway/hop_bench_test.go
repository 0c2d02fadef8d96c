package gateway

import (
	"bufio"
	"net"
	"strings"
	"testing"

	"github.com/portway/portway/internal/h1"
	"github.com/portway/portway/internal/h1/h1test"
)

// BenchmarkGatewayHop is one keep-alive GET through a running gateway to a
// backend answering a small JSON body, over one client connection; client
// and backend allocate nothing, so allocs/op are the gateway's.
func BenchmarkGatewayHop(b *testing.B) {
	backend := h1test.RawUpstream(b, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 700\r\n\r\n"+strings.Repeat("x", 700))
	g := startGateway(b, Config{Resources: []Resource{anyResource("/ingests/{proxy+}", "http://"+backend+"/ingests/{proxy}", 0)}})
	c, err := net.Dial("tcp", hostOf(g.URL()))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	req := []byte("GET /v1/ingests/0f7d6a4c-1b6c-4d43-8a56-2a6a3b8d9e51 HTTP/1.1\r\nHost: " + hostOf(g.URL()) + "\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	var res h1.Head
	h1test.Exchange(b, c, br, req, &res) // dial the backend outside the loop
	b.ReportAllocs()
	for b.Loop() {
		h1test.Exchange(b, c, br, req, &res)
	}
}
