package ecs

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// ipam hands out task addresses from a subnet: the lowest free host address
// (network+1 .. broadcast-1). An address is reused only after release, which
// the supervisor calls when the task is STOPPED. Not safe for concurrent use;
// the supervisor guards it.
type ipam struct {
	first, last uint32
	used        map[uint32]bool
}

func newIPAM(p netip.Prefix) *ipam {
	p = p.Masked()
	a4 := p.Addr().As4()
	network := binary.BigEndian.Uint32(a4[:])
	hostmask := uint32(1)<<(32-p.Bits()) - 1
	return &ipam{first: network + 1, last: (network | hostmask) - 1, used: map[uint32]bool{}}
}

func (a *ipam) allocate() (netip.Addr, error) {
	for n := a.first; n <= a.last; n++ {
		if !a.used[n] {
			a.used[n] = true
			return u32Addr(n), nil
		}
	}
	return netip.Addr{}, fmt.Errorf("no free address in subnet (%d in use)", len(a.used))
}

func (a *ipam) release(ip netip.Addr) {
	if ip.Is4() {
		b := ip.As4()
		delete(a.used, binary.BigEndian.Uint32(b[:]))
	}
}

func u32Addr(n uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], n)
	return netip.AddrFrom4(b)
}
