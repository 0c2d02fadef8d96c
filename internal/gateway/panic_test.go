package gateway

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portway/portway/internal/testutil"
)

// panicLink is a VPC link whose dial panics for one address: a stand-in for
// any bug on the request path.
type panicLink struct{ addr string }

func (l panicLink) DialListener(_ context.Context, address string) (net.Conn, bool, error) {
	if address == l.addr {
		panic("boom in the link")
	}
	return nil, false, nil
}

// TestPanicAnswers500: a panic while serving a request is the gateway's
// Internal server error response (DEFAULT_5XX) with the request's ids, one
// error line with the stack and the same request id, and an access line
// with status 500; the gateway goes on serving.
func TestPanicAnswers500(t *testing.T) {
	good, bad := newEchoBackend(t), newEchoBackend(t)
	var logs logBuffer
	g := startGateway(t, Config{
		Resources: []Resource{
			anyResource("/ok", good.URL+"/", 0),
			anyResource("/boom", bad.URL+"/", 0),
		},
		VPCLink: panicLink{addr: hostOf(bad.URL)},
		Logger:  logs.logger(),
	})
	res, body := get(t, g.URL()+"/v1/boom")
	if res.StatusCode != 500 || body != `{"message":"Internal server error"}` ||
		res.Header.Get("x-amzn-ErrorType") != "InternalServerErrorException" {
		t.Fatalf("response %d %v %s", res.StatusCode, res.Header, body)
	}
	assertGatewayIDs(t, res)
	id := res.Header.Get("x-amzn-RequestId")

	if res, _ := get(t, g.URL()+"/v1/ok"); res.StatusCode != 200 {
		t.Fatalf("after the panic: status %d", res.StatusCode)
	}
	log := logs.String()
	if n := strings.Count(log, "boom in the link"); n != 1 {
		t.Fatalf("panic logged %d times, want once:\n%s", n, log)
	}
	var panicLine string
	for line := range strings.SplitSeq(log, "\n") {
		if strings.Contains(line, "boom in the link") {
			panicLine = line
		}
	}
	if !strings.Contains(panicLine, `"level":"ERROR"`) || !strings.Contains(panicLine, `"requestId":"`+id+`"`) ||
		!strings.Contains(panicLine, "panicLink.DialListener") {
		t.Fatalf("panic line without level, request id %s or stack: %s", id, panicLine)
	}
	// The access line follows the response.
	var line map[string]any
	testutil.WaitFor(t, 10*time.Second, "the access line of request "+id, func() bool {
		for _, a := range logs.accessLines(t) {
			if a["requestId"] == id {
				line = a
			}
		}
		return line != nil
	})
	if line["status"] != float64(500) || line["errorType"] != RespDefault5XX {
		t.Fatalf("access line %v", line)
	}
}

// recordingLink dials over TCP and arms a clock that panics on its next
// reading, which comes once the backend's response head is in: a panic
// while the integration connection is the exchange's.
type recordingLink struct {
	armed  *atomic.Bool
	closed chan struct{}
}

type closeRecordingConn struct {
	net.Conn
	once   sync.Once
	closed chan struct{}
}

func (c *closeRecordingConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

func (l recordingLink) DialListener(ctx context.Context, address string) (net.Conn, bool, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", address)
	if err != nil {
		return nil, true, err
	}
	l.armed.Store(true)
	return &closeRecordingConn{Conn: c, closed: l.closed}, true, nil
}

// TestPanicClosesIntegrationConnection: the connection to the backend of
// an exchange that panicked is closed, neither kept nor leaked (through the
// in-process VPC link a leaked flow would hold its target's connection
// count, and the load balancer's Stop, forever).
func TestPanicClosesIntegrationConnection(t *testing.T) {
	backend := newEchoBackend(t)
	var armed atomic.Bool
	link := recordingLink{armed: &armed, closed: make(chan struct{})}
	g := startGateway(t, Config{
		Resources: []Resource{anyResource("/x", backend.URL+"/", 0)},
		VPCLink:   link,
		Now: func() time.Time {
			if armed.CompareAndSwap(true, false) {
				panic("boom with an integration connection")
			}
			return time.Now()
		},
	})
	if res, _ := get(t, g.URL()+"/v1/x"); res.StatusCode != 500 {
		t.Fatalf("status %d, want 500", res.StatusCode)
	}
	select {
	case <-link.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the integration connection of the panicked exchange was not closed")
	}
}
