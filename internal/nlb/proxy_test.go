package nlb

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/portway/portway/internal/testutil"
)

func TestPinningSpreadAndCounters(t *testing.T) {
	tts, hcPort := startTargets(t, targetSpec{ip: "127.0.0.2"}, targetSpec{ip: "127.0.0.3"}, targetSpec{ip: "127.0.0.4"})
	lb := startLB(t, testConfig(t, hcPort))
	register(t, lb, tts...)
	waitState(t, lb, StateHealthy, tts...)

	// One connection stays on one target for its life.
	c := dialLB(t, lb)
	r := bufio.NewReader(c)
	first, err := ask(c, r)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		got, err := ask(c, r)
		if err != nil || got != first {
			t.Fatalf("message %d on one connection went to %q (%v), first to %q", i, got, err, first)
		}
	}

	// New connections spread evenly (±30%) over the healthy targets.
	const n = 300
	counts := map[string]int{}
	for range n {
		name, err := whoami(t, lb)
		if err != nil {
			t.Fatal(err)
		}
		counts[name]++
	}
	for _, tt := range tts {
		if got := counts[tt.ip]; got < n/3*70/100 || got > n/3*130/100 {
			t.Errorf("target %s got %d of %d connections: %v", tt.ip, got, n, counts)
		}
	}

	// Counters: every connection counted once; only the pinned one stays active.
	testutil.WaitFor(t, 5*time.Second, "connections to close", func() bool {
		var total, active int64
		ds, _ := lb.DescribeTargetHealth("tg")
		for _, d := range ds {
			total += d.Connections
			active += d.ActiveConnections
		}
		return total == n+1 && active == 1
	})
	for _, tt := range tts {
		d := healthOf(t, lb, tt)
		want := int64(counts[tt.ip])
		if tt.ip == first {
			want++
		}
		if d.Connections != want {
			t.Errorf("%s: Connections = %d, want %d", tt.ip, d.Connections, want)
		}
		// The health check carried the ELB user agent and ip:port Host.
		if ua, host := tt.lastUA.Load(), tt.lastHost.Load(); ua != HealthCheckUserAgent || host != fmt.Sprintf("%s:%d", tt.ip, hcPort) {
			t.Errorf("%s: health check UA %v Host %v", tt.ip, ua, host)
		}
		if d.HealthCheckPort != fmt.Sprint(hcPort) {
			t.Errorf("%s: HealthCheckPort %q", tt.ip, d.HealthCheckPort)
		}
	}
}

func TestHalfCloseClientFirst(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789"), 100_000)
	tts, hcPort := startTargets(t, targetSpec{ip: "127.0.0.2", handler: func(c *net.TCPConn) {
		data, _ := io.ReadAll(c) // until the client's half-close arrives
		fmt.Fprintf(c, "got %d bytes", len(data))
	}})
	lb := startLB(t, testConfig(t, hcPort))
	register(t, lb, tts...)
	waitState(t, lb, StateHealthy, tts...)

	c := dialLB(t, lb)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(payload); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	resp, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("got %d bytes", len(payload)); string(resp) != want {
		t.Fatalf("response %q, want %q", resp, want)
	}
}

func TestHalfCloseTargetFirst(t *testing.T) {
	received := make(chan string, 1)
	tts, hcPort := startTargets(t, targetSpec{ip: "127.0.0.2", handler: func(c *net.TCPConn) {
		c.Write([]byte("hello"))
		c.CloseWrite()
		data, _ := io.ReadAll(c) // the client can still send
		received <- string(data)
	}})
	lb := startLB(t, testConfig(t, hcPort))
	register(t, lb, tts...)
	waitState(t, lb, StateHealthy, tts...)

	c := dialLB(t, lb)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c) // EOF: the target half-closed
	if err != nil || string(got) != "hello" {
		t.Fatalf("read %q, %v", got, err)
	}
	if _, err := c.Write([]byte("after")); err != nil {
		t.Fatal(err)
	}
	c.CloseWrite()
	select {
	case s := <-received:
		if s != "after" {
			t.Fatalf("target received %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("target did not receive the client's bytes after its half-close")
	}
	if err := waitClosed(c, 5*time.Second); err != nil {
		t.Fatalf("connection not closed after both halves: %v", err)
	}
}

func TestFailOpen(t *testing.T) {
	tts, hcPort := startTargets(t, targetSpec{ip: "127.0.0.2"}, targetSpec{ip: "127.0.0.3"})
	for _, tt := range tts {
		tt.healthStatus.Store(503)
	}
	lb := startLB(t, testConfig(t, hcPort))
	register(t, lb, tts...)
	waitState(t, lb, StateUnhealthy, tts...)
	d := healthOf(t, lb, tts[0])
	if d.TargetHealth.Reason != "Target.FailedHealthChecks" || d.TargetHealth.Description != "Health checks failed with these codes: [503]" {
		t.Errorf("unhealthy target: %+v", d.TargetHealth)
	}

	// No healthy target: traffic goes to all registered targets.
	counts := map[string]int{}
	for range 40 {
		name, err := whoami(t, lb)
		if err != nil {
			t.Fatalf("fail-open connection failed: %v", err)
		}
		counts[name]++
	}
	if len(counts) != 2 {
		t.Errorf("fail-open used %v, want both targets", counts)
	}

	// Once one is healthy, only it gets traffic.
	tts[1].healthStatus.Store(200)
	waitState(t, lb, StateHealthy, tts[1])
	for range 20 {
		name, err := whoami(t, lb)
		if err != nil || name != tts[1].ip {
			t.Fatalf("connection went to %q (%v), want only the healthy %s", name, err, tts[1].ip)
		}
	}
}

func TestRetryOnDialFailure(t *testing.T) {
	// Both targets pass health checks, but nothing listens on the second
	// one's traffic port.
	tts, hcPort := startTargets(t, targetSpec{ip: "127.0.0.2"}, targetSpec{ip: "127.0.0.3", closed: true})
	good, bad := tts[0], tts[1]
	cfg := testConfig(t, hcPort)
	cfg.TargetGroups[0].HealthCheck.Interval = 10 * time.Second // regular checks are 1s apart only while initial
	cfg.TargetGroups[0].HealthCheck.Timeout = 2 * time.Second
	lb := startLB(t, cfg)
	register(t, lb, tts...)
	waitState(t, lb, StateHealthy, tts...)
	hits := bad.healthHits.Load()

	for i := range 40 {
		name, err := whoami(t, lb)
		if err != nil || name != good.ip {
			t.Fatalf("connection %d: %q, %v", i, name, err)
		}
	}
	if d := healthOf(t, lb, bad); d.Connections != 0 {
		t.Errorf("closed target counted %d connections", d.Connections)
	}
	// The failed dials triggered an immediate health check of the bad
	// target, long before its next regular check (~10s away).
	testutil.WaitFor(t, 5*time.Second, "an immediate health check of the failing target", func() bool {
		return bad.healthHits.Load() > hits
	})
}

func TestNoTargetResetsConnection(t *testing.T) {
	lb := startLB(t, testConfig(t, 1))
	c, err := net.DialTimeout("tcp", lb.ListenerAddrs()[0], 5*time.Second)
	if err != nil {
		return // reset before the dial returned
	}
	defer c.Close()
	if err := waitClosed(c, 5*time.Second); err != nil {
		t.Fatalf("connection without targets not closed: %v", err)
	}
}

func TestDraining(t *testing.T) {
	tts, hcPort := startTargets(t, targetSpec{ip: "127.0.0.2"}, targetSpec{ip: "127.0.0.3"})
	a, b := tts[0], tts[1]
	const delay = time.Second
	cfg := testConfig(t, hcPort)
	cfg.TargetGroups[0].DeregistrationDelay = delay
	cfg.TargetGroups[0].ConnectionTermination = true
	lb := startLB(t, cfg)
	register(t, lb, tts...)
	waitState(t, lb, StateHealthy, tts...)

	// A connection pinned to a.
	conn, r := connTo(t, lb, a)

	start := time.Now()
	if err := lb.DeregisterTargets("tg", []Target{a.target()}); err != nil {
		t.Fatal(err)
	}
	d := healthOf(t, lb, a)
	want := TargetHealth{StateDraining, ReasonDeregistrationInProgress, "Target deregistration is in progress"}
	if d.TargetHealth != want || d.ActiveConnections != 1 {
		t.Fatalf("after deregistration: %+v", d)
	}
	// No new connection reaches a.
	for range 20 {
		if name, err := whoami(t, lb); err != nil || name != b.ip {
			t.Fatalf("new connection went to %q (%v) while a drains", name, err)
		}
	}
	// The existing one still works ...
	if name, err := ask(conn, r); err != nil || name != a.ip {
		t.Fatalf("draining connection: %q, %v", name, err)
	}
	// ... until the delay, when it is closed and a disappears.
	if err := waitClosed(conn, 10*time.Second); err != nil {
		t.Fatalf("draining connection not closed: %v", err)
	}
	if el := time.Since(start); el < delay {
		t.Errorf("draining connection closed after %s, before the %s delay", el, delay)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := lb.WaitDeregistered(ctx, "tg", a.target()); err != nil {
		t.Fatal(err)
	}
	if d := healthOf(t, lb, a); d.Target.ID != "" {
		t.Fatalf("deregistered target still described: %+v", d)
	}
}

func TestDeregisterWithoutConnectionsIsImmediate(t *testing.T) {
	tts, hcPort := startTargets(t, targetSpec{ip: "127.0.0.2"})
	lb := startLB(t, testConfig(t, hcPort)) // delay 5s
	register(t, lb, tts...)
	if err := lb.DeregisterTargets("tg", []Target{tts[0].target()}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := lb.WaitDeregistered(ctx, "tg", tts[0].target()); err != nil {
		t.Fatal(err)
	}
	err := lb.DeregisterTargets("tg", []Target{tts[0].target()})
	if !errors.Is(err, ErrInvalidTarget) {
		t.Fatalf("deregistering an unregistered target: %v", err)
	}
}

func TestDrainingEndsWithLastConnection(t *testing.T) {
	tts, hcPort := startTargets(t, targetSpec{ip: "127.0.0.2"})
	cfg := testConfig(t, hcPort)
	cfg.TargetGroups[0].DeregistrationDelay = time.Minute
	lb := startLB(t, cfg)
	register(t, lb, tts...)
	waitState(t, lb, StateHealthy, tts...)
	c := dialLB(t, lb)
	if _, err := ask(c, bufio.NewReader(c)); err != nil {
		t.Fatal(err)
	}
	if err := lb.DeregisterTargets("tg", []Target{tts[0].target()}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := lb.WaitDeregistered(ctx, "tg", tts[0].target()); err != nil {
		t.Fatal(err)
	}
}

func TestReregisterWhileDraining(t *testing.T) {
	tts, hcPort := startTargets(t, targetSpec{ip: "127.0.0.2"})
	lb := startLB(t, testConfig(t, hcPort))
	register(t, lb, tts...)
	waitState(t, lb, StateHealthy, tts...)
	c := dialLB(t, lb)
	r := bufio.NewReader(c)
	if _, err := ask(c, r); err != nil {
		t.Fatal(err)
	}
	if err := lb.DeregisterTargets("tg", []Target{tts[0].target()}); err != nil {
		t.Fatal(err)
	}
	waitState(t, lb, StateDraining, tts...)
	register(t, lb, tts...)
	if s := healthOf(t, lb, tts[0]).TargetHealth.State; s != StateInitial {
		t.Fatalf("re-registered target is %s, want initial", s)
	}
	waitState(t, lb, StateHealthy, tts...)
	if _, err := ask(c, r); err != nil {
		t.Fatalf("connection lost by re-registration: %v", err)
	}
	if name, err := whoami(t, lb); err != nil || name != tts[0].ip {
		t.Fatalf("new connection: %q %v", name, err)
	}
}

func TestIdleTimeout(t *testing.T) {
	tts, hcPort := startTargets(t, targetSpec{ip: "127.0.0.2"})
	cfg := testConfig(t, hcPort)
	const idle = time.Second
	cfg.IdleTimeout = idle
	lb := startLB(t, cfg)
	register(t, lb, tts...)
	waitState(t, lb, StateHealthy, tts...)
	c := dialLB(t, lb)
	// Traffic keeps the connection open well past the idle timeout.
	checkIdleClose(t, c, idle)
}

func TestUnhealthyAfterThresholdAndTCPCheck(t *testing.T) {
	tts, _ := startTargets(t, targetSpec{ip: "127.0.0.2"})
	cfg := testConfig(t, 0)
	cfg.TargetGroups[0].HealthCheck = HealthCheck{Protocol: ProtocolTCP, Interval: 300 * time.Millisecond,
		Timeout: 250 * time.Millisecond, HealthyThreshold: 2, UnhealthyThreshold: 2}
	lb := startLB(t, cfg)
	register(t, lb, tts...)
	if d := healthOf(t, lb, tts[0]); d.HealthCheckPort != fmt.Sprint(tts[0].port) {
		t.Errorf("traffic-port health check port = %q", d.HealthCheckPort)
	}
	waitState(t, lb, StateHealthy, tts...)
	tts[0].traffic.Close()
	waitState(t, lb, StateUnhealthy, tts...)
	if d := healthOf(t, lb, tts[0]); d.TargetHealth.Reason != ReasonFailedHealthChecks {
		t.Errorf("unhealthy: %+v", d.TargetHealth)
	}
}

func TestStopClosesConnections(t *testing.T) {
	tts, hcPort := startTargets(t, targetSpec{ip: "127.0.0.2"})
	lb := startLB(t, testConfig(t, hcPort))
	register(t, lb, tts...)
	waitState(t, lb, StateHealthy, tts...)
	addr := lb.ListenerAddrs()[0]
	c := dialLB(t, lb)
	if _, err := ask(c, bufio.NewReader(c)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := lb.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop with an open connection: %v", err)
	}
	if err := waitClosed(c, 5*time.Second); err != nil {
		t.Fatalf("connection survived Stop: %v", err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("listener still accepts after Stop")
	}
	if err := lb.Stop(context.Background()); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

func TestStartBusyPortRollsBack(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	port := busy.Addr().(*net.TCPAddr).Port
	cfg := testConfig(t, 1)
	cfg.Listeners = append(cfg.Listeners, ListenerConfig{Port: port, TargetGroup: "tg"})
	lb, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = lb.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), busy.Addr().String()) {
		t.Fatalf("Start on a busy port: %v", err)
	}
	if addrs := lb.ListenerAddrs(); addrs != nil {
		t.Fatalf("listeners left after failed start: %v", addrs)
	}
	if err := lb.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestListenerAddr(t *testing.T) {
	cfg := testConfig(t, 1)
	cfg.TargetGroups = append(cfg.TargetGroups, TargetGroupConfig{Name: "other", Port: 9000})
	cfg.Listeners = append(cfg.Listeners, ListenerConfig{Port: 0, TargetGroup: "other"})
	lb := startLB(t, cfg)
	addrs := lb.ListenerAddrs()
	if len(addrs) != 2 || addrs[0] == addrs[1] {
		t.Fatalf("ListenerAddrs = %v", addrs)
	}
	if lb.ListenerAddr(0) != addrs[0] {
		t.Errorf("ListenerAddr(0) = %q", lb.ListenerAddr(0))
	}
	_, port, _ := net.SplitHostPort(addrs[1])
	var p int
	fmt.Sscan(port, &p)
	if lb.ListenerAddr(p) != addrs[1] {
		t.Errorf("ListenerAddr(bound port) = %q", lb.ListenerAddr(p))
	}
	if lb.ListenerAddr(1) != "" {
		t.Errorf("ListenerAddr(unknown) = %q", lb.ListenerAddr(1))
	}
	if names := lb.TargetGroupNames(); len(names) != 2 || names[0] != "tg" || names[1] != "other" {
		t.Errorf("TargetGroupNames = %v", names)
	}
}

// connTo opens connections through lb until one lands on tt.
func connTo(t *testing.T, lb *LoadBalancer, tt *testTarget) (net.Conn, *bufio.Reader) {
	t.Helper()
	for range 100 {
		c := dialLB(t, lb)
		br := bufio.NewReader(c)
		if name, err := ask(c, br); err != nil {
			t.Fatal(err)
		} else if name == tt.ip {
			return c, br
		}
		c.Close()
	}
	t.Fatalf("no connection landed on target %s", tt.ip)
	return nil, nil
}

// TestDrainingWithoutConnectionTermination: as with AWS's default, the
// target is gone when the delay ends, but its open connection goes on.
func TestDrainingWithoutConnectionTermination(t *testing.T) {
	tts, hcPort := startTargets(t, targetSpec{ip: "127.0.0.2"}, targetSpec{ip: "127.0.0.3"})
	a := tts[0]
	const delay = 300 * time.Millisecond
	cfg := testConfig(t, hcPort)
	cfg.TargetGroups[0].DeregistrationDelay = delay
	lb := startLB(t, cfg)
	register(t, lb, tts...)
	waitState(t, lb, StateHealthy, tts...)
	conn, r := connTo(t, lb, a)

	start := time.Now()
	if err := lb.DeregisterTargets("tg", []Target{a.target()}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := lb.WaitDeregistered(ctx, "tg", a.target()); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < delay {
		t.Errorf("target removed after %s, before the %s delay", el, delay)
	}
	for range 3 {
		if name, err := ask(conn, r); err != nil || name != a.ip {
			t.Fatalf("connection after the delay: %q, %v", name, err)
		}
	}
	conn.Close()
}

// TestConnectionTerminationWithoutDelay: a negative delay (none) with
// connection termination closes open connections at once.
func TestConnectionTerminationWithoutDelay(t *testing.T) {
	tts, hcPort := startTargets(t, targetSpec{ip: "127.0.0.2"})
	cfg := testConfig(t, hcPort)
	cfg.TargetGroups[0].DeregistrationDelay = -1
	cfg.TargetGroups[0].ConnectionTermination = true
	lb := startLB(t, cfg)
	register(t, lb, tts...)
	waitState(t, lb, StateHealthy, tts...)
	conn, _ := connTo(t, lb, tts[0])
	if err := lb.DeregisterTargets("tg", []Target{tts[0].target()}); err != nil {
		t.Fatal(err)
	}
	if d := healthOf(t, lb, tts[0]); d.Target.ID != "" {
		t.Fatalf("target still described: %+v", d)
	}
	if err := waitClosed(conn, 5*time.Second); err != nil {
		t.Fatalf("connection not closed: %v", err)
	}
}

// TestListenerIdleTimeout: each listener has its own idle timeout.
func TestListenerIdleTimeout(t *testing.T) {
	tts, hcPort := startTargets(t, targetSpec{ip: "127.0.0.2"})
	cfg := testConfig(t, hcPort)
	cfg.IdleTimeout = time.Minute
	cfg.Listeners = []ListenerConfig{{TargetGroup: "tg", IdleTimeout: 300 * time.Millisecond}, {TargetGroup: "tg"}}
	lb := startLB(t, cfg)
	register(t, lb, tts...)
	waitState(t, lb, StateHealthy, tts...)
	dial := func(addr string) (net.Conn, *bufio.Reader) {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		r := bufio.NewReader(c)
		if _, err := ask(c, r); err != nil {
			t.Fatal(err)
		}
		return c, r
	}
	short, _ := dial(lb.ListenerAddrs()[0])
	long, lr := dial(lb.ListenerAddrs()[1])
	start := time.Now()
	if err := waitClosed(short, 5*time.Second); err != nil {
		t.Fatalf("idle connection on the 300ms listener not closed: %v", err)
	}
	if el := time.Since(start); el < 250*time.Millisecond {
		t.Errorf("closed after %s", el)
	}
	if _, err := ask(long, lr); err != nil {
		t.Fatalf("connection on the 1m listener closed: %v", err)
	}
}

// TestConnectionsCountSinceRegistration: Connections counts the connections
// sent to a target since it was registered; a target registered again after
// it left the group starts from zero.
func TestConnectionsCountSinceRegistration(t *testing.T) {
	tts, hcPort := startTargets(t, targetSpec{ip: "127.0.0.2"})
	lb := startLB(t, testConfig(t, hcPort))
	tt := tts[0]
	register(t, lb, tt)
	waitState(t, lb, StateHealthy, tt)
	connect := func(n int) {
		t.Helper()
		for range n {
			if name, err := whoami(t, lb); err != nil || name != tt.ip {
				t.Fatalf("connection went to %q (%v)", name, err)
			}
		}
	}
	settled := func(want int64) {
		t.Helper()
		testutil.WaitFor(t, 5*time.Second, fmt.Sprintf("Connections %d, ActiveConnections 0", want), func() bool {
			d := healthOf(t, lb, tt)
			return d.Connections == want && d.ActiveConnections == 0
		})
	}
	connect(3)
	settled(3)

	if err := lb.DeregisterTargets("tg", []Target{tt.target()}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := lb.WaitDeregistered(ctx, "tg", tt.target()); err != nil {
		t.Fatal(err)
	}
	register(t, lb, tt)
	if d := healthOf(t, lb, tt); d.Connections != 0 || d.ActiveConnections != 0 {
		t.Fatalf("re-registered target: Connections %d, ActiveConnections %d, want 0 and 0", d.Connections, d.ActiveConnections)
	}
	waitState(t, lb, StateHealthy, tt)
	connect(2)
	settled(2)
}
