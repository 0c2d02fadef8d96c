package nlb

import (
	"encoding/binary"
	"net/netip"
)

// PROXY protocol version 2 (https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt,
// section 2.2), the header an AWS NLB sends when proxy_protocol_v2.enabled.
const (
	proxyV2Version  = 0x20 // high nibble: version 2
	proxyV2Local    = 0x00 // command LOCAL: health checks, no addresses
	proxyV2Proxy    = 0x01 // command PROXY: a connection relayed for a client
	proxyV2TCP4     = 0x11 // AF_INET, STREAM
	proxyV2TCP6     = 0x21 // AF_INET6, STREAM
	proxyV2Unspec   = 0x00 // AF_UNSPEC, UNSPEC
	proxyV2HeadSize = 16
)

// proxyV2Signature opens every version 2 header.
var proxyV2Signature = [12]byte{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A}

// ProxyV2Header returns the PROXY protocol v2 header the load balancer
// writes on a target connection: command PROXY, TCP, source src (the client)
// and destination dst (the listener). Both are sent as IPv4 when both are
// IPv4 (or IPv4-mapped), otherwise as IPv6 (IPv4 addresses mapped).
func ProxyV2Header(src, dst netip.AddrPort) []byte {
	s, d := src.Addr().Unmap(), dst.Addr().Unmap()
	b := make([]byte, 0, proxyV2HeadSize+36)
	b = append(b, proxyV2Signature[:]...)
	b = append(b, proxyV2Version|proxyV2Proxy)
	if s.Is4() && d.Is4() {
		b = append(b, proxyV2TCP4, 0, 12)
		s4, d4 := s.As4(), d.As4()
		b = append(b, s4[:]...)
		b = append(b, d4[:]...)
	} else {
		b = append(b, proxyV2TCP6, 0, 36)
		s16, d16 := s.As16(), d.As16()
		b = append(b, s16[:]...)
		b = append(b, d16[:]...)
	}
	b = binary.BigEndian.AppendUint16(b, src.Port())
	b = binary.BigEndian.AppendUint16(b, dst.Port())
	return b
}

// ProxyV2LocalHeader returns the PROXY protocol v2 header of a connection
// the load balancer makes on its own behalf (health checks): command LOCAL,
// family UNSPEC, no addresses. A receiver uses the real peer address.
func ProxyV2LocalHeader() []byte {
	b := make([]byte, 0, proxyV2HeadSize)
	b = append(b, proxyV2Signature[:]...)
	return append(b, proxyV2Version|proxyV2Local, proxyV2Unspec, 0, 0)
}
