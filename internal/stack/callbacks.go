package stack

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"

	"github.com/portway/portway/internal/gateway"
)

// The environment variables every container of the services gets, for
// `portway app --callback-allow/--callback-deny` (and any other program
// that calls URLs its clients give it): comma-separated lists.
const (
	// EnvCallbackAllow is storage.callbacks.allow: CIDRs.
	EnvCallbackAllow = "PORTWAY_CALLBACK_ALLOW"
	// EnvCallbackDeny is the stack's own addresses: IP:port of the gateway,
	// auth and control listeners as bound, the load balancer's IP, the
	// task subnet.
	EnvCallbackDeny = "PORTWAY_CALLBACK_DENY"
)

// taskEnv is the supervisor's ExtraEnv: the callback policy once the
// listeners are bound, nothing before (then an app allows no loopback or
// private address at all).
func (s *Stack) taskEnv() []string {
	if e := s.callbackEnv.Load(); e != nil {
		return *e
	}
	return nil
}

// setCallbackEnv works out the callback policy from the bound listeners;
// it runs after the gateway has started and before any task does.
func (s *Stack) setCallbackEnv(gw *gateway.Gateway) error {
	c := s.cfg
	deny := []string{}
	for _, l := range []struct{ name, listen, url string }{
		{"gateway.listen", c.Gateway.Listen, gw.URL()},
		{"auth.listen", c.Auth.Listen, s.auth.URL()},
		{"control.listen", c.Control.Listen, s.control.URL()},
	} {
		e, err := listenerDeny(l.listen, l.url)
		if err != nil {
			return fmt.Errorf("%s: %w", l.name, err)
		}
		deny = append(deny, e)
	}
	deny = append(deny, c.NLB.Address, c.Tasks.Subnet)
	if s.collector != nil {
		deny = append(deny, s.collector.Addr()) // the trace collector: no callback reaches it
	}
	env := []string{
		EnvCallbackAllow + "=" + strings.Join(c.Storage.Callbacks.Allow, ","),
		EnvCallbackDeny + "=" + strings.Join(deny, ","),
	}
	if s.collector != nil {
		env = append(env, s.collector.Env()...)
	}
	s.callbackEnv.Store(&env)
	s.log.Info("ingest callbacks", "allow", c.Storage.Callbacks.Allow, "deny", deny)
	return nil
}

// listenerDeny is the deny entry of a listener configured as listen and
// bound at boundURL ("http://127.0.0.1:8080"): its IP:port, or, when it
// listens on every address (":8080", "0.0.0.0:8080", "[::]:8080"),
// 0.0.0.0:port, which denies the port on every address of the machine.
func listenerDeny(listen, boundURL string) (string, error) {
	u, err := url.Parse(boundURL)
	if err != nil {
		return "", fmt.Errorf("bound URL %q: %w", boundURL, err)
	}
	ap, err := netip.ParseAddrPort(u.Host)
	if err != nil {
		return "", fmt.Errorf("bound address %q: %w", u.Host, err)
	}
	if host, _, err := net.SplitHostPort(listen); err == nil {
		if ip, perr := netip.ParseAddr(host); host == "" || (perr == nil && ip.IsUnspecified()) {
			ap = netip.AddrPortFrom(netip.IPv4Unspecified(), ap.Port())
		}
	}
	return ap.String(), nil
}
