package nlb

import (
	"bufio"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/portway/portway/internal/testutil"
)

// dialLink opens an in-process flow through the first listener.
func dialLink(t testing.TB, lb *LoadBalancer) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, ok, err := lb.DialListener(ctx, lb.ListenerAddrs()[0])
	if !ok || err != nil {
		t.Fatalf("DialListener: ok=%v err=%v", ok, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestDialListenerNotOurs(t *testing.T) {
	lb := startLB(t, testConfig(t, 1))
	for _, addr := range []string{"127.0.0.1:1", "localhost:80", "not an address", ""} {
		c, ok, err := lb.DialListener(context.Background(), addr)
		if ok || c != nil || err != nil {
			t.Errorf("%q: got ok=%v conn=%v err=%v, want not ours", addr, ok, c, err)
		}
	}
}

// TestDialListenerSpreadsAndCounts: in-process flows go to healthy targets
// by flow hash, are counted as connections while open, and released on
// Close.
func TestDialListenerSpreadsAndCounts(t *testing.T) {
	tts, hcPort := startTargets(t, targetSpec{ip: "127.0.0.2"}, targetSpec{ip: "127.0.0.3"})
	lb := startLB(t, testConfig(t, hcPort))
	register(t, lb, tts...)
	waitState(t, lb, StateHealthy, tts...)

	var seen counter
	var open []net.Conn
	for range 40 {
		c := dialLink(t, lb)
		name, err := ask(c, bufio.NewReader(c))
		if err != nil {
			t.Fatal(err)
		}
		seen.add(name)
		open = append(open, c)
	}
	if seen.m[tts[0].ip] == 0 || seen.m[tts[1].ip] == 0 {
		t.Fatalf("flows not spread over both targets: %v", seen.m)
	}
	a, b := healthOf(t, lb, tts[0]), healthOf(t, lb, tts[1])
	if a.ActiveConnections+b.ActiveConnections != 40 || a.Connections+b.Connections != 40 {
		t.Fatalf("counted %d+%d active, %d+%d total; want 40", a.ActiveConnections, b.ActiveConnections, a.Connections, b.Connections)
	}
	for _, c := range open {
		c.Close()
		c.Close() // a second Close is harmless
	}
	a, b = healthOf(t, lb, tts[0]), healthOf(t, lb, tts[1])
	if a.ActiveConnections+b.ActiveConnections != 0 {
		t.Fatalf("%d connections still active after Close", a.ActiveConnections+b.ActiveConnections)
	}
}

func TestDialListenerRetriesAnotherTarget(t *testing.T) {
	tts, hcPort := startTargets(t, targetSpec{ip: "127.0.0.2"}, targetSpec{ip: "127.0.0.3", closed: true})
	cfg := testConfig(t, hcPort)
	cfg.TargetGroups[0].HealthCheck.Interval = 10 * time.Second
	cfg.TargetGroups[0].HealthCheck.Timeout = 2 * time.Second
	lb := startLB(t, cfg)
	register(t, lb, tts...)
	waitState(t, lb, StateHealthy, tts...)
	for i := range 20 {
		c := dialLink(t, lb)
		if name, err := ask(c, bufio.NewReader(c)); err != nil || name != tts[0].ip {
			t.Fatalf("flow %d: %q, %v", i, name, err)
		}
		c.Close()
	}
}

func TestDialListenerNoTarget(t *testing.T) {
	lb := startLB(t, testConfig(t, 1))
	c, ok, err := lb.DialListener(context.Background(), lb.ListenerAddrs()[0])
	if !ok || !errors.Is(err, ErrNoTarget) || c != nil {
		t.Fatalf("got ok=%v conn=%v err=%v, want ErrNoTarget", ok, c, err)
	}
}

func TestDialListenerDrainingWithTermination(t *testing.T) {
	tts, hcPort := startTargets(t, targetSpec{ip: "127.0.0.2"})
	cfg := testConfig(t, hcPort)
	cfg.TargetGroups[0].DeregistrationDelay = -1
	cfg.TargetGroups[0].ConnectionTermination = true
	lb := startLB(t, cfg)
	register(t, lb, tts...)
	waitState(t, lb, StateHealthy, tts...)
	c := dialLink(t, lb)
	if err := lb.DeregisterTargets("tg", []Target{tts[0].target()}); err != nil {
		t.Fatal(err)
	}
	if err := waitClosed(c, 5*time.Second); err != nil {
		t.Fatalf("in-process flow not closed by connection termination: %v", err)
	}
}

func TestDialListenerDrainingEndsWithLastFlow(t *testing.T) {
	tts, hcPort := startTargets(t, targetSpec{ip: "127.0.0.2"})
	cfg := testConfig(t, hcPort)
	cfg.TargetGroups[0].DeregistrationDelay = time.Minute
	lb := startLB(t, cfg)
	register(t, lb, tts...)
	waitState(t, lb, StateHealthy, tts...)
	c := dialLink(t, lb)
	d, ok := c.(interface{ Draining() bool })
	if !ok || d.Draining() {
		t.Fatal("a flow to a healthy target reports draining (or cannot tell)")
	}
	if err := lb.DeregisterTargets("tg", []Target{tts[0].target()}); err != nil {
		t.Fatal(err)
	}
	if !d.Draining() {
		t.Fatal("a flow to a draining target does not report it")
	}
	if s := healthOf(t, lb, tts[0]).TargetHealth.State; s != StateDraining {
		t.Fatalf("target with an open flow is %q, want draining", s)
	}
	// A draining target gets no new flows.
	if _, _, err := lb.DialListener(context.Background(), lb.ListenerAddrs()[0]); !errors.Is(err, ErrNoTarget) {
		t.Fatalf("new flow to a draining-only group: %v, want ErrNoTarget", err)
	}
	c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := lb.WaitDeregistered(ctx, "tg", tts[0].target()); err != nil {
		t.Fatal(err)
	}
}

func TestDialListenerIdleTimeout(t *testing.T) {
	tts, hcPort := startTargets(t, targetSpec{ip: "127.0.0.2"})
	cfg := testConfig(t, hcPort)
	const idle = time.Second
	cfg.IdleTimeout = idle
	lb := startLB(t, cfg)
	register(t, lb, tts...)
	waitState(t, lb, StateHealthy, tts...)
	c := dialLink(t, lb)
	checkIdleClose(t, c, idle)
	testutil.WaitFor(t, 5*time.Second, "the idle flow released", func() bool {
		return healthOf(t, lb, tts[0]).ActiveConnections == 0
	})
}

func TestDialListenerProxyProtocol(t *testing.T) {
	headers := make(chan []byte, 10)
	tts, _ := startTargets(t, targetSpec{ip: "127.0.0.2", handler: func(c *net.TCPConn) {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		h, err := readProxyV2(c)
		if err != nil || h[12] == proxyV2Version|proxyV2Local {
			return
		}
		c.SetReadDeadline(time.Time{})
		headers <- h
		nameHandler("127.0.0.2")(c)
	}})
	cfg := testConfig(t, 0)
	cfg.TargetGroups[0].ProxyProtocolV2 = true
	cfg.TargetGroups[0].HealthCheck = HealthCheck{Protocol: ProtocolTCP, Interval: 300 * time.Millisecond,
		Timeout: 250 * time.Millisecond, HealthyThreshold: 2, UnhealthyThreshold: 2}
	lb := startLB(t, cfg)
	register(t, lb, tts...)
	waitState(t, lb, StateHealthy, tts...)
	c := dialLink(t, lb)
	if name, err := ask(c, bufio.NewReader(c)); err != nil || name != "127.0.0.2" {
		t.Fatalf("through the link: %q %v", name, err)
	}
	select {
	case h := <-headers:
		if len(h) != 28 || h[13] != 0x11 { // PROXY, TCP over IPv4
			t.Fatalf("header %x: want a PROXY TCP4 header", h)
		}
		// Source: the load balancer's own address (the link's side);
		// destination: the listener's.
		if src, dst := net.IP(h[16:20]).String(), net.IP(h[20:24]).String(); src != "127.0.0.1" || dst != "127.0.0.1" {
			t.Errorf("source %s, destination %s: want the load balancer's and the listener's address", src, dst)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("target saw no PROXY header")
	}
}

func TestDialListenerAfterStop(t *testing.T) {
	tts, hcPort := startTargets(t, targetSpec{ip: "127.0.0.2"})
	lb := startLB(t, testConfig(t, hcPort))
	register(t, lb, tts...)
	waitState(t, lb, StateHealthy, tts...)
	addr := lb.ListenerAddrs()[0]
	c := dialLink(t, lb)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	// Stop waits for the open flow, then gives up and closes it.
	if err := lb.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop with an open flow: %v, want its context's deadline", err)
	}
	if err := waitClosed(c, 5*time.Second); err != nil {
		t.Fatalf("open flow not closed by Stop: %v", err)
	}
	if _, ok, err := lb.DialListener(context.Background(), addr); !ok || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("after Stop: ok=%v err=%v, want net.ErrClosed", ok, err)
	}
}

// TestDialListenerSpreadsEvenly: in-process flows alternate over the
// healthy targets.
func TestDialListenerSpreadsEvenly(t *testing.T) {
	tts, hcPort := startTargets(t, targetSpec{ip: "127.0.0.2"}, targetSpec{ip: "127.0.0.3"})
	lb := startLB(t, testConfig(t, hcPort))
	register(t, lb, tts...)
	waitState(t, lb, StateHealthy, tts...)
	var seen counter
	for range 20 {
		c := dialLink(t, lb)
		name, err := ask(c, bufio.NewReader(c))
		if err != nil {
			t.Fatal(err)
		}
		seen.add(name)
		c.Close()
	}
	if seen.m[tts[0].ip] != 10 || seen.m[tts[1].ip] != 10 {
		t.Fatalf("20 flows split %v, want 10 and 10", seen.m)
	}
}
