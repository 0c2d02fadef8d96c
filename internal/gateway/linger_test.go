package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestOversizeBodyWithoutExpectGets413: a client that sends an 11 MB body
// with no Expect: 100-continue, writing it all before it reads (Python's
// urllib, many simple clients), gets the whole REQUEST_TOO_LARGE response,
// not a reset: the gateway reads and discards the body after answering
// (lingering close, as nginx).
func TestOversizeBodyWithoutExpectGets413(t *testing.T) {
	backend := newEchoBackend(t)
	g := startGateway(t, Config{Resources: []Resource{anyResource("/x", backend.URL+"/", 0)}})
	addr := hostOf(g.URL())
	const size = 11_000_000 // over the 10 MB payload limit
	for _, framing := range []string{fmt.Sprintf("Content-Length: %d", size), "Transfer-Encoding: chunked"} {
		t.Run(strings.Fields(framing)[0], func(t *testing.T) {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(60 * time.Second))
			head := "POST /v1/x HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/octet-stream\r\n" + framing + "\r\n\r\n"
			if framing[0] == 'T' {
				head += fmt.Sprintf("%x\r\n", size)
			}
			written := make(chan error, 1)
			go func() {
				if _, err := io.WriteString(c, head); err != nil {
					written <- err
					return
				}
				chunk := []byte(strings.Repeat("x", 64<<10))
				for n := size; n > 0; n -= len(chunk) {
					if _, err := c.Write(chunk[:min(n, len(chunk))]); err != nil {
						written <- err
						return
					}
				}
				written <- nil
			}()
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("reading the response: %v", err)
			}
			body, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatalf("reading the response body: %v", err)
			}
			if res.StatusCode != 413 || string(body) != `{"message":"Request Too Long"}` ||
				res.Header.Get("x-amzn-ErrorType") != "RequestTooLargeException" {
				t.Fatalf("response %d %v %s", res.StatusCode, res.Header, body)
			}
			assertGatewayIDs(t, res)
			if err := <-written; err != nil {
				t.Fatalf("writing the body: %v (the gateway stopped reading it)", err)
			}
		})
	}
}
