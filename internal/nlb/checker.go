package nlb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// HealthCheckUserAgent is the User-Agent of HTTP health checks, as AWS sends it.
const HealthCheckUserAgent = "ELB-HealthChecker/2.0"

// maxHealthCheckBody bounds how much of a health check response is read.
const maxHealthCheckBody = 64 << 10

// dialer dials targets from the load balancer's own address when that makes
// sense, so a target sees connections from the NLB's IP, as with AWS IP
// targets without client IP preservation.
type dialer struct {
	source  netip.Addr // invalid: let the kernel choose
	timeout time.Duration
}

func (d dialer) dial(ctx context.Context, to netip.AddrPort) (*net.TCPConn, error) {
	nd := net.Dialer{
		Timeout:         d.timeout,
		KeepAliveConfig: keepAlive,
	}
	if d.source.IsValid() && !d.source.IsUnspecified() &&
		d.source.Is4() == to.Addr().Is4() && d.source.IsLoopback() == to.Addr().IsLoopback() {
		nd.LocalAddr = &net.TCPAddr{IP: d.source.AsSlice()}
	}
	c, err := nd.DialContext(ctx, "tcp", to.String())
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

// dialHeader dials to and, when header is not empty, writes it before
// anything else, within the dialer's timeout.
func (d dialer) dialHeader(ctx context.Context, to netip.AddrPort, header []byte) (*net.TCPConn, error) {
	c, err := d.dial(ctx, to)
	if err != nil || len(header) == 0 {
		return c, err
	}
	if err := writeHeader(c, header, d.timeout); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// writeHeader writes a PROXY protocol header on a new connection.
func writeHeader(c *net.TCPConn, header []byte, timeout time.Duration) error {
	if timeout > 0 {
		c.SetWriteDeadline(time.Now().Add(timeout))
		defer c.SetWriteDeadline(time.Time{})
	}
	if _, err := c.Write(header); err != nil {
		return fmt.Errorf("write proxy protocol header: %w", err)
	}
	return nil
}

var keepAlive = net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second, Interval: 15 * time.Second, Count: 4}

// newProber returns the health check for hc (with defaults applied). With
// proxyV2, every check connection starts with a PROXY protocol v2 LOCAL
// header, as AWS sends on health checks of such a target group.
func newProber(hc HealthCheck, d dialer, proxyV2 bool) prober {
	d.timeout = hc.Timeout
	var header []byte
	if proxyV2 {
		header = ProxyV2LocalHeader()
	}
	if hc.Protocol == ProtocolTCP {
		return func(ctx context.Context, addr netip.AddrPort) checkResult {
			return tcpCheck(ctx, d, header, hc.Timeout, addr)
		}
	}
	m, _ := parseMatcher(hc.Matcher) // validated
	client := &http.Client{
		Transport: &http.Transport{
			Proxy: nil, // never through HTTP_PROXY
			DialContext: func(ctx context.Context, _, address string) (net.Conn, error) {
				ap, err := netip.ParseAddrPort(address)
				if err != nil {
					return nil, err
				}
				return d.dialHeader(ctx, ap, header)
			},
			DisableKeepAlives:      true, // a fresh connection per check, as ELB does
			ResponseHeaderTimeout:  hc.Timeout,
			MaxResponseHeaderBytes: maxHealthCheckBody,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return func(ctx context.Context, addr netip.AddrPort) checkResult {
		return httpCheck(ctx, client, hc.Path, m, hc.Timeout, addr)
	}
}

func tcpCheck(ctx context.Context, d dialer, header []byte, timeout time.Duration, addr netip.AddrPort) checkResult {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := d.dialHeader(ctx, addr, header)
	if err != nil {
		return failure(ctx, err)
	}
	c.Close()
	return passed()
}

func httpCheck(ctx context.Context, client *http.Client, path string, m matcher, timeout time.Duration, addr netip.AddrPort) checkResult {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr.String()+path, nil)
	if err != nil {
		return checkResult{reason: ReasonFailedHealthChecks, description: descFailedHealthChecks, err: err}
	}
	req.Host = addr.String()
	req.Header.Set("User-Agent", HealthCheckUserAgent)
	resp, err := client.Do(req)
	if err != nil {
		return failure(ctx, err)
	}
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxHealthCheckBody))
	resp.Body.Close()
	if !m.match(resp.StatusCode) {
		return checkResult{
			reason:      ReasonFailedHealthChecks,
			description: descCodeMismatch(resp.StatusCode),
			err:         fmt.Errorf("GET %s: status %d", req.URL, resp.StatusCode),
			code:        resp.StatusCode,
		}
	}
	if err != nil && ctx.Err() != nil {
		return failure(ctx, err) // the body did not arrive in time
	}
	return passed()
}

// failure is a check that got no answer: refused, reset or timed out. An
// NLB reports all of them alike (Target.Timeout is an ALB code); the error
// says which for the log.
func failure(ctx context.Context, err error) checkResult {
	var ne net.Error
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return checkResult{reason: ReasonFailedHealthChecks, description: descTimedOut, err: fmt.Errorf("timed out: %w", err), timeout: true}
	}
	return checkResult{reason: ReasonFailedHealthChecks, description: descFailedHealthChecks, err: err}
}
