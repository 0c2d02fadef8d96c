package nlb

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestProxyV2Header(t *testing.T) {
	sig := "0d0a0d0a000d0a515549540a"
	tests := []struct {
		name     string
		src, dst string
		want     string // hex after the signature
	}{
		{"ipv4", "127.0.0.5:40000", "127.77.0.10:65535",
			"21" + "11" + "000c" + "7f000005" + "7f4d000a" + "9c40" + "ffff"},
		{"ipv4-mapped is ipv4", "[::ffff:10.0.0.1]:1", "10.0.0.2:2",
			"21" + "11" + "000c" + "0a000001" + "0a000002" + "0001" + "0002"},
		{"ipv6", "[2001:db8::1]:443", "[::1]:8080",
			"21" + "21" + "0024" + "20010db8000000000000000000000001" + "00000000000000000000000000000001" + "01bb" + "1f90"},
		{"mixed: ipv4 mapped into ipv6", "10.0.0.1:1", "[::1]:2",
			"21" + "21" + "0024" + "00000000000000000000ffff0a000001" + "00000000000000000000000000000001" + "0001" + "0002"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := hex.EncodeToString(ProxyV2Header(netip.MustParseAddrPort(tt.src), netip.MustParseAddrPort(tt.dst)))
			if want := sig + tt.want; got != want {
				t.Errorf("header\n got %s\nwant %s", got, want)
			}
		})
	}
	if got := hex.EncodeToString(ProxyV2LocalHeader()); got != sig+"20000000" {
		t.Errorf("LOCAL header %s", got)
	}
}

// readProxyV2 reads one PROXY v2 header from r (test-side parser).
func readProxyV2(r io.Reader) ([]byte, error) {
	head := make([]byte, proxyV2HeadSize)
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, err
	}
	rest := make([]byte, binary.BigEndian.Uint16(head[14:]))
	if _, err := io.ReadFull(r, rest); err != nil {
		return nil, err
	}
	return append(head, rest...), nil
}

// TestProxyProtocolV2ToTarget: with the attribute on, a target sees the
// header, with the client's address and the listener's, before the client's
// bytes; health checks (TCP here) carry a LOCAL header.
func TestProxyProtocolV2ToTarget(t *testing.T) {
	headers := make(chan []byte, 100)
	locals := make(chan []byte, 100)
	tts, _ := startTargets(t, targetSpec{ip: "127.0.0.2", handler: func(c *net.TCPConn) {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		h, err := readProxyV2(c)
		if err != nil {
			return
		}
		c.SetReadDeadline(time.Time{})
		if h[12] == proxyV2Version|proxyV2Local {
			locals <- h
			return
		}
		headers <- h
		nameHandler("127.0.0.2")(c)
	}})
	cfg := testConfig(t, 0)
	cfg.TargetGroups[0].ProxyProtocolV2 = true
	cfg.TargetGroups[0].HealthCheck = HealthCheck{Protocol: ProtocolTCP, Interval: 300 * time.Millisecond,
		Timeout: 250 * time.Millisecond, HealthyThreshold: 2, UnhealthyThreshold: 2}
	lb := startLB(t, cfg)
	register(t, lb, tts...)
	waitState(t, lb, StateHealthy, tts...)
	select {
	case h := <-locals:
		if !bytes.Equal(h, ProxyV2LocalHeader()) {
			t.Errorf("health check header %x", h)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no LOCAL header on health checks")
	}

	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.5")}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", lb.ListenerAddrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if name, err := ask(c, bufio.NewReader(c)); err != nil || name != "127.0.0.2" {
		t.Fatalf("through the LB: %q %v", name, err)
	}
	select {
	case h := <-headers:
		want := ProxyV2Header(tcpAddrPort(c.LocalAddr()), tcpAddrPort(c.RemoteAddr()))
		if !bytes.Equal(h, want) {
			t.Errorf("header\n got %x\nwant %x", h, want)
		}
		if !strings.HasPrefix(tcpAddrPort(c.LocalAddr()).String(), "127.0.0.5:") {
			t.Errorf("client address %s", c.LocalAddr())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("target saw no PROXY header")
	}
	if n := healthOf(t, lb, tts[0]).Connections; n != 1 {
		t.Errorf("Connections = %d, want 1 (health checks are not counted)", n)
	}
}
