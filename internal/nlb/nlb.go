// Package nlb is portway's stand-in for an AWS Network Load Balancer: TCP
// listeners that forward each connection, pinned for its life by a flow
// hash, to one target of an "ip" target group; HTTP or TCP health checks
// with the ELBv2 target states; draining on deregistration; and the ELBv2
// model (control_describe.go, modify.go) behind both its JSON control API
// and the AWS Query front door of internal/awsapi/elbv2api. A co-located gateway opens its flows in
// process instead (DialListener, link.go): same targets, health, draining
// and idle rules, no TCP hop through the listener.
//
// Deliberate differences from AWS, all in the direction of less waiting:
//   - a new target is checked at once and, while initial, at most every
//     second, so it does not sit in "initial" for minutes;
//   - a draining target with no connections left is removed at once instead
//     of waiting out the whole deregistration delay;
//   - when dialing the chosen target fails, the next target is tried before
//     any byte is exchanged, and the failing target is checked at once;
//   - health check intervals may be sub-second.
//
// As with AWS: with ConnectionTermination off (the default) a draining
// target's connections outlive the deregistration delay; with proxy protocol
// v2 on, health check connections carry a LOCAL header (no addresses).
package nlb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portway/portway/internal/awsid"
)

// LoadBalancer is a network load balancer. Create it with New.
type LoadBalancer struct {
	cfg     Config // defaults applied
	log     *slog.Logger
	now     func() time.Time
	dial    dialer
	arn     string
	created time.Time
	groups  map[string]*targetGroup
	// targetNets are Config.TargetCIDRs, parsed.
	targetNets []netip.Prefix

	mu        sync.Mutex
	started   bool
	stopped   bool
	listeners []*listener
	cancelRun context.CancelFunc
	hardCtx   context.Context // cancelled when Stop gives up waiting
	cancelHd  context.CancelFunc

	acceptWG sync.WaitGroup
	connWG   sync.WaitGroup

	connMu   sync.Mutex
	conns    map[flow]struct{}
	hardDone bool

	// linkSeq numbers in-process flows (DialListener): it stands in for
	// their source port and spreads them over the targets.
	linkSeq atomic.Uint32

	// onFlow, a test seam (nil otherwise; set before Start), is called at
	// points of a flow's life: "pipe" (a listener flow about to copy),
	// "copy" (its client-to-target copy starting), "link-idle" (an
	// in-process flow's idle check).
	onFlow func(stage string)
}

type listener struct {
	cfg   ListenerConfig
	ln    *net.TCPListener
	addr  netip.AddrPort
	group *targetGroup
}

// New validates cfg and builds a load balancer; Start binds its listeners.
func New(cfg Config) (*LoadBalancer, error) {
	cfg = cfg.withDefaults()
	if cfg.Region == "" {
		cfg.Region = awsid.DefaultRegion
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("nlb: invalid config: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	log = log.With("loadBalancer", cfg.Name)
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	src, _ := netip.ParseAddr(cfg.Address)
	lb := &LoadBalancer{
		cfg:     cfg,
		log:     log,
		now:     now,
		dial:    dialer{source: src.Unmap(), timeout: cfg.ConnectTimeout},
		arn:     loadBalancerARN(cfg.Region, cfg.Name),
		created: now(),
		groups:  map[string]*targetGroup{},
		conns:   map[flow]struct{}{},
	}
	for _, c := range cfg.TargetCIDRs {
		p, _ := netip.ParsePrefix(c) // validated
		lb.targetNets = append(lb.targetNets, p.Masked())
	}
	used := map[string]bool{}
	for _, l := range cfg.Listeners {
		used[l.TargetGroup] = true
	}
	for _, tg := range cfg.TargetGroups {
		lb.groups[tg.Name] = newTargetGroup(tg, targetGroupARN(cfg.Region, cfg.Name, tg.Name), used[tg.Name],
			newProber(tg.HealthCheck, lb.dial, tg.ProxyProtocolV2), log, now)
	}
	if err := lb.registerMetrics(cfg.Metrics); err != nil {
		return nil, fmt.Errorf("nlb: %w", err)
	}
	return lb, nil
}

// Start binds every listener (all or none) and starts health checks. The
// load balancer runs until Stop; ctx only bounds the start.
func (lb *LoadBalancer) Start(ctx context.Context) error {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	switch {
	case lb.stopped:
		return errors.New("nlb: stopped")
	case lb.started:
		return errors.New("nlb: already started")
	}
	lc := net.ListenConfig{KeepAliveConfig: keepAlive}
	var ls []*listener
	for i, lcfg := range lb.cfg.Listeners {
		addr := net.JoinHostPort(lb.cfg.Address, strconv.Itoa(lcfg.Port))
		ln, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			for _, l := range ls {
				l.ln.Close()
			}
			return fmt.Errorf("nlb: listeners[%d]: listen on %s: %w", i, addr, err)
		}
		tl := ln.(*net.TCPListener)
		ls = append(ls, &listener{cfg: lcfg, ln: tl, addr: tcpAddrPort(tl.Addr()), group: lb.groups[lcfg.TargetGroup]})
	}
	lb.started = true
	lb.listeners = ls
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	lb.cancelRun = cancel
	lb.hardCtx, lb.cancelHd = context.WithCancel(context.WithoutCancel(ctx))
	for _, name := range lb.TargetGroupNames() {
		lb.groups[name].start(runCtx)
	}
	for _, l := range ls {
		lb.acceptWG.Add(1)
		go lb.serve(runCtx, l)
		lb.log.Info("listener started", "address", l.addr.String(), "targetGroup", l.cfg.TargetGroup)
	}
	return nil
}

// Stop closes the listeners and stops health checks, then waits for open
// connections to finish; when ctx ends first it closes them and returns
// ctx's error.
func (lb *LoadBalancer) Stop(ctx context.Context) error {
	lb.mu.Lock()
	if !lb.started || lb.stopped {
		lb.stopped = true
		lb.mu.Unlock()
		return nil
	}
	lb.stopped = true
	lb.mu.Unlock()

	lb.cancelRun()
	for _, l := range lb.listeners {
		l.ln.Close()
	}
	lb.acceptWG.Wait()
	for _, g := range lb.groups {
		g.stop()
	}
	done := make(chan struct{})
	go func() {
		lb.connWG.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		lb.cancelHd()
		lb.connMu.Lock()
		lb.hardDone = true
		n := len(lb.conns)
		for pc := range lb.conns {
			pc.close()
		}
		lb.connMu.Unlock()
		lb.log.Warn("stop: closed open connections", "connections", n)
		<-done
	}
	lb.cancelHd()
	lb.log.Info("stopped")
	return err
}

// ListenerAddr returns the bound "ip:port" of the listener configured with
// port (or, failing that, bound to port), or "" before Start. With several
// listeners on port 0, it returns the first; see ListenerAddrs.
func (lb *LoadBalancer) ListenerAddr(port int) string {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	for _, l := range lb.listeners {
		if l.cfg.Port == port {
			return l.addr.String()
		}
	}
	for _, l := range lb.listeners {
		if int(l.addr.Port()) == port {
			return l.addr.String()
		}
	}
	return ""
}

// ListenerAddrs returns the bound addresses in Config.Listeners order
// (nil before Start).
func (lb *LoadBalancer) ListenerAddrs() []string {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	var out []string
	for _, l := range lb.listeners {
		out = append(out, l.addr.String())
	}
	return out
}

// TargetGroupNames returns the configured target groups in config order.
func (lb *LoadBalancer) TargetGroupNames() []string {
	out := make([]string, 0, len(lb.cfg.TargetGroups))
	for _, tg := range lb.cfg.TargetGroups {
		out = append(out, tg.Name)
	}
	return out
}

func (lb *LoadBalancer) group(name string) (*targetGroup, error) {
	g, ok := lb.groups[name]
	if !ok {
		return nil, fmt.Errorf("%w: One or more target groups not found: '%s'", ErrTargetGroupNotFound, name)
	}
	return g, nil
}

// RegisterTargets registers targets with group (a zero Port means the
// group's port). Health checks start at once. Registering a registered
// target is a no-op; registering a draining one cancels its deregistration.
// Every address must be within Config.TargetCIDRs (else ErrValidation,
// nothing changes).
func (lb *LoadBalancer) RegisterTargets(group string, ts []Target) error {
	g, err := lb.group(group)
	if err != nil {
		return err
	}
	addrs, err := parseTargets(ts, g.cfg.Port)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if !lb.targetAllowed(a.Addr()) {
			return fmt.Errorf("%w: The IP address '%s' is not within the load balancer's target CIDRs (%s)",
				ErrValidation, a.Addr(), strings.Join(lb.cfg.TargetCIDRs, ", "))
		}
	}
	g.register(addrs)
	return nil
}

// targetAllowed reports whether ip (unmapped) is within a target CIDR.
func (lb *LoadBalancer) targetAllowed(ip netip.Addr) bool {
	for _, p := range lb.targetNets {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// DeregisterTargets starts draining targets and returns at once: they get
// no new connection; existing ones may go on for the deregistration delay.
// Every target must be registered (else ErrInvalidTarget, nothing changes).
func (lb *LoadBalancer) DeregisterTargets(group string, ts []Target) error {
	g, err := lb.group(group)
	if err != nil {
		return err
	}
	addrs, err := parseTargets(ts, g.cfg.Port)
	if err != nil {
		return err
	}
	return g.deregister(addrs)
}

// WaitDeregistered waits until t is no longer registered with group: at
// once if it is not, else when its draining ends.
func (lb *LoadBalancer) WaitDeregistered(ctx context.Context, group string, t Target) error {
	g, err := lb.group(group)
	if err != nil {
		return err
	}
	addrs, err := parseTargets([]Target{t}, g.cfg.Port)
	if err != nil {
		return err
	}
	return g.waitGone(ctx, addrs[0])
}

// TargetGroupARN returns the ARN of a target group, as DescribeTargetGroups
// reports it.
func (lb *LoadBalancer) TargetGroupARN(name string) (string, error) {
	g, err := lb.group(name)
	if err != nil {
		return "", err
	}
	return g.arn, nil
}

// DescribeTargetHealth lists the targets registered with group (draining
// ones included), sorted by address.
func (lb *LoadBalancer) DescribeTargetHealth(group string) ([]TargetHealthDescription, error) {
	g, err := lb.group(group)
	if err != nil {
		return nil, err
	}
	return g.describe(), nil
}

// serve accepts connections on l until it is closed.
func (lb *LoadBalancer) serve(ctx context.Context, l *listener) {
	defer lb.acceptWG.Done()
	for lb.accept(ctx, l) {
	}
}

// accept runs l's accept loop; it reports whether to run it again (after
// a panic, recovered and logged).
func (lb *LoadBalancer) accept(ctx context.Context, l *listener) (again bool) {
	defer func() {
		if v := recover(); v != nil {
			lb.logPanic("accepting connections", v, "address", l.addr.String())
			again = ctx.Err() == nil
		}
	}()
	var backoff time.Duration
	for {
		c, err := l.ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			lb.log.Error("accept failed", "address", l.addr.String(), "error", err, "retryIn", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		lb.connWG.Add(1)
		go lb.handle(l, c)
	}
}

func (lb *LoadBalancer) track(pc flow) bool {
	lb.connMu.Lock()
	defer lb.connMu.Unlock()
	if lb.hardDone {
		return false
	}
	lb.conns[pc] = struct{}{}
	return true
}

func (lb *LoadBalancer) untrack(pc flow) {
	lb.connMu.Lock()
	defer lb.connMu.Unlock()
	delete(lb.conns, pc)
}

// handle forwards one client connection to a target of l's group.
func (lb *LoadBalancer) handle(l *listener, c *net.TCPConn) {
	defer lb.connWG.Done()
	pc := newProxyConn(c, lb)
	if !lb.track(pc) {
		c.Close()
		return
	}
	defer lb.untrack(pc)
	g := l.group
	client, local := tcpAddrPort(c.RemoteAddr()), tcpAddrPort(c.LocalAddr())
	var (
		held        *target // reserved for pc, not yet released
		established bool
	)
	defer func() {
		if v := recover(); v != nil {
			lb.logPanic("serving a flow", v, "targetGroup", g.cfg.Name, "client", client.String())
			pc.reset()
			if held != nil {
				g.release(held, pc, established)
			}
		}
	}()
	var header []byte
	if g.cfg.ProxyProtocolV2 {
		header = ProxyV2Header(client, local)
	}
	for _, t := range g.candidates(flowHash(client, local)) {
		if !g.reserve(t, pc) {
			continue
		}
		held = t
		b, err := lb.dial.dialHeader(lb.hardCtx, t.addr, header)
		if err != nil {
			held = nil
			g.release(t, pc, false)
			t.checkNow()
			lb.log.Warn("connect to target failed, trying next", "targetGroup", g.cfg.Name,
				"target", t.String(), "client", client.String(), "error", err)
			if pc.isClosed() {
				return
			}
			continue
		}
		if !pc.setBackend(b, t) {
			b.Close()
			held = nil
			g.release(t, pc, false)
			return
		}
		g.established(t)
		established = true
		pc.rec = lb.openFlow(client, local, l, t, pc.start, false)
		if lb.onFlow != nil {
			lb.onFlow("pipe")
		}
		pc.pipe(l.cfg.IdleTimeout)
		held = nil
		g.release(t, pc, true)
		return
	}
	lb.log.Warn("no target available: connection reset", "targetGroup", g.cfg.Name, "client", client.String())
	pc.reset()
}

func loadBalancerARN(region, name string) string {
	return awsid.ARN("elasticloadbalancing", region, fmt.Sprintf("loadbalancer/net/%s/%016x", name, hashString("lb/"+name)))
}

func targetGroupARN(region, lb, name string) string {
	return awsid.ARN("elasticloadbalancing", region, fmt.Sprintf("targetgroup/%s/%016x", name, hashString("tg/"+lb+"/"+name)))
}

func listenerARN(region, lb string, i int) string {
	return awsid.ARN("elasticloadbalancing", region, fmt.Sprintf("listener/net/%s/%016x/%016x",
		lb, hashString("lb/"+lb), hashString(fmt.Sprintf("listener/%s/%d", lb, i))))
}
