package nlb

import (
	"cmp"
	"hash/fnv"
	"net"
	"net/netip"
	"slices"
)

// flowHash hashes a TCP flow (source ip:port, destination ip:port) with
// FNV-1a. The protocol is always TCP, so it is left out.
func flowHash(src, dst netip.AddrPort) uint64 {
	h := fnv.New64a()
	for _, ap := range [2]netip.AddrPort{src, dst} {
		a := ap.Addr().As16()
		p := ap.Port()
		h.Write(a[:])
		h.Write([]byte{byte(p >> 8), byte(p)})
	}
	return h.Sum64()
}

func hashString(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// mix64 is the splitmix64 finalizer: it spreads FNV's weak low-entropy
// differences (consecutive source ports) over all 64 bits.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// rank orders ts for a flow by rendezvous (highest random weight) hashing:
// the first is the flow's target, the rest the order to fall back in. Adding
// or removing a target only moves the flows that pick (or picked) it.
func rank(flow uint64, ts []*target) {
	f := mix64(flow)
	slices.SortFunc(ts, func(a, b *target) int {
		sa, sb := mix64(f^a.hash), mix64(f^b.hash)
		return cmp.Or(cmp.Compare(sb, sa), a.addr.Compare(b.addr))
	})
}

func tcpAddrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}
