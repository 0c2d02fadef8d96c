package nlb

import (
	"io"
	"net"
	"testing"
	"time"
)

// BenchmarkThroughput compares bytes/s of a large body sent by a target
// straight to the client and through the load balancer.
func BenchmarkThroughput(b *testing.B) {
	const size = 64 << 20
	chunk := make([]byte, 1<<20)
	tts, hcPort := startTargets(b, targetSpec{ip: "127.0.0.2", handler: func(c *net.TCPConn) {
		for sent := 0; sent < size; sent += len(chunk) {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	}})
	lb := startLB(b, testConfig(b, hcPort))
	register(b, lb, tts...)
	waitState(b, lb, StateHealthy, tts...)

	fetch := func(b *testing.B, addr string) {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		n, err := io.Copy(io.Discard, c)
		if err != nil || n != size {
			b.Fatalf("read %d bytes: %v", n, err)
		}
	}
	b.Run("direct", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			fetch(b, tts[0].traffic.Addr().String())
		}
	})
	b.Run("nlb", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			fetch(b, lb.ListenerAddrs()[0])
		}
	})
}
