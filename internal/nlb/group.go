package nlb

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"
)

// prober runs one health check against addr.
type prober func(ctx context.Context, addr netip.AddrPort) checkResult

// targetGroup holds the registered targets of one group, their health
// checkers and their connections.
type targetGroup struct {
	cfg   TargetGroupConfig
	arn   string
	inUse bool // some listener forwards to this group
	probe prober
	log   *slog.Logger
	now   func() time.Time

	checkers sync.WaitGroup

	mu          sync.Mutex
	targets     map[netip.AddrPort]*target
	changed     chan struct{}   // closed and replaced on every change
	runCtx      context.Context // nil until started and after stop
	failingOpen bool
}

func newTargetGroup(cfg TargetGroupConfig, arn string, inUse bool, p prober, log *slog.Logger, now func() time.Time) *targetGroup {
	return &targetGroup{
		cfg:     cfg,
		arn:     arn,
		inUse:   inUse,
		probe:   p,
		log:     log.With("targetGroup", cfg.Name),
		now:     now,
		targets: map[netip.AddrPort]*target{},
		changed: make(chan struct{}),
	}
}

// broadcast wakes everyone waiting for a change. Call with g.mu held.
func (g *targetGroup) broadcast() {
	close(g.changed)
	g.changed = make(chan struct{})
}

// start runs health checkers for the targets registered so far.
func (g *targetGroup) start(ctx context.Context) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.runCtx = ctx
	for _, t := range g.targets {
		if !t.draining {
			g.startChecker(t)
		}
	}
}

// stop ends all health checkers and drain timers and waits for the checkers.
func (g *targetGroup) stop() {
	g.mu.Lock()
	g.runCtx = nil
	for _, t := range g.targets {
		if t.cancelCheck != nil {
			t.cancelCheck()
			t.cancelCheck = nil
		}
		if t.drainTimer != nil {
			t.drainTimer.Stop()
		}
		g.stopUnhealthyDrain(t)
	}
	g.mu.Unlock()
	g.checkers.Wait()
}

// startChecker starts t's health checker if the group runs and is in use.
// Call with g.mu held.
func (g *targetGroup) startChecker(t *target) {
	if g.runCtx == nil || !g.inUse || t.cancelCheck != nil {
		return
	}
	ctx, cancel := context.WithCancel(g.runCtx)
	t.cancelCheck = cancel
	g.checkers.Add(1)
	go g.runChecker(ctx, t)
}

func (g *targetGroup) runChecker(ctx context.Context, t *target) {
	defer g.checkers.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		start := g.now()
		res := g.check(ctx, t)
		res.latency = g.now().Sub(start)
		if ctx.Err() != nil {
			return
		}
		cadence := g.observe(t, res)
		timer.Reset(jitter(cadence))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-t.kick:
		}
	}
}

// check runs one health check of t; a check that panics (the target's
// answer goes through the HTTP client) is logged and counts as failed.
func (g *targetGroup) check(ctx context.Context, t *target) (res checkResult) {
	defer func() {
		if v := recover(); v != nil {
			g.log.Error("panic in a health check: recovered", "target", t.String(), "panic", v, "stack", string(debug.Stack()))
			res = checkResult{reason: ReasonFailedHealthChecks, description: descFailedHealthChecks, err: fmt.Errorf("health check panicked: %v", v)}
		}
	}()
	g.mu.Lock()
	probe, addr := g.probe, t.hcAddr
	g.mu.Unlock()
	return probe(ctx, addr)
}

// jitter spreads checks by ±5% so that targets are not checked in lockstep.
func jitter(d time.Duration) time.Duration {
	if d < 20*time.Millisecond {
		return d
	}
	return d - d/20 + rand.N(d/10)
}

// observe feeds a check result into t's state machine, logs transitions and
// returns the time until the next check.
func (g *targetGroup) observe(t *target, res checkResult) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.targets[t.addr] != t || t.draining {
		return t.hm.cadence()
	}
	before := g.healthOf(t)
	t.record(res, g.now())
	old := t.hm.observe(res, g.now())
	if st := t.hm.health.State; st != old.State {
		switch {
		case st == StateUnhealthy:
			g.startUnhealthyDrain(t)
		case t.unhealthyDraining: // recovered while unhealthy.draining
			g.stopUnhealthyDrain(t)
		}
	}
	cur := g.healthOf(t)
	if before != cur {
		level := slog.LevelInfo
		if before.State == cur.State {
			level = slog.LevelDebug
		}
		attrs := []any{"target", t.String(), "from", before.State, "to", cur.State}
		if cur.Reason != "" {
			attrs = append(attrs, "reason", cur.Reason, "description", cur.Description)
		}
		attrs = append(attrs, lastCheckAttrs(res)...)
		if res.err != nil {
			attrs = append(attrs, "error", res.err.Error())
		}
		g.log.Log(context.Background(), level, "target health changed", attrs...)
		g.resetUnhealthyConns()
		g.broadcast()
	}
	return t.hm.cadence()
}

// startUnhealthyDrain is called when t turns unhealthy: without unhealthy
// connection termination and with a draining interval, t is
// unhealthy.draining until the interval ends (its connections go on).
// Call with g.mu held.
func (g *targetGroup) startUnhealthyDrain(t *target) {
	if g.cfg.terminatesUnhealthy() || g.cfg.UnhealthyDrainingInterval <= 0 {
		return
	}
	g.stopUnhealthyDrain(t)
	t.unhealthyDraining = true
	t.unhealthyGen++
	gen := t.unhealthyGen
	t.unhealthyTimer = time.AfterFunc(g.cfg.UnhealthyDrainingInterval, func() { g.unhealthyDrainExpired(t, gen) })
}

// stopUnhealthyDrain ends t's unhealthy.draining state, if any. Call with
// g.mu held.
func (g *targetGroup) stopUnhealthyDrain(t *target) {
	t.unhealthyDraining = false
	if t.unhealthyTimer != nil {
		t.unhealthyTimer.Stop()
		t.unhealthyTimer = nil
	}
}

func (g *targetGroup) unhealthyDrainExpired(t *target, gen int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.targets[t.addr] != t || !t.unhealthyDraining || t.unhealthyGen != gen {
		return
	}
	g.stopUnhealthyDrain(t)
	h := t.hm.health
	attrs := []any{"target", t.String(), "from", StateUnhealthyDraining, "to", h.State,
		"reason", h.Reason, "description", h.Description, "why", "unhealthy draining interval expired"}
	if c := t.lastCheck; c != nil {
		attrs = append(attrs, "lastCheck", c.Summary())
	}
	g.log.Info("target health changed", attrs...)
	g.resetUnhealthyConns()
	g.broadcast()
}

// resetUnhealthyConns resets the connections of unhealthy targets (not
// those still unhealthy.draining), as an NLB sends a TCP RST on the client
// connections of an unhealthy target — unless the group is failing open:
// with no healthy target, traffic goes to all and their connections stay.
// AWS, "Health checks for Network Load Balancer target groups": "If a target
// becomes unhealthy, the load balancer sends a TCP RST for packets received
// on the client connections associated with the target, unless the unhealthy
// target triggers the load balancer to fail open." Call with g.mu held.
func (g *targetGroup) resetUnhealthyConns() {
	healthy := false
	for _, t := range g.targets {
		if !t.draining && t.hm.health.State == StateHealthy {
			healthy = true
			break
		}
	}
	if !healthy {
		return // failing open
	}
	for _, t := range g.targets {
		if t.draining || t.unhealthyDraining || t.hm.health.State != StateUnhealthy || len(t.conns) == 0 {
			continue
		}
		g.log.Info("unhealthy target: connections reset", "target", t.String(), "connections", len(t.conns))
		for f := range t.conns {
			f.reset()
		}
	}
}

// register adds targets (all validated by the caller). Registering a target
// that is already registered is a no-op; registering a draining target
// cancels its deregistration and checks it again from the initial state.
func (g *targetGroup) register(addrs []netip.AddrPort) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, a := range addrs {
		if t, ok := g.targets[a]; ok {
			if t.draining {
				t.draining = false
				t.leaving.Store(false)
				if t.drainTimer != nil {
					t.drainTimer.Stop()
					t.drainTimer = nil
				}
				t.hm = newHealthMachine(g.cfg.HealthCheck, g.now())
				g.stopUnhealthyDrain(t)
				g.startChecker(t)
				g.log.Info("target re-registered while draining", "target", t.String())
			}
			continue
		}
		t := newTarget(a, g.cfg.HealthCheck.Port, g.cfg.HealthCheck, g.now())
		g.targets[a] = t
		g.log.Info("target registered", "target", t.String(), "state", StateInitial, "reason", ReasonRegistrationInProgress)
		g.startChecker(t)
	}
	g.broadcast()
}

// deregister starts draining targets: no new connections at once; the
// target is removed when its last connection ends or, at the latest, when
// the deregistration delay has passed (with ConnectionTermination its
// connections are then closed; without, they go on, untracked by the group).
// Every target must be registered; draining ones are left alone.
func (g *targetGroup) deregister(addrs []netip.AddrPort) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	var missing []string
	for _, a := range addrs {
		if _, ok := g.targets[a]; !ok {
			missing = append(missing, fmt.Sprintf("'%s'", a))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: The following targets are not registered in target group '%s': %s",
			ErrInvalidTarget, g.cfg.Name, strings.Join(missing, ", "))
	}
	for _, a := range addrs {
		t := g.targets[a]
		if t.draining {
			continue
		}
		t.draining = true
		t.leaving.Store(true)
		g.stopUnhealthyDrain(t)
		if t.cancelCheck != nil {
			t.cancelCheck()
			t.cancelCheck = nil
		}
		g.log.Info("target health changed", "target", t.String(), "from", t.hm.health.State, "to", StateDraining,
			"reason", ReasonDeregistrationInProgress, "activeConnections", len(t.conns))
		switch {
		case len(t.conns) == 0:
			g.remove(t, "no active connections")
		case g.cfg.DeregistrationDelay <= 0:
			g.endDrain(t, "deregistration delay is 0")
		default:
			t.drainGen++
			gen := t.drainGen
			t.drainTimer = time.AfterFunc(g.cfg.DeregistrationDelay, func() { g.drainExpired(t, gen) })
		}
	}
	g.broadcast()
	return nil
}

func (g *targetGroup) drainExpired(t *target, gen int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.targets[t.addr] != t || !t.draining || t.drainGen != gen {
		return
	}
	g.endDrain(t, "deregistration delay expired")
	g.broadcast()
}

// endDrain removes a draining target whose delay is over, closing its
// connections when the group terminates connections. Call with g.mu held;
// the caller broadcasts.
func (g *targetGroup) endDrain(t *target, why string) {
	n := len(t.conns)
	if g.cfg.ConnectionTermination {
		g.closeConns(t)
		why += fmt.Sprintf(", closed %d connections", n)
	} else if n > 0 {
		why += fmt.Sprintf(", %d connections left open (connection termination is off)", n)
	}
	g.remove(t, why)
}

// closeConns force-closes t's connections. Call with g.mu held.
func (g *targetGroup) closeConns(t *target) {
	for pc := range t.conns {
		pc.close()
	}
}

// remove drops t from the group. Call with g.mu held; the caller broadcasts.
func (g *targetGroup) remove(t *target, why string) {
	delete(g.targets, t.addr)
	t.leaving.Store(true)
	if t.drainTimer != nil {
		t.drainTimer.Stop()
	}
	g.stopUnhealthyDrain(t)
	if t.cancelCheck != nil {
		t.cancelCheck()
		t.cancelCheck = nil
	}
	g.log.Info("target deregistered", "target", t.String(), "from", StateDraining, "to", StateUnused,
		"reason", ReasonNotRegistered, "why", why)
}

// waitGone returns once a is not registered (any more).
func (g *targetGroup) waitGone(ctx context.Context, a netip.AddrPort) error {
	for {
		g.mu.Lock()
		_, ok := g.targets[a]
		ch := g.changed
		g.mu.Unlock()
		if !ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s to deregister from %s: %w", a, g.cfg.Name, ctx.Err())
		}
	}
}

// healthOf reports t's health. Call with g.mu held.
func (g *targetGroup) healthOf(t *target) TargetHealth {
	switch {
	case t.draining:
		return TargetHealth{State: StateDraining, Reason: ReasonDeregistrationInProgress, Description: descDeregistrationInProgress}
	case !g.inUse:
		return TargetHealth{State: StateUnused, Reason: ReasonNotInUse, Description: descNotInUse}
	case t.unhealthyDraining:
		h := t.hm.health
		h.State = StateUnhealthyDraining
		return h
	}
	return t.hm.health
}

// describe lists registered targets (draining included), sorted by address.
func (g *targetGroup) describe() []TargetHealthDescription {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]TargetHealthDescription, 0, len(g.targets))
	for _, t := range g.targets {
		out = append(out, TargetHealthDescription{
			Target:            t.id(),
			HealthCheckPort:   healthCheckPortString(g.cfg.HealthCheck.Port, t.addr),
			TargetHealth:      g.healthOf(t),
			Connections:       t.connections,
			ActiveConnections: t.active,
			LastHealthCheck:   t.lastCheck,
		})
	}
	slices.SortFunc(out, func(a, b TargetHealthDescription) int {
		return cmpTargets(a.Target, b.Target)
	})
	return out
}

func cmpTargets(a, b Target) int {
	ia, _ := netip.ParseAddr(a.ID)
	ib, _ := netip.ParseAddr(b.ID)
	return cmp.Or(ia.Compare(ib), cmp.Compare(a.Port, b.Port))
}

// candidates returns the targets a new flow may go to, best first: the
// healthy ones, or when there are none (fail open) every registered target
// that is not draining. The order is the flow's rendezvous ranking, so a
// flow always maps to the same target while the set is unchanged.
func (g *targetGroup) candidates(flow uint64) []*target {
	g.mu.Lock()
	defer g.mu.Unlock()
	var healthy, open []*target
	for _, t := range g.targets {
		if t.draining {
			continue
		}
		open = append(open, t)
		if t.hm.health.State == StateHealthy {
			healthy = append(healthy, t)
		}
	}
	set := healthy
	switch {
	case len(healthy) == 0 && len(open) > 0:
		set = open
		if !g.failingOpen {
			g.failingOpen = true
			g.log.Warn("no healthy targets: failing open to all registered targets", "targets", len(open))
		}
	case len(healthy) > 0 && g.failingOpen:
		g.failingOpen = false
		g.log.Info("healthy targets available again: fail-open ended", "healthy", len(healthy))
	}
	rank(flow, set)
	return set
}

// reserve attaches pc to t before dialing, unless t is gone or draining.
func (g *targetGroup) reserve(t *target, pc flow) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.targets[t.addr] != t || t.draining {
		return false
	}
	t.conns[pc] = struct{}{}
	return true
}

// established counts pc's successful connection to t.
func (g *targetGroup) established(t *target) {
	g.mu.Lock()
	defer g.mu.Unlock()
	t.connections++
	t.active++
}

// release detaches pc from t; a draining target whose last connection ends
// is removed.
func (g *targetGroup) release(t *target, pc flow, wasEstablished bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(t.conns, pc)
	if wasEstablished {
		t.active--
	}
	if t.draining && len(t.conns) == 0 && g.targets[t.addr] == t {
		g.remove(t, "last connection closed")
		g.broadcast()
	}
}

// config returns the group's configuration; the fields that change at
// runtime (the health check, the deregistration and unhealthy-state
// attributes) are guarded by g.mu.
func (g *targetGroup) config() TargetGroupConfig {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cfg
}

// setHealthCheck switches the group to hc, checked by p: every target keeps
// its state, takes on the new thresholds, interval and port, and is checked
// at once.
func (g *targetGroup) setHealthCheck(hc HealthCheck, p prober) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cfg.HealthCheck = hc
	g.probe = p
	for _, t := range g.targets {
		t.hcAddr = healthCheckAddr(t.addr, hc.Port)
		t.hm.healthyThreshold, t.hm.unhealthyThreshold = hc.HealthyThreshold, hc.UnhealthyThreshold
		t.hm.interval, t.hm.initialInterval = hc.Interval, min(hc.Interval, maxInitialInterval)
		t.checkNow()
	}
	g.log.Info("health check modified", "protocol", hc.Protocol, "port", hc.Port, "path", hc.Path,
		"interval", hc.Interval, "timeout", hc.Timeout, "healthyThreshold", hc.HealthyThreshold,
		"unhealthyThreshold", hc.UnhealthyThreshold, "matcher", hc.Matcher)
}
