package nlb

import (
	"context"
	"github.com/portway/portway/internal/testutil"
	"testing"
	"time"
)

// These tests check what happens to the connections of a target that turns
// unhealthy: as on AWS, they are reset, unless the group fails open (no
// healthy target left); with the group's
// target_health_state.unhealthy.connection_termination.enabled off, the
// target is unhealthy.draining for the draining interval first.

func boolPtr(v bool) *bool { return &v }

func TestUnhealthyTargetConnectionsReset(t *testing.T) {
	tts, hcPort := startTargets(t, targetSpec{ip: "127.0.0.2"}, targetSpec{ip: "127.0.0.3"})
	a, b := tts[0], tts[1]
	lb := startLB(t, testConfig(t, hcPort))
	register(t, lb, tts...)
	waitState(t, lb, StateHealthy, tts...)
	toA, ra := connTo(t, lb, a)
	toB, rb := connTo(t, lb, b)

	a.healthStatus.Store(503)
	waitState(t, lb, StateUnhealthy, a)
	if err := waitClosed(toA, 5*time.Second); err != nil {
		t.Fatalf("connection to the unhealthy target still open: %v", err)
	}
	if _, err := ask(toA, ra); err == nil {
		t.Fatal("connection to the unhealthy target still answers")
	}
	if name, err := ask(toB, rb); err != nil || name != b.ip {
		t.Fatalf("connection to the healthy target: %q, %v", name, err)
	}
	if d := healthOf(t, lb, a); d.ActiveConnections != 0 {
		testutil.WaitFor(t, 5*time.Second, "no active connection to a", func() bool { return healthOf(t, lb, a).ActiveConnections == 0 })
	}
}

func TestUnhealthyFailOpenKeepsConnections(t *testing.T) {
	tts, hcPort := startTargets(t, targetSpec{ip: "127.0.0.2"}, targetSpec{ip: "127.0.0.3"})
	a, b := tts[0], tts[1]
	lb := startLB(t, testConfig(t, hcPort))
	register(t, lb, a)
	waitState(t, lb, StateHealthy, a)
	conn, r := connTo(t, lb, a)

	// a is the only target: unhealthy, the group fails open, and a's
	// connection goes on.
	a.healthStatus.Store(503)
	waitState(t, lb, StateUnhealthy, a)
	for range 3 {
		if name, err := ask(conn, r); err != nil || name != a.ip {
			t.Fatalf("connection while failing open: %q, %v", name, err)
		}
		time.Sleep(100 * time.Millisecond) // a few check intervals pass
	}
	// A healthy target ends the fail-open: a's connection is reset.
	register(t, lb, b)
	waitState(t, lb, StateHealthy, b)
	if err := waitClosed(conn, 5*time.Second); err != nil {
		t.Fatalf("connection to the unhealthy target still open after fail-open ended: %v", err)
	}
}

func TestUnhealthyDrainingWithoutTermination(t *testing.T) {
	tts, hcPort := startTargets(t, targetSpec{ip: "127.0.0.2"}, targetSpec{ip: "127.0.0.3"})
	a, b := tts[0], tts[1]
	const interval = 1500 * time.Millisecond
	cfg := testConfig(t, hcPort)
	cfg.TargetGroups[0].UnhealthyConnectionTermination = boolPtr(false)
	cfg.TargetGroups[0].UnhealthyDrainingInterval = interval
	lb := startLB(t, cfg)
	register(t, lb, tts...)
	waitState(t, lb, StateHealthy, tts...)
	conn, r := connTo(t, lb, a)

	a.healthStatus.Store(503)
	waitState(t, lb, StateUnhealthyDraining, a)
	start := time.Now()
	want := TargetHealth{StateUnhealthyDraining, ReasonFailedHealthChecks, "Health checks failed with these codes: [503]"}
	if got := healthOf(t, lb, a).TargetHealth; got != want {
		t.Errorf("draining unhealthy target: %+v, want %+v", got, want)
	}
	// Its connection goes on; new ones go elsewhere.
	if name, err := ask(conn, r); err != nil || name != a.ip {
		t.Fatalf("connection to the unhealthy.draining target: %q, %v", name, err)
	}
	for range 10 {
		if name, err := whoami(t, lb); err != nil || name != b.ip {
			t.Fatalf("new connection went to %q (%v)", name, err)
		}
	}
	// After the interval: unhealthy, and the connection is reset.
	if err := waitClosed(conn, 10*time.Second); err != nil {
		t.Fatalf("connection not closed after the draining interval: %v", err)
	}
	if el := time.Since(start); el < interval-100*time.Millisecond {
		t.Errorf("closed %s after unhealthy.draining, before the %s interval", el, interval)
	}
	waitState(t, lb, StateUnhealthy, a)
}

func TestUnhealthyDrainingRecovers(t *testing.T) {
	tts, hcPort := startTargets(t, targetSpec{ip: "127.0.0.2"}, targetSpec{ip: "127.0.0.3"})
	a := tts[0]
	cfg := testConfig(t, hcPort)
	cfg.TargetGroups[0].UnhealthyConnectionTermination = boolPtr(false)
	cfg.TargetGroups[0].UnhealthyDrainingInterval = time.Hour
	lb := startLB(t, cfg)
	register(t, lb, tts...)
	waitState(t, lb, StateHealthy, tts...)
	conn, r := connTo(t, lb, a)
	a.healthStatus.Store(503)
	waitState(t, lb, StateUnhealthyDraining, a)
	a.healthStatus.Store(200)
	waitState(t, lb, StateHealthy, a)
	if name, err := ask(conn, r); err != nil || name != a.ip {
		t.Fatalf("connection after the target recovered: %q, %v", name, err)
	}
}

func TestDialListenerUnhealthyReset(t *testing.T) {
	tts, hcPort := startTargets(t, targetSpec{ip: "127.0.0.2"}, targetSpec{ip: "127.0.0.3"})
	a := tts[0]
	lb := startLB(t, testConfig(t, hcPort))
	register(t, lb, tts...)
	waitState(t, lb, StateHealthy, tts...)
	var toA, toB *linkConn
	for toA == nil || toB == nil {
		lc := dialLink(t, lb).(*linkConn)
		if lc.t.addr.Addr().String() == a.ip {
			toA = lc
		} else {
			toB = lc
		}
	}
	a.healthStatus.Store(503)
	waitState(t, lb, StateUnhealthy, a)
	if err := waitClosed(toA, 5*time.Second); err != nil {
		t.Fatalf("in-process flow to the unhealthy target not reset: %v", err)
	}
	toB.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := toB.Write([]byte("who\n")); err != nil {
		t.Fatalf("flow to the healthy target: %v", err)
	}
	buf := make([]byte, 64)
	if n, err := toB.Read(buf); err != nil || n == 0 {
		t.Fatalf("flow to the healthy target: %d, %v", n, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if c, _, err := lb.DialListener(ctx, lb.ListenerAddrs()[0]); err != nil || c.(*linkConn).t.addr.Addr().String() == a.ip {
		t.Fatalf("new flow: %v (to the unhealthy target?)", err)
	} else {
		c.Close()
	}
}
