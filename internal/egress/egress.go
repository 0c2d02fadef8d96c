// Package egress decides which addresses portway may connect to on someone
// else's say-so (an ingest's callback URL), and enforces it where it
// cannot be dodged: in the dialer, on the resolved IP and port being
// connected to, after DNS and before connect(2). A name that resolves to a
// harmless address when checked and to a forbidden one when dialled (DNS
// rebinding), a redirect, or an IPv4-mapped IPv6 spelling all end at the
// same check. A refused address gets no connection attempt at all.
//
// The rules, in order:
//
//  1. Deny entries are refused, whatever Allow says: an IP (every port),
//     an IP:port, or a CIDR. The unspecified address (0.0.0.0 or ::) in a
//     deny entry stands for every address of this machine, as a listener
//     bound to it is reachable at each.
//  2. Always refused: unspecified (0.0.0.0/8, ::), link-local (169.254/16,
//     which holds the cloud metadata address, and fe80::/10), multicast,
//     and broadcast (255.255.255.255).
//  3. Loopback (127/8, ::1), private (10/8, 172.16/12, 192.168/16,
//     fc00::/7) and shared CGNAT (100.64/10) addresses only inside an Allow
//     CIDR.
//  4. Every other (public) address is allowed.
//
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are checked as the IPv4
// address they are.
package egress

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// Config is an address policy.
type Config struct {
	// Allow lists CIDRs inside which loopback, private and shared (CGNAT)
	// addresses may be connected to.
	Allow []string
	// Deny lists addresses never connected to: an IP, an IP:port
	// ([v6]:port) or a CIDR.
	Deny []string
}

// Validate reports every bad entry, each error naming it: "allow[1]: …",
// "deny[0]: …".
func (c Config) Validate() error {
	var errs []error
	for i, s := range c.Allow {
		if _, err := parseAllow(s); err != nil {
			errs = append(errs, fmt.Errorf("allow[%d]: %w", i, err))
		}
	}
	for i, s := range c.Deny {
		if _, err := parseDeny(s); err != nil {
			errs = append(errs, fmt.Errorf("deny[%d]: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// denyRule is a parsed Deny entry; port 0 means every port.
type denyRule struct {
	prefix netip.Prefix
	port   uint16
}

func parseAllow(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil || p.Addr().Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR such as 127.0.0.0/8 or ::1/128", s)
	}
	return unmapPrefix(p), nil
}

func parseDeny(s string) (denyRule, error) {
	bad := fmt.Errorf("%q is not an IP, IP:port or CIDR", s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Addr().Zone() != "" {
			return denyRule{}, bad
		}
		if ap.Port() == 0 {
			return denyRule{}, fmt.Errorf("%q: the port must be from 1 to 65535 (leave it out for every port)", s)
		}
		ip := ap.Addr().Unmap()
		return denyRule{prefix: netip.PrefixFrom(ip, ip.BitLen()), port: ap.Port()}, nil
	}
	if ip, err := netip.ParseAddr(s); err == nil && ip.Zone() == "" {
		ip = ip.Unmap()
		return denyRule{prefix: netip.PrefixFrom(ip, ip.BitLen())}, nil
	}
	if p, err := netip.ParsePrefix(s); err == nil && p.Addr().Zone() == "" {
		return denyRule{prefix: unmapPrefix(p)}, nil
	}
	return denyRule{}, bad
}

// unmapPrefix turns ::ffff:a.b.c.d/n (n ≥ 96) into a.b.c.d/(n-96), so that
// it matches the unmapped addresses Check compares.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96).Masked()
	}
	return p.Masked()
}

// Policy is a validated Config; make one with New.
type Policy struct {
	allow []netip.Prefix
	deny  []denyRule
	// localAddrs lists this machine's interface addresses, for deny
	// entries on the unspecified address (tests replace it).
	localAddrs func() ([]netip.Addr, error)
}

// New validates c and returns its policy.
func New(c Config) (*Policy, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	p := &Policy{localAddrs: interfaceAddrs}
	for _, s := range c.Allow {
		a, _ := parseAllow(s)
		p.allow = append(p.allow, a)
	}
	for _, s := range c.Deny {
		d, _ := parseDeny(s)
		p.deny = append(p.deny, d)
	}
	return p, nil
}

// Reason is why an address is refused.
type Reason string

// Reasons.
const (
	Denied      Reason = "denied"      // a Deny entry
	Unspecified Reason = "unspecified" // 0.0.0.0/8, ::
	LinkLocal   Reason = "link-local"  // 169.254/16, fe80::/10
	Multicast   Reason = "multicast"
	Broadcast   Reason = "broadcast"   // 255.255.255.255
	NotAllowed  Reason = "not allowed" // loopback, private or shared, outside Allow
)

// RefusedError is the error of a refused address.
type RefusedError struct {
	Addr   netip.AddrPort // unmapped, without zone
	Reason Reason
	// Range names the address's range for NotAllowed: "loopback",
	// "private" or "shared (CGNAT)".
	Range string
}

func (e *RefusedError) Error() string {
	switch e.Reason {
	case NotAllowed:
		return fmt.Sprintf("%s is a %s address outside the allowed ranges", e.Addr, e.Range)
	case Broadcast:
		return fmt.Sprintf("%s is the broadcast address", e.Addr)
	default:
		return fmt.Sprintf("%s is %s", e.Addr, e.Reason)
	}
}

var (
	broadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})
	thisNet   = netip.MustParsePrefix("0.0.0.0/8")
	shared    = netip.MustParsePrefix("100.64.0.0/10")
)

// Check returns nil if ap may be connected to, else a *RefusedError.
func (p *Policy) Check(ap netip.AddrPort) error {
	ip := ap.Addr().Unmap().WithZone("")
	ap = netip.AddrPortFrom(ip, ap.Port())
	refuse := func(r Reason, rng string) error { return &RefusedError{Addr: ap, Reason: r, Range: rng} }
	if p.denied(ip, ap.Port()) {
		return refuse(Denied, "")
	}
	switch {
	case !ip.IsValid(), ip.IsUnspecified(), thisNet.Contains(ip):
		return refuse(Unspecified, "")
	case ip.IsLinkLocalUnicast():
		return refuse(LinkLocal, "")
	case ip.IsMulticast():
		return refuse(Multicast, "")
	case ip == broadcast:
		return refuse(Broadcast, "")
	}
	rng := ""
	switch {
	case ip.IsLoopback():
		rng = "loopback"
	case ip.IsPrivate():
		rng = "private"
	case shared.Contains(ip):
		rng = "shared (CGNAT)"
	default:
		return nil
	}
	for _, a := range p.allow {
		if a.Contains(ip) {
			return nil
		}
	}
	return refuse(NotAllowed, rng)
}

func (p *Policy) denied(ip netip.Addr, port uint16) bool {
	var local []netip.Addr // looked up once, if a rule needs it
	for _, d := range p.deny {
		if d.port != 0 && d.port != port {
			continue
		}
		if d.prefix.Addr().IsUnspecified() && d.prefix.IsSingleIP() {
			// A listener on every address of this machine.
			if ip.IsLoopback() {
				return true
			}
			if local == nil {
				var err error
				if local, err = p.localAddrs(); err != nil {
					return true // cannot tell: refuse
				}
			}
			for _, l := range local {
				if l == ip {
					return true
				}
			}
			continue
		}
		if d.prefix.Contains(ip) {
			return true
		}
	}
	return false
}

// Control is a net.Dialer Control function: it refuses, before connect(2),
// an address Check refuses.
func (p *Policy) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("egress: %s address %q: %w", network, address, err)
	}
	return p.Check(ap)
}

// Dialer returns a dialer that checks every address it connects to.
func (p *Policy) Dialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: p.Control}
}

// Transport returns an HTTP transport whose every connection goes through
// Dialer. It uses no proxy (a proxy would connect on the client's behalf,
// past the check) and bounds response headers to 64 KiB.
func (p *Policy) Transport() *http.Transport {
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            p.Dialer(30 * time.Second).DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           10,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
}

// interfaceAddrs lists this machine's interface addresses, unmapped.
func interfaceAddrs() ([]netip.Addr, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("egress: interface addresses: %w", err)
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out, nil
}

// Refused returns err's *RefusedError, if it is or wraps one (a dial
// error through net/http does).
func Refused(err error) (*RefusedError, bool) {
	var re *RefusedError
	ok := errors.As(err, &re)
	return re, ok
}
