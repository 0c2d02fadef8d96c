package stack

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"strings"
)

// A private block is where a stack's private side lives: the load
// balancer's address (nlb.address) and the task subnet (tasks.subnet).
// `portway up --subnet CIDR` names one: the lower half of the CIDR holds
// the load balancer, at its network address + 10, the upper half is the
// task subnet (127.77.4.0/23: NLB 127.77.4.10, tasks 127.77.5.0/24). A
// stack that names neither address (the built-in stack, or a file without
// nlb.address and tasks.subnet) gets the default block, 127.77.0.0/23, or
// when that is taken the next free one of autoBlocks.
type Block struct {
	NLBAddress netip.Addr
	TaskSubnet netip.Prefix
}

// DefaultBlock is 127.77.0.0/23: NLB 127.77.0.10, tasks 127.77.1.0/24.
func DefaultBlock() Block {
	return Block{NLBAddress: netip.MustParseAddr(DefaultNLBAddress), TaskSubnet: netip.MustParsePrefix(DefaultTaskSubnet)}
}

// autoBlocks are the blocks `portway up` picks from, in order: 127.77.0.0/23,
// 127.77.2.0/23, … 127.77.98.0/23 (127.77.100.0 and up are left to tests
// and explicit choices).
func autoBlocks() []Block {
	out := make([]Block, 0, 50)
	for k := 0; k < 50; k++ {
		b, err := ParseSubnet(fmt.Sprintf("127.77.%d.0/23", 2*k))
		if err != nil {
			panic(err) // the list is fixed
		}
		out = append(out, b)
	}
	return out
}

// Subnet is the CIDR that names the block (--subnet), when the block has
// the shape ParseSubnet makes.
func (b Block) Subnet() string {
	p := netip.PrefixFrom(b.TaskSubnet.Addr(), b.TaskSubnet.Bits()-1).Masked()
	if want, err := ParseSubnet(p.String()); err == nil && want == b {
		return p.String()
	}
	return ""
}

func (b Block) String() string {
	return fmt.Sprintf("nlb %s, tasks %s", b.NLBAddress, b.TaskSubnet)
}

// ParseSubnet reads a --subnet value: an IPv4 network address within
// 127.0.0.0/8 with a prefix length from /16 to /27. Its lower half holds
// the load balancer at the half's first address + 10; its upper half is
// the task subnet.
func ParseSubnet(s string) (Block, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return Block{}, fmt.Errorf("%q is not a CIDR such as 127.77.4.0/23", s)
	}
	if !p.Addr().Is4() || !netip.MustParsePrefix("127.0.0.0/8").Contains(p.Addr()) {
		return Block{}, fmt.Errorf("%s is not a loopback network: the stack's private side stays within 127.0.0.0/8", s)
	}
	if p.Bits() < 16 || p.Bits() > 27 {
		return Block{}, fmt.Errorf("%s: the prefix length must be /16 to /27 (its lower half holds the load balancer, its upper half the tasks)", s)
	}
	if p.Masked() != p {
		return Block{}, fmt.Errorf("%s is not a network address; did you mean %s?", s, p.Masked())
	}
	lower := netip.PrefixFrom(p.Addr(), p.Bits()+1)
	nlb := lower.Addr()
	for range 10 {
		nlb = nlb.Next()
	}
	a := p.Addr().As4()
	half := uint32(1) << (32 - p.Bits() - 1)
	n := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	n += half
	upper := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), p.Bits()+1)
	return Block{NLBAddress: nlb, TaskSubnet: upper}, nil
}

// autoBlock reports whether the config leaves its block to `portway up`:
// neither nlb.address nor tasks.subnet is set.
func (c Config) autoBlock() bool { return c.NLB.Address == "" && c.Tasks.Subnet == "" }

// configBlock is the block the config names; an error names a field that
// is set without the other, or that does not parse (Validate says more).
func (c Config) configBlock() (Block, error) {
	switch {
	case c.NLB.Address == "":
		return Block{}, errors.New("nlb.address: must be set when tasks.subnet is (or leave both out: portway up then picks a free block)")
	case c.Tasks.Subnet == "":
		return Block{}, errors.New("tasks.subnet: must be set when nlb.address is (or leave both out: portway up then picks a free block)")
	}
	a, err := netip.ParseAddr(c.NLB.Address)
	if err != nil {
		return Block{}, fmt.Errorf("nlb.address: %q is not an IP address", c.NLB.Address)
	}
	p, err := netip.ParsePrefix(c.Tasks.Subnet)
	if err != nil {
		return Block{}, fmt.Errorf("tasks.subnet: %q is not a CIDR", c.Tasks.Subnet)
	}
	return Block{NLBAddress: a, TaskSubnet: p}, nil
}

// WithBlock returns the config moved to block b: nlb.address and
// tasks.subnet, and every gateway stage variable whose value is the old
// load balancer address (the default 127.77.0.10 when nlb.address was not
// set), as well as that address in integration URIs. With nlb.address not
// set and no stage variable nlb_host, nlb_host is set to the address. The
// config's maps and lists are copied, never changed in place.
func (c Config) WithBlock(b Block) Config {
	old := c.NLB.Address
	auto := old == ""
	if auto {
		old = DefaultNLBAddress
	}
	addr := b.NLBAddress.String()
	c.NLB.Address = addr
	c.Tasks.Subnet = b.TaskSubnet.String()
	move := func(vars map[string]string) map[string]string {
		out := maps.Clone(vars)
		for k, v := range out {
			if v == old {
				out[k] = addr
			}
		}
		return out
	}
	c.Gateway.StageVariables = move(c.Gateway.StageVariables)
	if auto {
		if c.Gateway.StageVariables == nil {
			c.Gateway.StageVariables = map[string]string{}
		}
		if _, ok := c.Gateway.StageVariables["nlb_host"]; !ok {
			c.Gateway.StageVariables["nlb_host"] = addr
		}
	}
	stages := append(c.Gateway.Stages[:0:0], c.Gateway.Stages...)
	for i := range stages {
		stages[i].Variables = move(stages[i].Variables)
	}
	c.Gateway.Stages = stages
	uri := strings.NewReplacer("//"+old+":", "//"+addr+":", "//"+old+"/", "//"+addr+"/")
	res := make([]ResourceConfig, len(c.Gateway.Resources))
	for i, r := range c.Gateway.Resources {
		r.Methods = append([]MethodConfig(nil), r.Methods...)
		for j := range r.Methods {
			r.Methods[j].Integration.URI = uri.Replace(r.Methods[j].Integration.URI)
		}
		res[i] = r
	}
	if c.Gateway.Resources != nil {
		c.Gateway.Resources = res
	}
	return c
}

// UnsetBlock clears nlb.address and tasks.subnet, leaving the block to
// Start: `portway up` does so for the built-in stack, so that a second
// one on the machine moves to the next free block.
func (c *Config) UnsetBlock() { c.NLB.Address, c.Tasks.Subnet = "", "" }
