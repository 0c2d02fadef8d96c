package ecs

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portway/portway/internal/testutil"
)

// These tests drive the task and service state machines with a fake clock
// and an in-memory runtime: time moves only when the test advances it, so
// back-off, grace periods, readiness deadlines, health check intervals and
// stopTimeout are exercised with no sleeps. The tests wait (with a deadline)
// only for the supervisor's goroutines to reach a state or arm a timer.

// ---- fake clock -------------------------------------------------------------

type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers map[*fakeTimer]bool // armed
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), timers: map[*fakeTimer]bool{}}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	t := &fakeTimer{c: c, ch: make(chan time.Time, 1)}
	t.Reset(d)
	return t
}

// Advance moves the clock and fires every timer now due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for t := range c.timers {
		if !t.when.After(c.now) {
			delete(c.timers, t)
			t.fire(c.now)
		}
	}
}

// armed reports whether a timer is due exactly d from now.
func (c *fakeClock) armed(d time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for t := range c.timers {
		if t.when.Equal(c.now.Add(d)) {
			return true
		}
	}
	return false
}

type fakeTimer struct {
	c    *fakeClock
	ch   chan time.Time
	when time.Time // guarded by c.mu
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) fire(now time.Time) {
	select {
	case t.ch <- now:
	default:
	}
}

// Stop and Reset discard an undelivered tick, as time.Timer does since Go 1.23.
func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	armed := t.c.timers[t]
	delete(t.c.timers, t)
	t.drain()
	return armed
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	armed := t.c.timers[t]
	delete(t.c.timers, t)
	t.drain()
	t.when = t.c.now.Add(d)
	if d <= 0 {
		t.fire(t.c.now)
	} else {
		t.c.timers[t] = true
	}
	return armed
}

func (t *fakeTimer) drain() {
	select {
	case <-t.ch:
	default:
	}
}

func TestFakeClockTimers(t *testing.T) {
	c := newFakeClock()
	a, b := c.NewTimer(time.Second), c.NewTimer(3*time.Second)
	c.Advance(999 * time.Millisecond)
	select {
	case <-a.C():
		t.Fatal("fired early")
	default:
	}
	c.Advance(time.Millisecond)
	if got := <-a.C(); !got.Equal(c.Now()) {
		t.Errorf("fired at %v, want %v", got, c.Now())
	}
	if !c.armed(2*time.Second) || c.armed(time.Second) {
		t.Error("armed timers wrong after the first fired")
	}
	if !b.Stop() || b.Stop() {
		t.Error("Stop: want true then false")
	}
	c.Advance(time.Hour)
	select {
	case <-b.C():
		t.Fatal("stopped timer fired")
	default:
	}
	b.Reset(0)
	<-b.C()
}

// ---- fake runtime -----------------------------------------------------------

// fakeRuntime runs "containers" in memory. A container's Env controls it:
// FAKE_EXIT=N exits with N at once; FAKE_EXIT_IF=FILE exits with 1 at
// once while FILE exists; FAKE_IGNORE_TERM=1 ignores SIGTERM;
// FAKE_LISTEN=PORT accepts TCP on ${PORTWAY_TASK_IP}:PORT until it exits
// (with FAKE_LISTEN_IF=FILE, only if FILE exists when it starts).
type fakeRuntime struct {
	mu     sync.Mutex
	pid    int
	procs  []*fakeProc
	events []string // "TASK CONTAINER:started", "TASK CONTAINER:<signal>"
	specs  []ContainerSpec
}

type fakeProc struct {
	rt         *fakeRuntime
	name, task string
	pid        int
	ignoreTerm bool
	ln         net.Listener
	done       chan struct{}
	code       int  // set before done is closed
	exited     bool // guarded by rt.mu
}

func envValue(env []string, key string) string {
	for _, e := range slices.Backward(env) {
		if v, ok := strings.CutPrefix(e, key+"="); ok {
			return v
		}
	}
	return ""
}

func (r *fakeRuntime) Start(spec ContainerSpec) (Process, error) {
	p := &fakeProc{rt: r, name: spec.Name, task: spec.TaskID, done: make(chan struct{}),
		ignoreTerm: envValue(spec.Env, "FAKE_IGNORE_TERM") == "1"}
	listen := true
	if f := envValue(spec.Env, "FAKE_LISTEN_IF"); f != "" {
		_, err := os.Stat(f)
		listen = err == nil
	}
	if port := envValue(spec.Env, "FAKE_LISTEN"); port != "" && listen {
		ln, err := net.Listen("tcp", net.JoinHostPort(envValue(spec.Env, "PORTWAY_TASK_IP"), port))
		if err != nil {
			return nil, err
		}
		p.ln = ln
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pid++
	p.pid = 1_000_000 + r.pid // not a real process
	r.procs = append(r.procs, p)
	r.events = append(r.events, spec.TaskID+" "+spec.Name+":started")
	r.specs = append(r.specs, spec)
	if v := envValue(spec.Env, "FAKE_EXIT"); v != "" {
		code, _ := strconv.Atoi(v)
		p.exitLocked(code)
	} else if f := envValue(spec.Env, "FAKE_EXIT_IF"); f != "" {
		if _, err := os.Stat(f); err == nil {
			p.exitLocked(1)
		}
	}
	return p, nil
}

// spec returns the spec the task's container was started with.
func (r *fakeRuntime) spec(t *testing.T, task, name string) ContainerSpec {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.specs {
		if s.TaskID == task && s.Name == name {
			return s
		}
	}
	t.Fatalf("container %s of task %s never started", name, task)
	return ContainerSpec{}
}

// eventList returns the task's container events, "CONTAINER:EVENT".
func (r *fakeRuntime) eventList(task string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		if ev, ok := strings.CutPrefix(e, task+" "); ok {
			out = append(out, ev)
		}
	}
	return out
}

// crash makes the task's container exit with code, as kill -9 would.
func (r *fakeRuntime) crash(t *testing.T, taskID, name string, code int) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.procs {
		if p.task == taskID && p.name == name && !p.exited {
			p.exitLocked(code)
			return
		}
	}
	t.Fatalf("no live container %s in task %s", name, taskID)
}

func (p *fakeProc) exitLocked(code int) {
	p.exited = true
	p.code = code
	if p.ln != nil {
		p.ln.Close()
	}
	close(p.done)
}

func (p *fakeProc) PID() int { return p.pid }

func (p *fakeProc) Signal(sig syscall.Signal) error {
	p.rt.mu.Lock()
	defer p.rt.mu.Unlock()
	if p.exited {
		return os.ErrProcessDone
	}
	p.rt.events = append(p.rt.events, p.task+" "+p.name+":"+sig.String())
	switch {
	case sig == syscall.SIGKILL:
		p.exitLocked(128 + int(sig))
	case !p.ignoreTerm:
		p.exitLocked(0)
	}
	return nil
}

func (p *fakeProc) Wait() (int, error) {
	<-p.done
	return p.code, nil
}

// ---- fake target group --------------------------------------------------------

// targetGroup registers targets and reports the health the test sets.
type targetGroup struct {
	mu         sync.Mutex
	health     string // for registered targets
	registered map[string]bool
	ops        []string
}

func (g *targetGroup) Register(ctx context.Context, group, ip string, port int) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.registered[ip] = true
	g.ops = append(g.ops, "register "+ip)
	return nil
}

func (g *targetGroup) Deregister(ctx context.Context, group, ip string, port int) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.registered, ip)
	g.ops = append(g.ops, "deregister "+ip)
	return nil
}

func (g *targetGroup) TargetState(ctx context.Context, group, ip string, port int) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.registered[ip] {
		return TargetUnused, nil
	}
	return g.health, nil
}

// TargetGroupARN names the group as ELBv2 does (ecs.TargetGroupARNReader).
func (g *targetGroup) TargetGroupARN(group string) string {
	return "arn:aws:elasticloadbalancing:eu-west-1:000000000000:targetgroup/" + group + "/0123456789abcdef"
}

func (g *targetGroup) setHealth(h string) {
	g.mu.Lock()
	g.health = h
	g.mu.Unlock()
}

func (g *targetGroup) isRegistered(ip string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.registered[ip]
}

// ---- transition recorder --------------------------------------------------

// transitions records each task's lastStatus sequence from the
// supervisor's "task launched" / "task status" log records.
type transitions struct {
	mu  sync.Mutex
	seq map[string][]string
}

func (r *transitions) Enabled(context.Context, slog.Level) bool { return true }
func (r *transitions) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *transitions) WithGroup(string) slog.Handler            { return r }

func (r *transitions) Handle(_ context.Context, rec slog.Record) error {
	var task, status string
	rec.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "task":
			task = a.Value.String()
		case "status":
			status = a.Value.String()
		}
		return true
	})
	switch rec.Message {
	case "task launched":
		status = StatusProvisioning
	case "task status":
	default:
		return nil
	}
	r.mu.Lock()
	r.seq[task] = append(r.seq[task], status)
	r.mu.Unlock()
	return nil
}

func (r *transitions) of(task string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seq[task])
}

// ---- harness ------------------------------------------------------------------

type clockHarness struct {
	t     *testing.T
	s     *Supervisor
	clock *fakeClock
	rt    *fakeRuntime
	tg    *targetGroup
	trans *transitions
}

const fakePort = 19001

// newClockHarness starts a supervisor running svc on a fake clock and
// runtime; registered targets report targetHealth.
func newClockHarness(t *testing.T, svc ServiceConfig, targetHealth string, opts ...func(*Config)) *clockHarness {
	t.Helper()
	h := &clockHarness{t: t, clock: newFakeClock(), rt: &fakeRuntime{},
		tg:    &targetGroup{health: targetHealth, registered: map[string]bool{}},
		trans: &transitions{seq: map[string][]string{}}}
	cfg := Config{StateDir: t.TempDir(), Executable: executable(t), Subnet: testSubnet(),
		Services: []ServiceConfig{svc}, Registrar: h.tg, Runtime: h.rt, Clock: h.clock,
		Logger: slog.New(h.trans)}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.s = s
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return h
}

// waitArmed waits until the supervisor has armed a timer due d from now.
func (h *clockHarness) waitArmed(d time.Duration, what string) {
	h.t.Helper()
	testutil.WaitFor(h.t, waitLong, fmt.Sprintf("a %v timer (%s)", d, what), func() bool { return h.clock.armed(d) })
}

func (h *clockHarness) waitStatus(id, status string) TaskStatus {
	h.t.Helper()
	testutil.WaitFor(h.t, waitLong, "task "+status, func() bool { return taskByID(h.t, h.s, id).LastStatus == status })
	return taskByID(h.t, h.s, id)
}

// first waits for the service's first task and returns its id.
func (h *clockHarness) first() string {
	h.t.Helper()
	testutil.WaitFor(h.t, waitLong, "a task", func() bool { return len(h.s.Tasks()) > 0 })
	return h.s.Tasks()[0].TaskID
}

func (h *clockHarness) assertStatus(id, want string) {
	h.t.Helper()
	if got := taskByID(h.t, h.s, id).LastStatus; got != want {
		h.t.Fatalf("task is %s, want %s", got, want)
	}
}

func fakeContainer(name string, env ...string) ContainerConfig {
	return ContainerConfig{Name: name, Essential: true, Env: env}
}

// ---- tests --------------------------------------------------------------------

// TestBackoffScheduleFakeClock: a task whose essential container exits at
// start is replaced after 1s, 2s, 4s, 8s, 8s (doubling, capped), never
// earlier, and the service shows why it is backing off.
func TestBackoffScheduleFakeClock(t *testing.T) {
	t.Parallel()
	h := newClockHarness(t, ServiceConfig{Name: "crash", DesiredCount: 1,
		BackoffInitial: time.Second, BackoffMax: 8 * time.Second,
		Containers: []ContainerConfig{fakeContainer("app", "FAKE_EXIT=3")}}, TargetHealthy)
	schedule := []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second}
	for i, delay := range schedule {
		n := i + 1
		testutil.WaitFor(t, waitLong, fmt.Sprintf("attempt %d STOPPED", n), func() bool {
			ts := h.s.Tasks()
			return len(ts) == n && ts[n-1].LastStatus == StatusStopped
		})
		ts := h.s.Tasks()[n-1]
		if ts.StoppedReason != ReasonEssentialExited || ts.StopCode != StopCodeEssentialExited || ts.Containers[0].ExitCode == nil || *ts.Containers[0].ExitCode != 3 {
			t.Fatalf("attempt %d: reason %q, exit %v", n, ts.StoppedReason, ts.Containers[0].ExitCode)
		}
		if st := h.s.Services()[0]; st.LastFailure != ReasonEssentialExited {
			t.Errorf("attempt %d: service lastFailure = %q, want %q", n, st.LastFailure, ReasonEssentialExited)
		}
		h.waitArmed(delay, fmt.Sprintf("back-off after attempt %d", n))
		h.clock.Advance(delay - time.Millisecond)
		if got := len(h.s.Tasks()); got != n {
			t.Fatalf("attempt %d: replacement launched %v early", n, time.Millisecond)
		}
		h.clock.Advance(time.Millisecond)
		testutil.WaitFor(t, waitLong, fmt.Sprintf("attempt %d", n+1), func() bool { return len(h.s.Tasks()) == n+1 })
		if gap := h.s.Tasks()[n].CreatedAt.Sub(ts.CreatedAt); gap != delay {
			t.Errorf("attempt %d started %v after attempt %d, want %v", n+1, gap, n, delay)
		}
	}
	// A deployment starts afresh: no back-off.
	n := len(schedule) + 1
	testutil.WaitFor(t, waitLong, fmt.Sprintf("attempt %d STOPPED", n), func() bool {
		ts := h.s.Tasks()
		return len(ts) == n && ts[n-1].LastStatus == StatusStopped
	})
	if _, err := h.s.Deploy("crash"); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, waitLong, "the deployment's first task, at once", func() bool { return len(h.s.Tasks()) > n })
}

// TestTaskTransitionsFakeClock: each case drives one task through its
// states and checks the exact lastStatus sequence and stoppedReason.
func TestTaskTransitionsFakeClock(t *testing.T) {
	t.Parallel()
	listen := "FAKE_LISTEN=" + strconv.Itoa(fakePort)
	lb := func(s ServiceConfig) ServiceConfig {
		s.TargetGroup, s.ContainerName, s.ContainerPort = "tg", s.Containers[0].Name, fakePort
		return s
	}
	tests := []struct {
		name       string
		svc        ServiceConfig
		health     string // registered targets' health; default healthy
		drive      func(h *clockHarness, id string)
		want       []string
		wantReason string // "{deployment}" stands for the task's deployment id
		wantCode   string
	}{
		{
			name: "stable task exits: replaced at once",
			svc:  ServiceConfig{StableAfter: 30 * time.Second, Containers: []ContainerConfig{fakeContainer("app")}},
			drive: func(h *clockHarness, id string) {
				h.waitStatus(id, StatusRunning)
				h.clock.Advance(30 * time.Second)
				h.rt.crash(h.t, id, "app", 137)
				testutil.WaitFor(h.t, waitLong, "replacement RUNNING", func() bool { return h.s.RunningCount("svc") == 1 && len(h.s.Tasks()) == 2 })
				if st := h.s.Services()[0]; st.LastFailure != "" {
					h.t.Errorf("lastFailure = %q after a stable task, want none", st.LastFailure)
				}
			},
			want:       []string{StatusProvisioning, StatusPending, StatusActivating, StatusRunning, StatusStopping, StatusStopped},
			wantReason: ReasonEssentialExited,
			wantCode:   StopCodeEssentialExited,
		},
		{
			name: "unhealthy target tolerated during grace, replaced after",
			svc: lb(ServiceConfig{HealthCheckGracePeriod: time.Minute, ReadinessInterval: time.Second, ReadinessTimeout: time.Hour,
				Containers: []ContainerConfig{fakeContainer("web", listen)}}),
			health: TargetUnhealthy,
			drive: func(h *clockHarness, id string) {
				testutil.WaitFor(h.t, waitLong, "registered", func() bool { return h.tg.isRegistered(taskByID(h.t, h.s, id).IP) })
				h.waitArmed(activatingPollInterval, "target poll")
				h.clock.Advance(time.Minute - time.Millisecond)
				h.waitArmed(activatingPollInterval, "target poll after 59.999s")
				h.assertStatus(id, StatusActivating)
				h.clock.Advance(activatingPollInterval)
			},
			want:       []string{StatusProvisioning, StatusPending, StatusActivating, StatusDeactivating, StatusStopping, StatusStopped},
			wantReason: "Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:eu-west-1:000000000000:targetgroup/tg/0123456789abcdef)",
			wantCode:   StopCodeServiceScheduler,
		},
		{
			name: "RUNNING target turns unhealthy after grace",
			svc: lb(ServiceConfig{HealthCheckGracePeriod: 10 * time.Second, ReadinessInterval: 5 * time.Second,
				Containers: []ContainerConfig{fakeContainer("web", listen)}}),
			drive: func(h *clockHarness, id string) {
				h.waitStatus(id, StatusRunning)
				h.waitArmed(5*time.Second, "target watch")
				h.tg.setHealth(TargetUnhealthy)
				h.clock.Advance(5 * time.Second) // within grace: tolerated
				h.waitArmed(5*time.Second, "target watch after 5s")
				h.assertStatus(id, StatusRunning)
				h.clock.Advance(5 * time.Second)
			},
			want:       []string{StatusProvisioning, StatusPending, StatusActivating, StatusRunning, StatusDeactivating, StatusStopping, StatusStopped},
			wantReason: "Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:eu-west-1:000000000000:targetgroup/tg/0123456789abcdef)",
			wantCode:   StopCodeServiceScheduler,
		},
		{
			name: "RUNNING target turns unhealthy.draining after grace",
			svc: lb(ServiceConfig{ReadinessInterval: 5 * time.Second,
				Containers: []ContainerConfig{fakeContainer("web", listen)}}),
			drive: func(h *clockHarness, id string) {
				h.waitStatus(id, StatusRunning)
				h.waitArmed(5*time.Second, "target watch")
				h.tg.setHealth(TargetUnhealthyDraining)
				h.clock.Advance(5 * time.Second)
			},
			want:       []string{StatusProvisioning, StatusPending, StatusActivating, StatusRunning, StatusDeactivating, StatusStopping, StatusStopped},
			wantReason: "Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:eu-west-1:000000000000:targetgroup/tg/0123456789abcdef)",
			wantCode:   StopCodeServiceScheduler,
		},
		{
			name: "readiness timeout",
			svc: ServiceConfig{ContainerPort: fakePort, ReadinessTimeout: 30 * time.Second, ReadinessInterval: time.Second,
				Containers: []ContainerConfig{fakeContainer("web")}}, // nothing listens
			drive: func(h *clockHarness, id string) {
				h.waitArmed(30*time.Second, "readiness deadline")
				h.waitArmed(time.Second, "probe pause")
				h.clock.Advance(29 * time.Second)
				h.waitArmed(time.Second, "probe pause after 29s")
				h.assertStatus(id, StatusActivating)
				h.clock.Advance(time.Second)
			},
			want:       []string{StatusProvisioning, StatusPending, StatusActivating, StatusStopping, StatusStopped},
			wantReason: ReasonHealthCheck,
			wantCode:   StopCodeServiceScheduler,
		},
		{
			name: "stop order and stopTimeout",
			svc: ServiceConfig{StopTimeout: 30 * time.Second, ContainerName: "web",
				Containers: []ContainerConfig{fakeContainer("app", "FAKE_IGNORE_TERM=1"), fakeContainer("web"), fakeContainer("log")}},
			drive: func(h *clockHarness, id string) {
				h.waitStatus(id, StatusRunning)
				if err := h.s.Scale("svc", 0); err != nil {
					h.t.Fatal(err)
				}
				testutil.WaitFor(h.t, waitLong, "app got SIGTERM", func() bool { return slices.Contains(h.rt.eventList(id), "app:terminated") })
				h.waitArmed(30*time.Second, "stopTimeout")
				h.clock.Advance(30*time.Second - time.Millisecond)
				h.assertStatus(id, StatusStopping)
				h.clock.Advance(time.Millisecond)
				ts := h.waitStatus(id, StatusStopped)
				// The front door (ContainerName) first, then reverse definition order.
				want := []string{"app:started", "web:started", "log:started", "web:terminated", "log:terminated", "app:terminated", "app:killed"}
				if got := h.rt.eventList(id)[:len(want)]; !slices.Equal(got, want) {
					h.t.Errorf("events %v, want %v", got, want)
				}
				for name, code := range map[string]int{"app": 137, "web": 0, "log": 0} {
					if c := containerOf(ts, name); c.ExitCode == nil || *c.ExitCode != code {
						h.t.Errorf("%s exit code %v, want %d", name, c.ExitCode, code)
					}
				}
			},
			want:       []string{StatusProvisioning, StatusPending, StatusActivating, StatusRunning, StatusStopping, StatusStopped},
			wantReason: "Scaling activity initiated by (deployment {deployment})",
			wantCode:   StopCodeServiceScheduler,
		},
		{
			name: "dependency never HEALTHY",
			svc: ServiceConfig{ReadinessTimeout: time.Minute, Containers: []ContainerConfig{
				{Name: "app", Essential: true, DependsOn: []Dependency{{ContainerName: "db", Condition: ConditionHealthy}}},
				{Name: "db", Essential: true, HealthCheck: &HealthCheck{Command: []string{"CMD-SHELL", "exit 1"}, Interval: time.Hour, Retries: 3}},
			}},
			drive: func(h *clockHarness, id string) {
				h.waitArmed(time.Minute, "dependency deadline")
				h.clock.Advance(time.Minute)
				h.waitStatus(id, StatusStopped)
				if ev := h.rt.eventList(id); slices.Contains(ev, "app:started") {
					h.t.Errorf("app started although db never was HEALTHY: %v", ev)
				}
			},
			want:       []string{StatusProvisioning, StatusPending, StatusStopping, StatusStopped},
			wantReason: ReasonDependency + ": app: dependency db not HEALTHY after 1m0s",
			wantCode:   StopCodeFailedToStart,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc := tc.svc
			svc.Name, svc.DesiredCount = "svc", 1
			if svc.BackoffInitial == 0 {
				svc.BackoffInitial = time.Hour // no replacement unless the case expects one at once
			}
			h := newClockHarness(t, svc, cmp.Or(tc.health, TargetHealthy))
			id := h.first()
			tc.drive(h, id)
			ts := h.waitStatus(id, StatusStopped)
			if want := strings.ReplaceAll(tc.wantReason, "{deployment}", ts.DeploymentID); ts.StoppedReason != want || ts.StopCode != tc.wantCode {
				t.Errorf("stoppedReason, stopCode = %q, %q; want %q, %q", ts.StoppedReason, ts.StopCode, want, tc.wantCode)
			}
			// The status is visible before its log line (which records the
			// transition) is written: wait for the line of STOPPED.
			deadline := time.Now().Add(waitLong)
			got := h.trans.of(id)
			for (len(got) == 0 || got[len(got)-1] != StatusStopped) && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond) // polling a condition, bounded by the deadline
				got = h.trans.of(id)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("transitions %v, want %v", got, tc.want)
			}
		})
	}
}

// TestContainerHealthFakeClock: HEALTHY at the first passing check; a
// dependent container starts only then; Retries consecutive failures, one
// Interval apart, make the essential container UNHEALTHY and stop the task.
func TestContainerHealthFakeClock(t *testing.T) {
	t.Parallel()
	flag := filepath.Join(t.TempDir(), "ok")
	h := newClockHarness(t, ServiceConfig{Name: "svc", DesiredCount: 1, BackoffInitial: time.Hour,
		Containers: []ContainerConfig{
			{Name: "web", Essential: true, DependsOn: []Dependency{{ContainerName: "db", Condition: ConditionHealthy}}},
			{Name: "db", Essential: true, HealthCheck: &HealthCheck{Command: []string{"CMD-SHELL", "test -e " + flag},
				Interval: 10 * time.Second, Retries: 2}},
		}}, TargetHealthy)
	id := h.first()
	health := func() string { return containerOf(taskByID(t, h.s, id), "db").HealthStatus }

	h.waitArmed(10*time.Second, "health check interval after the first check")
	if got := h.rt.eventList(id); !slices.Equal(got, []string{"db:started"}) || health() != HealthUnknown {
		t.Fatalf("after a failed first check: events %v, db %s; want only db started, UNKNOWN", got, health())
	}
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(10 * time.Second)
	h.waitStatus(id, StatusRunning)
	if got := h.rt.eventList(id); !slices.Equal(got, []string{"db:started", "web:started"}) || health() != HealthHealthy {
		t.Fatalf("events %v, db %s; want web started after db HEALTHY", got, health())
	}

	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	h.waitArmed(10*time.Second, "next health check")
	h.clock.Advance(10 * time.Second) // failure 1 of 2
	h.waitArmed(10*time.Second, "health check after one failure")
	if health() != HealthHealthy {
		t.Fatalf("db %s after one failure, want still HEALTHY (retries 2)", health())
	}
	h.assertStatus(id, StatusRunning)
	h.clock.Advance(10 * time.Second) // failure 2 of 2
	ts := h.waitStatus(id, StatusStopped)
	if ts.StoppedReason != ReasonHealthCheck || ts.StopCode != StopCodeServiceScheduler || containerOf(ts, "db").HealthStatus != HealthUnhealthy {
		t.Errorf("reason %q, db %s; want %q, UNHEALTHY", ts.StoppedReason, containerOf(ts, "db").HealthStatus, ReasonHealthCheck)
	}
	if ev := h.rt.eventList(id); !slices.Equal(ev[2:], []string{"web:terminated", "db:terminated"}) {
		t.Errorf("stop events %v, want web before db (reverse dependency order)", ev[2:])
	}
}

// TestMissingSecretFakeClock: an unreadable secret file stops the task
// before any container starts, with a reason naming the secret.
func TestMissingSecretFakeClock(t *testing.T) {
	t.Parallel()
	h := newClockHarness(t, ServiceConfig{Name: "svc", DesiredCount: 1, BackoffInitial: time.Hour,
		Containers: []ContainerConfig{{Name: "app", Essential: true,
			Secrets: []Secret{{Name: "DB_PASSWORD", ValueFrom: "/nonexistent/${TASK_ID}/pw"}}}}}, TargetHealthy)
	id := h.first()
	ts := h.waitStatus(id, StatusStopped)
	want := ReasonCannotStart + ": app: unable to retrieve secret DB_PASSWORD from /nonexistent/" + id + "/pw"
	if !strings.HasPrefix(ts.StoppedReason, want) || ts.StopCode != StopCodeFailedToStart {
		t.Errorf("stoppedReason, stopCode = %q, %q; want prefix %q, %q", ts.StoppedReason, ts.StopCode, want, StopCodeFailedToStart)
	}
	if ev := h.rt.eventList(id); len(ev) != 0 {
		t.Errorf("containers started: %v", ev)
	}
	if c := containerOf(ts, "app"); c.LastStatus != StatusStopped || !strings.Contains(c.Reason, "DB_PASSWORD") {
		t.Errorf("container %+v", c)
	}
	if got := h.trans.of(id); !slices.Equal(got, []string{StatusProvisioning, StatusPending, StatusStopping, StatusStopped}) {
		t.Errorf("transitions %v", got)
	}
}
