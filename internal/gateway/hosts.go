package gateway

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Hosts. The gateway answers only for the hosts it serves, named by the
// Host field or, in an absolute-form request, the target's authority
// (internal/h1 has checked either is host[:port], without userinfo):
//   - its listen address, an IP literal; when it listens on an unspecified
//     address (0.0.0.0, [::]), the address the connection arrived on;
//   - localhost;
//   - the custom domain names (Config.Domains) and Config.Hosts.
//
// Names compare case-insensitively, without a trailing dot; any port (or
// none) is accepted, as behind a port mapping or a TLS terminator the port
// the client named is not the one the gateway listens on. Any other host is
// answered 403 {"message":"Forbidden"} before any API is selected, as AWS
// answers an unknown host (so the API's gateway responses do not apply).
// The host checked is the one the backend learns as X-Forwarded-Host (with
// Config.ForwardedHeaders.Host), the
// public host its URLs (Location) are built from; the integration URI's
// host, which the backend gets as Host, is never offered as the public one.

// servedHosts is the set of hosts the gateway answers for. Read-only once
// the gateway serves.
type servedHosts struct {
	names    map[string]struct{} // lower case, no trailing dot
	ips      []netip.Addr        // unmapped
	anyLocal bool                // listening on an unspecified address
}

func newServedHosts(cfg Config) *servedHosts {
	s := &servedHosts{names: map[string]struct{}{"localhost": {}}}
	host, _, _ := net.SplitHostPort(cfg.Listen) // validated
	s.add(host)
	for _, d := range cfg.Domains {
		s.add(d.Name)
	}
	for _, h := range cfg.Hosts {
		s.add(h)
	}
	return s
}

// add adds a host name or IP literal (IPv6 with or without brackets); an
// empty or unspecified address means every address the gateway listens on.
func (s *servedHosts) add(host string) {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "" {
		s.anyLocal = true
		return
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		s.addIP(ip)
		return
	}
	s.names[strings.ToLower(strings.TrimSuffix(host, "."))] = struct{}{}
}

func (s *servedHosts) addIP(ip netip.Addr) {
	ip = ip.Unmap()
	if ip.IsUnspecified() {
		s.anyLocal = true
		return
	}
	for _, a := range s.ips {
		if a == ip {
			return
		}
	}
	s.ips = append(s.ips, ip)
}

// addListener adds the address a listener is bound to (a listen host given
// as a name resolves to it).
func (s *servedHosts) addListener(a net.Addr) {
	if ta, ok := a.(*net.TCPAddr); ok {
		s.addIP(ta.AddrPort().Addr())
	}
}

// check returns the host part of host (a Host value: lower case, without
// port, brackets or trailing dot) and whether the gateway serves it; conn
// is the client's connection (nil in benchmarks), whose local address
// counts when the gateway listens on an unspecified address. It does not
// allocate for a lower-case host.
func (s *servedHosts) check(host string, conn net.Conn) (string, bool) {
	name, bracketed := hostName(host)
	if name == "" {
		return name, false
	}
	if !bracketed {
		if _, ok := s.names[name]; ok {
			return name, true
		}
	}
	if c := name[0]; !bracketed && (c < '0' || c > '9') {
		return name, false // not an IPv4 literal
	}
	ip, err := netip.ParseAddr(name)
	if err != nil || bracketed != ip.Is6() {
		return name, false
	}
	ip = ip.Unmap()
	for _, a := range s.ips {
		if a == ip {
			return name, true
		}
	}
	if s.anyLocal && conn != nil {
		if ta, ok := conn.LocalAddr().(*net.TCPAddr); ok && ta.AddrPort().Addr().Unmap() == ip {
			return name, true
		}
	}
	return name, false
}

// hostName is the host part of a Host value: without port and, for an IP
// literal, without brackets (bracketed reports them); lower case, without
// a trailing dot.
func hostName(host string) (name string, bracketed bool) {
	if strings.HasPrefix(host, "[") {
		if i := strings.IndexByte(host, ']'); i > 0 {
			return strings.ToLower(host[1:i]), true
		}
	} else if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return strings.ToLower(strings.TrimSuffix(host, ".")), false
}

// validateHosts checks Config.Hosts: host names or IP addresses (IPv6 with
// or without brackets), without port, each once and none a custom domain.
func validateHosts(hosts []string, domains []Domain) []error {
	var errs []error
	add := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, a...)))
	}
	domainOf := map[string]string{}
	for i, d := range domains {
		domainOf[strings.ToLower(d.Name)] = fmt.Sprintf("domains[%d]", i)
	}
	seen := map[string]string{}
	for i, h := range hosts {
		f := fmt.Sprintf("hosts[%d]", i)
		if h == "" {
			add(f, "must not be empty")
			continue
		}
		key := strings.ToLower(strings.TrimSuffix(h, "."))
		if ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")); err == nil && ip.Zone() == "" {
			if ip.IsUnspecified() {
				add(f, "must not be an unspecified address, got %q", h)
				continue
			}
			key = ip.Unmap().String()
		} else if checkDomainName(key) != nil {
			add(f, "must be a host name or IP address without port, got %q", h)
			continue
		}
		if d, ok := domainOf[key]; ok {
			add(f, "%q is a custom domain (%s), served already", h, d)
		} else if prev, dup := seen[key]; dup {
			add(f, "%q is already listed by %s", h, prev)
		} else {
			seen[key] = f
		}
	}
	return errs
}
