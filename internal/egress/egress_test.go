package egress

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func mustNew(t *testing.T, c Config) *Policy {
	t.Helper()
	p, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Check is tested on addresses only: nothing here connects anywhere but
// loopback.
func TestCheck(t *testing.T) {
	p := mustNew(t, Config{
		Allow: []string{"127.0.0.0/8", "::1/128", "10.1.0.0/16", "169.254.0.0/16", "224.0.0.0/4", "100.64.1.0/24"},
		Deny:  []string{"127.77.0.10", "127.77.1.0/24", "127.0.0.1:8082", "[::1]:8080", "10.1.2.3", "203.0.113.9:443"},
	})
	p.localAddrs = func() ([]netip.Addr, error) { return nil, nil }
	for _, tt := range []struct {
		addr   string
		reason Reason // "" = allowed
		rng    string
	}{
		// Public.
		{"93.184.215.14:443", "", ""},
		{"[2606:4700::1111]:443", "", ""},
		{"203.0.113.9:80", "", ""}, // denied on 443 only
		{"203.0.113.9:443", Denied, ""},
		// Deny wins over Allow.
		{"127.77.0.10:65535", Denied, ""},
		{"127.77.0.10:1", Denied, ""},
		{"127.77.1.5:9001", Denied, ""},
		{"127.0.0.1:8082", Denied, ""},
		{"127.0.0.1:8083", "", ""},
		{"[::1]:8080", Denied, ""},
		{"[::1]:8081", "", ""},
		{"10.1.2.3:80", Denied, ""},
		{"10.1.2.4:80", "", ""},
		// IPv4-mapped IPv6 is its IPv4 address.
		{"[::ffff:127.77.0.10]:65535", Denied, ""},
		{"[::ffff:127.0.0.1]:8082", Denied, ""},
		{"[::ffff:169.254.169.254]:80", LinkLocal, ""},
		{"[::ffff:10.9.9.9]:80", NotAllowed, "private"},
		{"[::ffff:0.0.0.0]:80", Unspecified, ""},
		{"[::ffff:255.255.255.255]:80", Broadcast, ""},
		// Always refused, even inside Allow.
		{"169.254.169.254:80", LinkLocal, ""},
		{"169.254.1.1:80", LinkLocal, ""},
		{"[fe80::1]:80", LinkLocal, ""},
		{"[fe80::1%lo]:80", LinkLocal, ""},
		{"0.0.0.0:80", Unspecified, ""},
		{"0.1.2.3:80", Unspecified, ""},
		{"[::]:80", Unspecified, ""},
		{"224.0.0.1:80", Multicast, ""},
		{"239.255.255.250:1900", Multicast, ""},
		{"[ff02::1]:80", Multicast, ""},
		{"[ff05::2]:80", Multicast, ""},
		{"255.255.255.255:80", Broadcast, ""},
		// Loopback, private, shared: only inside Allow.
		{"127.0.0.1:9", "", ""},
		{"127.1.2.3:9", "", ""},
		{"[::1]:9", "", ""},
		{"10.2.0.1:80", NotAllowed, "private"},
		{"172.16.0.1:80", NotAllowed, "private"},
		{"172.31.255.255:80", NotAllowed, "private"},
		{"192.168.1.1:80", NotAllowed, "private"},
		{"[fd00::1]:80", NotAllowed, "private"},
		{"[fc00::1]:80", NotAllowed, "private"},
		{"100.64.0.1:80", NotAllowed, "shared (CGNAT)"},
		{"100.127.255.255:80", NotAllowed, "shared (CGNAT)"},
		{"100.64.1.7:80", "", ""},
		{"172.32.0.1:80", "", ""}, // just outside 172.16/12
	} {
		err := p.Check(netip.MustParseAddrPort(tt.addr))
		if tt.reason == "" {
			if err != nil {
				t.Errorf("%s: refused: %v", tt.addr, err)
			}
			continue
		}
		re, ok := Refused(err)
		if !ok || re.Reason != tt.reason || re.Range != tt.rng {
			t.Errorf("%s: got %v, want %s %s", tt.addr, err, tt.reason, tt.rng)
		}
	}
}

func TestNothingAllowedByDefault(t *testing.T) {
	p := mustNew(t, Config{})
	for _, a := range []string{"127.0.0.1:80", "[::1]:80", "10.0.0.1:80", "192.168.0.1:80", "100.64.0.1:80", "[::ffff:127.0.0.1]:80"} {
		re, ok := Refused(p.Check(netip.MustParseAddrPort(a)))
		if !ok || re.Reason != NotAllowed {
			t.Errorf("%s: %v", a, re)
		}
	}
	if err := p.Check(netip.MustParseAddrPort("8.8.8.8:443")); err != nil {
		t.Errorf("public address refused: %v", err)
	}
}

func TestRefusedErrorWords(t *testing.T) {
	p := mustNew(t, Config{Deny: []string{"127.77.0.10"}})
	for addr, want := range map[string]string{
		"127.77.0.10:65535":    "127.77.0.10:65535 is denied",
		"[::ffff:10.0.0.1]:80": "10.0.0.1:80 is a private address outside the allowed ranges",
		"169.254.169.254:80":   "169.254.169.254:80 is link-local",
		"255.255.255.255:80":   "255.255.255.255:80 is the broadcast address",
		"[fe80::1%eth0]:80":    "[fe80::1]:80 is link-local",
		"127.0.0.1:80":         "127.0.0.1:80 is a loopback address outside the allowed ranges",
		"100.64.0.1:80":        "100.64.0.1:80 is a shared (CGNAT) address outside the allowed ranges",
		"[ff02::1]:80":         "[ff02::1]:80 is multicast",
		"[::]:80":              "[::]:80 is unspecified",
	} {
		if err := p.Check(netip.MustParseAddrPort(addr)); err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %q", addr, err, want)
		}
	}
}

// A deny entry on the unspecified address is a listener on every address
// of this machine: loopback and each interface address, on its port.
func TestDenyEveryLocalAddress(t *testing.T) {
	p := mustNew(t, Config{Allow: []string{"0.0.0.0/0", "::/0"}, Deny: []string{"0.0.0.0:8082", "[::]:8080"}})
	p.localAddrs = func() ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("192.168.1.5"), netip.MustParseAddr("203.0.113.7")}, nil
	}
	for addr, denied := range map[string]bool{
		"127.0.0.1:8082":   true,
		"127.9.9.9:8082":   true,
		"[::1]:8080":       true,
		"192.168.1.5:8082": true,
		"203.0.113.7:8080": true,
		"203.0.113.7:8081": false,
		"203.0.113.8:8082": false,
		"192.168.1.6:8082": false,
	} {
		err := p.Check(netip.MustParseAddrPort(addr))
		if re, ok := Refused(err); ok != denied || (ok && re.Reason != Denied) {
			t.Errorf("%s: %v, want denied %v", addr, err, denied)
		}
	}
	// When this machine's addresses cannot be listed, the port is refused
	// everywhere.
	p.localAddrs = func() ([]netip.Addr, error) { return nil, errors.New("no") }
	if err := p.Check(netip.MustParseAddrPort("203.0.113.8:8082")); err == nil {
		t.Error("allowed without knowing the local addresses")
	}
}

func TestValidateNamesTheEntry(t *testing.T) {
	err := Config{
		Allow: []string{"127.0.0.0/8", "10.0.0.0/33", "10.0.0.1"},
		Deny:  []string{"127.0.0.1:0", "127.77.0.10", "[::1]:8080", "nonsense", "::ffff:127.0.0.0/104"},
	}.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		`allow[1]: "10.0.0.0/33" is not a CIDR`,
		`allow[2]: "10.0.0.1" is not a CIDR`,
		`deny[0]: "127.0.0.1:0": the port must be from 1 to 65535`,
		`deny[3]: "nonsense" is not an IP, IP:port or CIDR`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v\ndoes not say %q", err, want)
		}
	}
	for _, ok := range []string{"allow[0]", "deny[1]", "deny[2]", "deny[4]"} {
		if strings.Contains(err.Error(), ok) {
			t.Errorf("%v\nrejects the valid %s", err, ok)
		}
	}
	if _, err := New(Config{Deny: []string{"x"}}); err == nil {
		t.Error("New accepted an invalid config")
	}
}

// A mapped CIDR in the config matches the plain IPv4 addresses.
func TestMappedPrefix(t *testing.T) {
	p := mustNew(t, Config{Allow: []string{"::ffff:10.0.0.0/104"}, Deny: []string{"::ffff:10.0.0.9", "::ffff:127.0.0.0/104"}})
	if err := p.Check(netip.MustParseAddrPort("10.0.0.1:80")); err != nil {
		t.Error(err)
	}
	if re, ok := Refused(p.Check(netip.MustParseAddrPort("10.0.0.9:80"))); !ok || re.Reason != Denied {
		t.Error("mapped deny IP does not match")
	}
	if re, ok := Refused(p.Check(netip.MustParseAddrPort("127.0.0.1:80"))); !ok || re.Reason != Denied {
		t.Error("mapped deny CIDR does not match")
	}
}

// The dialer refuses before connecting: the listener of a denied address
// never gets a connection.
func TestDialerRefusesBeforeConnecting(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	p := mustNew(t, Config{Allow: []string{"127.0.0.0/8"}, Deny: []string{addr}})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, target := range []string{addr, strings.Replace(addr, "127.0.0.1", "localhost", 1)} {
		conn, err := p.Dialer(5*time.Second).DialContext(ctx, "tcp4", target)
		if err == nil {
			conn.Close()
			t.Fatalf("%s: dialled", target)
		}
		if re, ok := Refused(err); !ok || re.Reason != Denied {
			t.Fatalf("%s: %v", target, err)
		}
	}
	// A connect would have completed its handshake before Dial returned,
	// so an accept that does not wait tells whether one happened.
	if err := ln.(*net.TCPListener).SetDeadline(time.Now()); err != nil {
		t.Fatal(err)
	}
	if c, err := ln.Accept(); err == nil {
		c.Close()
		t.Fatal("the denied listener got a connection")
	}
	// Allowed, the same dialer connects.
	p = mustNew(t, Config{Allow: []string{"127.0.0.0/8"}})
	conn, err := p.Dialer(5*time.Second).DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
}

// Proxies from the environment are not used: a proxy would connect on the
// transport's behalf, past the dialer's check.
func TestTransportUsesNoProxy(t *testing.T) {
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:3128")
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
	tr := mustNew(t, Config{}).Transport()
	if tr.Proxy != nil {
		t.Fatal("the transport has a proxy function")
	}
	if tr.DialContext == nil || tr.DialTLSContext != nil || tr.Dial != nil || tr.DialTLS != nil {
		t.Fatal("the transport does not dial through the policy's dialer only")
	}
}

// Control is what the dialer calls with the resolved address, before
// connect(2).
func TestControl(t *testing.T) {
	p := mustNew(t, Config{Allow: []string{"10.0.0.0/8"}, Deny: []string{"10.0.0.1:80"}})
	for addr, reason := range map[string]Reason{
		"169.254.169.254:80":          LinkLocal,
		"[::ffff:169.254.169.254]:80": LinkLocal,
		"10.0.0.1:80":                 Denied,
		"[::ffff:10.0.0.1]:80":        Denied,
		"192.168.0.1:443":             NotAllowed,
		"10.0.0.1:81":                 "",
		"93.184.215.14:443":           "",
	} {
		err := p.Control("tcp", addr, nil)
		re, refused := Refused(err)
		if (reason == "") != (err == nil) || (reason != "" && (!refused || re.Reason != reason)) {
			t.Errorf("%s: %v, want %q", addr, err, reason)
		}
	}
	if err := p.Control("tcp", "example.org:80", nil); err == nil {
		t.Error("an address that is not IP:port passed")
	}
}
