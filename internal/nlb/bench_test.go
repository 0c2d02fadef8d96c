package nlb

import (
	"fmt"
	"io"
	"net"
	"net/netip"
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

// BenchmarkConnections measures new connections per second, each with one
// request-response exchange, straight to a target and through the load
// balancer.
func BenchmarkConnections(b *testing.B) {
	tts, hcPort := startTargets(b, targetSpec{ip: "127.0.0.2"})
	lb := startLB(b, testConfig(b, hcPort))
	register(b, lb, tts...)
	waitState(b, lb, StateHealthy, tts...)
	exchange := func(b *testing.B, addr string) {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		buf := make([]byte, 64)
		if _, err := c.Write([]byte("who\n")); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Read(buf); err != nil {
			b.Fatal(err)
		}
	}
	for _, bc := range []struct{ name, addr string }{
		{"direct", tts[0].traffic.Addr().String()},
		{"nlb", lb.ListenerAddrs()[0]},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					exchange(b, bc.addr)
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "conns/s")
		})
	}
}

// BenchmarkFlowTarget is the per-connection target choice: the flow hash of
// the connection's addresses and the rendezvous ranking over the targets.
func BenchmarkFlowTarget(b *testing.B) {
	for _, n := range []int{2, 8} {
		b.Run(fmt.Sprintf("targets=%d", n), func(b *testing.B) {
			ts := make([]*target, n)
			for i := range ts {
				addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, byte(i + 1)}), 9000)
				ts[i] = &target{addr: addr, hash: hashString(addr.String())}
			}
			dst := netip.MustParseAddrPort("10.0.0.10:443")
			b.ReportAllocs()
			port := uint16(0)
			for b.Loop() {
				port++
				src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, 7}), port)
				rank(flowHash(src, dst), ts)
			}
		})
	}
}
