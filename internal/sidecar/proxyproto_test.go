package sidecar

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const sigHex = "0d0a0d0a000d0a515549540a"

func TestParseProxyHeader(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		name     string
		in       []byte
		conveyed bool
		src, dst string
		version  int
		err      string // substring; "" means valid
	}{
		{name: "v2 tcp4", in: unhex(t, sigHex+"21 11 000c 7f000005 7f4d000a 9c40 ffff"),
			conveyed: true, src: "127.0.0.5:40000", dst: "127.77.0.10:65535", version: 2},
		{name: "v2 tcp6", in: unhex(t, sigHex+"21 21 0024 20010db8000000000000000000000001 00000000000000000000000000000001 01bb 1f90"),
			conveyed: true, src: "[2001:db8::1]:443", dst: "[::1]:8080", version: 2},
		{name: "v2 tcp6 with mapped ipv4", in: unhex(t, sigHex+"21 21 0024 00000000000000000000ffff0a000001 00000000000000000000ffff0a000002 0001 0002"),
			conveyed: true, src: "10.0.0.1:1", dst: "10.0.0.2:2", version: 2},
		{name: "v2 tcp4 with TLVs (AWS VPC endpoint, NOOP)", in: unhex(t, sigHex+"21 11 001d 0a000001 0a000002 0001 0002 ea 0008 01 76706365 2d3132 04 0003 000000"),
			conveyed: true, src: "10.0.0.1:1", dst: "10.0.0.2:2", version: 2},
		{name: "v2 local", in: unhex(t, sigHex+"20 00 0000"), version: 2},
		{name: "v2 local with ignored address block", in: unhex(t, sigHex+"20 11 000c 0a000001 0a000002 0001 0002"), version: 2},
		{name: "v2 proxy unspec", in: unhex(t, sigHex+"21 00 0000"), version: 2},
		{name: "v2 proxy udp4 uses the real peer", in: unhex(t, sigHex+"21 12 000c 0a000001 0a000002 0001 0002"), version: 2},
		{name: "v1 tcp4", in: []byte("PROXY TCP4 198.51.100.22 203.0.113.7 35646 80\r\n"),
			conveyed: true, src: "198.51.100.22:35646", dst: "203.0.113.7:80", version: 1},
		{name: "v1 tcp6", in: []byte("PROXY TCP6 2001:db8::1 ::1 65535 0\r\n"),
			conveyed: true, src: "[2001:db8::1]:65535", dst: "[::1]:0", version: 1},
		{name: "v1 unknown", in: []byte("PROXY UNKNOWN\r\n"), version: 1},
		{name: "v1 unknown with addresses", in: []byte("PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n"), version: 1},
		{name: "v1 longest line", in: []byte("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"),
			conveyed: true, src: "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", dst: "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", version: 1},

		{name: "plain HTTP", in: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), err: "no PROXY protocol header"},
		{name: "PUT is not PROXY", in: []byte("PUT / HTTP/1.1\r\n"), err: "no PROXY protocol header"},
		{name: "empty", in: nil, err: "EOF"},
		{name: "v2 bad signature", in: unhex(t, "0d0a0d0a000d0a5155495420 21 11 000c"), err: "no PROXY protocol header"},
		{name: "v2 truncated signature", in: unhex(t, "0d0a0d0a00"), err: "unexpected EOF"},
		{name: "v2 version 1", in: unhex(t, sigHex+"11 11 000c 0a000001 0a000002 0001 0002"), err: "unsupported version 1"},
		{name: "v2 version 3", in: unhex(t, sigHex+"31 11 000c 0a000001 0a000002 0001 0002"), err: "unsupported version 3"},
		{name: "v2 unknown command", in: unhex(t, sigHex+"22 11 000c 0a000001 0a000002 0001 0002"), err: "unknown command"},
		{name: "v2 unknown family", in: unhex(t, sigHex+"21 41 000c 0a000001 0a000002 0001 0002"), err: "unknown address family"},
		{name: "v2 short tcp4 block", in: unhex(t, sigHex+"21 11 0008 0a000001 0a000002"), err: "needs 12"},
		{name: "v2 short tcp6 block", in: unhex(t, sigHex+"21 21 000c 0a000001 0a000002 0001 0002"), err: "needs 36"},
		{name: "v2 truncated body", in: unhex(t, sigHex+"21 11 000c 0a000001"), err: "unexpected EOF"},
		{name: "v2 over the limit", in: unhex(t, sigHex+"21 11 1001"), err: "over the 4096-byte limit"},
		{name: "v2 bad TLV", in: unhex(t, sigHex+"21 11 0010 0a000001 0a000002 0001 0002 ea 0009 00"), err: "overruns"},
		{name: "v2 truncated TLV", in: unhex(t, sigHex+"21 11 000e 0a000001 0a000002 0001 0002 ea 00"), err: "truncated TLV"},
		{name: "v1 no CRLF", in: []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), err: "CRLF"},
		{name: "v1 too long", in: []byte("PROXY UNKNOWN " + strings.Repeat("x", 100) + "\r\n"), err: "no CRLF within 107"},
		{name: "v1 truncated", in: []byte("PROXY TCP4 1.2.3.4"), err: "unexpected EOF"},
		{name: "v1 lowercase", in: []byte("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), err: "no PROXY protocol header"},
		{name: "v1 family mismatch", in: []byte("PROXY TCP4 ::1 ::1 1 2\r\n"), err: "not TCP4"},
		{name: "v1 tcp6 with ipv4", in: []byte("PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n"), err: "not TCP6"},
		{name: "v1 bad address", in: []byte("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n"), err: "ParseAddr"},
		{name: "v1 port too big", in: []byte("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"), err: "bad port"},
		{name: "v1 signed port", in: []byte("PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n"), err: "bad port"},
		{name: "v1 double space", in: []byte("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n"), err: "malformed"},
		{name: "v1 missing port", in: []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"), err: "malformed"},
		{name: "v1 UDP", in: []byte("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n"), err: "malformed"},
		{name: "v1 zone", in: []byte("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"), err: "not TCP6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const after = "GET / HTTP/1.1\r\n"
			r := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(tt.in), strings.NewReader(after)), 16)
			if tt.err != "" {
				r = bufio.NewReaderSize(bytes.NewReader(tt.in), 16)
			}
			h, err := parseProxyHeader(r)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.version != tt.version || h.conveyed != tt.conveyed || h.size != len(tt.in) {
				t.Errorf("header %+v, want version %d conveyed %v size %d", h, tt.version, tt.conveyed, len(tt.in))
			}
			if tt.conveyed && (h.src != ap(tt.src) || h.dst != ap(tt.dst)) {
				t.Errorf("addresses %s -> %s, want %s -> %s", h.src, h.dst, tt.src, tt.dst)
			}
			// Nothing past the header was consumed.
			rest, _ := io.ReadAll(r)
			if string(rest) != after {
				t.Errorf("left %q after the header", rest)
			}
		})
	}
}

// FuzzParseProxyHeader: any input either fails or yields a header of size
// within the limits, leaving exactly the bytes past it unread.
func FuzzParseProxyHeader(f *testing.F) {
	for _, s := range []string{
		sigHex + "2111000c7f0000057f4d000a9c40ffff",
		sigHex + "21210024" + strings.Repeat("00", 36),
		sigHex + "20000000",
		sigHex + "2111001d0a0000010a00000200010002ea00080176706365 2d313204000300 0000",
	} {
		f.Add(unhex(f, s))
	}
	f.Add([]byte("PROXY TCP4 198.51.100.22 203.0.113.7 35646 80\r\nGET /"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReaderSize(bytes.NewReader(data), 16)
		h, err := parseProxyHeader(r)
		if err != nil {
			return
		}
		if h.size > len(data) || (h.version == 1 && h.size > maxV1Line) || (h.version == 2 && h.size > v2HeadSize+maxV2Payload) {
			t.Fatalf("header size %d of %d input bytes, version %d", h.size, len(data), h.version)
		}
		rest, _ := io.ReadAll(r)
		if !bytes.Equal(rest, data[h.size:]) {
			t.Fatalf("consumed more or less than the %d-byte header", h.size)
		}
		if h.conveyed != (h.src.IsValid() && h.dst.IsValid()) {
			t.Fatalf("conveyed %v with %v -> %v", h.conveyed, h.src, h.dst)
		}
	})
}

// startProxySidecar runs a sidecar with ProxyProtocol on in front of an
// upstream that records requests.
func startProxySidecar(t *testing.T, timeout time.Duration) (*Sidecar, *upstream) {
	up := newUpstream(t, nil)
	s := startSidecar(t, Config{Upstream: up.URL, ProxyProtocol: true, ProxyHeaderTimeout: timeout})
	return s, up
}

// rawRequest sends prefix + a GET on a new connection and returns the
// response status line ("" when the connection was closed without one).
func rawRequest(t *testing.T, addr string, prefix []byte) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	req := append(append([]byte{}, prefix...), "GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"...)
	if _, err := c.Write(req); err != nil {
		return ""
	}
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line)
}

func TestProxyProtocolSidecar(t *testing.T) {
	s, up := startProxySidecar(t, 0)
	tests := []struct {
		name   string
		prefix []byte
		realIP string // "" means: rejected
	}{
		{"v2 tcp4", unhex(t, sigHex+"2111000c c6336416 cb007107 8b3e 0050"), "198.51.100.22"},
		{"v2 tcp6", unhex(t, sigHex+"21210024 20010db8000000000000000000000001 00000000000000000000000000000001 01bb 1f90"), "2001:db8::1"},
		{"v1", []byte("PROXY TCP4 203.0.113.9 127.0.0.1 5000 9000\r\n"), "203.0.113.9"},
		{"v2 local: the real peer", unhex(t, sigHex+"20000000"), "127.0.0.1"},
		{"v1 unknown: the real peer", []byte("PROXY UNKNOWN\r\n"), "127.0.0.1"},
		{"no header", nil, ""},
		{"bad header", []byte("PROXY TCP4 nope\r\n"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := up.count()
			status := rawRequest(t, s.Addr(), tt.prefix)
			if tt.realIP == "" {
				if status != "" || up.count() != before {
					t.Fatalf("connection without a valid header answered %q", status)
				}
				return
			}
			if status != "HTTP/1.1 200 OK" {
				t.Fatalf("status %q", status)
			}
			h := up.last(t).header
			if h.Get("X-Real-IP") != tt.realIP || h.Get("X-Forwarded-For") != tt.realIP {
				t.Errorf("X-Real-IP %q X-Forwarded-For %q, want %s", h.Get("X-Real-IP"), h.Get("X-Forwarded-For"), tt.realIP)
			}
		})
	}
}

// TestProxyProtocolKeepAlive: one header, then several requests on the
// connection (bytes that arrived with the header are not lost).
func TestProxyProtocolKeepAlive(t *testing.T) {
	s, up := startProxySidecar(t, 0)
	c, err := net.DialTimeout("tcp", s.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	hdr := []byte("PROXY TCP4 192.0.2.1 127.0.0.1 1234 9000\r\n")
	req := "GET /k HTTP/1.1\r\nHost: h\r\n\r\n"
	if _, err := c.Write(append(hdr, req+req...)); err != nil { // one write: header and two requests
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for i := range 3 {
		if i == 2 {
			if _, err := io.WriteString(c, req); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("response %d: %d", i, resp.StatusCode)
		}
	}
	if n := up.count(); n != 3 {
		t.Errorf("upstream saw %d requests", n)
	}
	if ip := up.last(t).header.Get("X-Real-IP"); ip != "192.0.2.1" {
		t.Errorf("X-Real-IP %q", ip)
	}
}

// TestProxyProtocolTimeout: a connection that sends nothing is closed after
// the header timeout, and a slow one does not hold up others.
func TestProxyProtocolTimeout(t *testing.T) {
	s, _ := startProxySidecar(t, 200*time.Millisecond)
	idle, err := net.DialTimeout("tcp", s.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	start := time.Now()
	// Another connection is served meanwhile.
	if st := rawRequest(t, s.Addr(), []byte("PROXY UNKNOWN\r\n")); st != "HTTP/1.1 200 OK" {
		t.Fatalf("status %q while another connection waits", st)
	}
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = idle.Read(make([]byte, 1))
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("silent connection not closed: %v", err)
	}
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Errorf("closed after %s, before the 200ms timeout", el)
	}
}

// TestProxyListenerDeadlines: a deadline set before the header is read is
// kept, and bounds the header wait when it is earlier.
func TestProxyListenerDeadlines(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := ProxyListener(inner, time.Minute, nil)
	t.Cleanup(func() { ln.Close() })
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	start := time.Now()
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read without a header succeeded")
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("header wait ignored the earlier deadline: %s", el)
	}

	client2, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client2.Close()
	c2, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	fmt.Fprintf(client2, "PROXY TCP4 192.0.2.7 127.0.0.1 1 2\r\n")
	if got := c2.RemoteAddr().String(); got != "192.0.2.7:1" {
		t.Fatalf("RemoteAddr %s", got)
	}
	c2.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err = c2.Read(make([]byte, 1))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("user deadline lost: %v", err)
	}
}
