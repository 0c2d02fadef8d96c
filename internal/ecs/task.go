package ecs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// task is one running (or stopping) task. Fields below the line are guarded
// by Supervisor.mu; the task goroutine (runTask) drives the state machine.
type task struct {
	id         string
	svc        *service
	deployment *deployment
	// cfg is the service's configuration when the task was launched: its
	// task definition (containers, port, stopTimeout) never changes, even
	// when UpdateService swaps in a new one for later tasks.
	cfg     ServiceConfig
	ip      netip.Addr
	stopReq chan struct{} // closed when desiredStatus becomes STOPPED

	// guarded by Supervisor.mu
	lastStatus    string
	desiredStatus string
	stoppedReason string
	createdAt     time.Time // reported clock
	startedAt     time.Time
	stoppedAt     time.Time
	runningSince  time.Time // monotonic, for the back-off's "stable" test
	launchedAt    time.Time // monotonic: containers started; the grace period runs from here
	registered    bool
	containers    []*container
}

type container struct {
	cfg     ContainerConfig
	exited  chan struct{} // closed once the process is reaped (never started: nil)
	healthy chan struct{} // closed when the health check first passes

	// guarded by Supervisor.mu
	proc       Process
	pid        int
	lastStatus string
	exitCode   *int
	reason     string
	health     string // "" without a health check, else UNKNOWN/HEALTHY/UNHEALTHY
	log        *cappedLog
}

func newTaskID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics rather)
	return hex.EncodeToString(b[:])
}

// runTask drives one task from PROVISIONING to STOPPED.
func (s *Supervisor) runTask(t *task) {
	defer s.wg.Done()
	if s.startContainers(t) && s.activate(t) {
		s.watchTarget(t) // RUNNING until an essential container exits or a stop is requested
	}
	s.deactivate(t)
	s.stopContainers(t)
	s.finish(t)
}

func (s *Supervisor) setStatus(t *task, status string) {
	s.mu.Lock()
	t.lastStatus = status
	s.mu.Unlock()
	s.log.Debug("task status", "task", t.id, "service", t.cfg.Name, "ip", t.ip.String(), "status", status)
}

func stopRequested(t *task) bool {
	select {
	case <-t.stopReq:
		return true
	default:
		return false
	}
}

// startContainers is PROVISIONING → PENDING: log directory, then one process
// per container in definition order. It reports whether all started.
func (s *Supervisor) startContainers(t *task) bool {
	if stopRequested(t) {
		return false
	}
	dir := filepath.Join(s.cfg.StateDir, "tasks", t.id)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		s.requestStop(t, fmt.Sprintf("%s: %v", ReasonResourceInit, err), true)
		return false
	}
	s.setStatus(t, StatusPending)
	repl := strings.NewReplacer("${TASK_IP}", t.ip.String(), "${TASK_ID}", t.id)
	order, _ := startOrder(t.cfg.Containers) // validated: no cycle
	for _, i := range order {
		c := t.containers[i]
		if stopRequested(t) {
			return false
		}
		if err := s.waitDependencies(t, c); err != nil {
			s.mu.Lock()
			c.lastStatus, c.reason = StatusStopped, err.Error()
			s.mu.Unlock()
			s.requestStop(t, fmt.Sprintf("%s: %s: %v", ReasonDependency, c.cfg.Name, err), true)
			return false
		}
		if stopRequested(t) {
			return false
		}
		if err := s.startContainer(t, c, dir, repl); err != nil {
			s.mu.Lock()
			c.lastStatus, c.reason = StatusStopped, err.Error()
			s.mu.Unlock()
			s.requestStop(t, fmt.Sprintf("%s: %s: %v", ReasonCannotStart, c.cfg.Name, err), true)
			return false
		}
	}
	s.mu.Lock()
	t.launchedAt = s.clock.Now()
	s.mu.Unlock()
	return true
}

// waitDependencies waits until c's dependencies meet their condition:
// START (started earlier in startOrder: nothing to wait for) or HEALTHY.
// It gives up when a dependency exits, the task is stopping, or after the
// service's ReadinessTimeout.
func (s *Supervisor) waitDependencies(t *task, c *container) error {
	for _, d := range c.cfg.DependsOn {
		if d.Condition != ConditionHealthy {
			continue
		}
		var dep *container
		for _, x := range t.containers {
			if x.cfg.Name == d.ContainerName {
				dep = x
			}
		}
		s.mu.Lock()
		exited := dep.exited
		s.mu.Unlock()
		timeout := s.clock.NewTimer(t.cfg.ReadinessTimeout)
		select {
		case <-dep.healthy:
		case <-exited:
			timeout.Stop()
			return fmt.Errorf("dependency %s exited before it was HEALTHY", d.ContainerName)
		case <-t.stopReq:
		case <-timeout.C():
			return fmt.Errorf("dependency %s not HEALTHY after %s", d.ContainerName, t.cfg.ReadinessTimeout)
		}
		timeout.Stop()
	}
	return nil
}

func (s *Supervisor) startContainer(t *task, c *container, dir string, repl *strings.Replacer) error {
	secrets, err := secretEnv(c.cfg.Secrets, repl)
	if err != nil {
		return err
	}
	logf, err := openCappedLog(filepath.Join(dir, c.cfg.Name+".log"), s.cfg.LogMaxBytes)
	if err != nil {
		return err
	}
	path := s.cfg.Executable
	if c.cfg.Executable != "" {
		path = c.cfg.Executable // resolved by Start
	}
	args := make([]string, len(c.cfg.Command))
	for i, a := range c.cfg.Command {
		args[i] = repl.Replace(a)
	}
	if c.cfg.Engine == EngineNginx {
		if path, args, err = nginxCommand(t.id, dir, c.cfg, repl); err != nil {
			logf.Close()
			return err
		}
	}
	env := os.Environ()
	for _, e := range c.cfg.Env {
		env = append(env, repl.Replace(e))
	}
	env = append(env, secrets...)
	env = append(env,
		"PORTWAY_TASK_ID="+t.id,
		"PORTWAY_TASK_IP="+t.ip.String(),
		"PORTWAY_CONTAINER="+c.cfg.Name,
	)
	proc, err := s.cfg.Runtime.Start(ContainerSpec{
		TaskID: t.id, Name: c.cfg.Name,
		Path: path, Args: args, Env: env, Output: logf,
		OwnPIDNamespace: c.cfg.Engine == EngineNginx,
	})
	if err != nil {
		logf.Close()
		return err
	}
	s.mu.Lock()
	c.proc, c.pid, c.log, c.lastStatus = proc, proc.PID(), logf, StatusRunning
	c.exited = make(chan struct{})
	if c.cfg.HealthCheck != nil {
		c.health = HealthUnknown
	}
	s.mu.Unlock()
	s.log.Info("container started", "task", t.id, "service", t.cfg.Name, "container", c.cfg.Name, "pid", proc.PID(), "ip", t.ip.String())

	s.wg.Add(1)
	go s.waitContainer(t, c)
	if c.cfg.HealthCheck != nil {
		s.wg.Add(1)
		go s.runHealthCheck(t, c, *c.cfg.HealthCheck, env, repl)
	}
	return nil
}

// waitContainer reaps one container and stops the task if it was essential.
func (s *Supervisor) waitContainer(t *task, c *container) {
	defer s.wg.Done()
	code, err := c.proc.Wait()
	s.mu.Lock()
	c.exitCode = &code
	c.lastStatus = StatusStopped
	if err != nil {
		c.reason = err.Error()
	}
	s.mu.Unlock()
	close(c.exited)
	s.log.Info("container exited", "task", t.id, "service", t.cfg.Name, "container", c.cfg.Name, "exitCode", code)
	if c.cfg.Essential {
		s.requestStop(t, ReasonEssentialExited, true)
	}
}

// activate is ACTIVATING: wait for readiness, then register. It reports
// whether the task reached RUNNING.
func (s *Supervisor) activate(t *task) bool {
	cfg := t.cfg
	s.setStatus(t, StatusActivating)
	if cfg.ContainerPort > 0 && !s.waitReady(t) {
		return false
	}
	if cfg.TargetGroup != "" {
		if stopRequested(t) {
			return false
		}
		ip := t.ip.String()
		if err := s.cfg.Registrar.Register(s.ctx, cfg.TargetGroup, ip, cfg.ContainerPort); err != nil {
			s.requestStop(t, fmt.Sprintf("%s %s: %v", ReasonRegisterFailed, cfg.TargetGroup, err), true)
			return false
		}
		s.mu.Lock()
		t.registered = true
		s.mu.Unlock()
		s.log.Info("task registered", "task", t.id, "targetGroup", cfg.TargetGroup, "target", net.JoinHostPort(ip, strconv.Itoa(cfg.ContainerPort)))
		if !s.waitHealthyTarget(t) {
			return false
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.desiredStatus != StatusRunning {
		return false
	}
	t.lastStatus = StatusRunning
	t.startedAt = s.now()
	t.runningSince = s.clock.Now()
	s.log.Debug("task status", "task", t.id, "service", cfg.Name, "ip", t.ip.String(), "status", StatusRunning)
	s.log.Info("task running", "task", t.id, "service", cfg.Name, "ip", t.ip.String())
	t.svc.poke() // a deployment may now stop an old task
	return true
}

// targetStates returns the registrar's view of target health, or nil when
// the task has no target group or the registrar cannot tell.
func (s *Supervisor) targetStates(t *task) TargetStateReader {
	if t.cfg.TargetGroup == "" {
		return nil
	}
	tsr, _ := s.cfg.Registrar.(TargetStateReader)
	return tsr
}

// targetState asks for the task's target state; errors read as "".
func (s *Supervisor) targetState(t *task, tsr TargetStateReader) string {
	cfg := t.cfg
	state, err := tsr.TargetState(s.ctx, cfg.TargetGroup, t.ip.String(), cfg.ContainerPort)
	if err != nil {
		s.log.Debug("target state", "task", t.id, "targetGroup", cfg.TargetGroup, "err", err)
		return ""
	}
	return state
}

// pastGrace reports whether the task's health check grace period is over.
func (s *Supervisor) pastGrace(t *task) bool {
	s.mu.Lock()
	launched := t.launchedAt
	grace := t.svc.cfg.HealthCheckGracePeriod // the service's current setting (UpdateService may change it)
	s.mu.Unlock()
	return s.clock.Now().Sub(launched) >= grace
}

// activatingPollInterval bounds how long a task stays ACTIVATING after its
// target became healthy.
const activatingPollInterval = 50 * time.Millisecond

// waitHealthyTarget keeps a registered task ACTIVATING until its target is
// healthy. An unhealthy target after the grace period, or no healthy
// target within the grace period plus the readiness timeout, stops the
// task ("Task failed ELB health checks").
func (s *Supervisor) waitHealthyTarget(t *task) bool {
	tsr := s.targetStates(t)
	if tsr == nil {
		return true
	}
	cfg := t.cfg
	limit := s.clock.NewTimer(cfg.HealthCheckGracePeriod + cfg.ReadinessTimeout)
	defer limit.Stop()
	// Look often: RUNNING should follow the target's healthy at once.
	every := min(cfg.ReadinessInterval, activatingPollInterval)
	for {
		state := s.targetState(t, tsr)
		switch {
		case state == TargetHealthy:
			return true
		case state == TargetUnhealthy && s.pastGrace(t):
			s.log.Warn("task failed ELB health checks", "task", t.id, "service", cfg.Name, "targetGroup", cfg.TargetGroup, "ip", t.ip.String())
			s.requestStop(t, ReasonELBHealthCheck, true)
			return false
		}
		// A fresh timer per look: armed only once this look is done.
		tick := s.clock.NewTimer(every)
		select {
		case <-t.stopReq:
			tick.Stop()
			return false
		case <-limit.C():
			tick.Stop()
			s.log.Warn("task target never became healthy", "task", t.id, "service", cfg.Name, "targetGroup", cfg.TargetGroup, "state", state)
			s.requestStop(t, ReasonELBHealthCheck, true)
			return false
		case <-tick.C():
		}
	}
}

// watchTarget is RUNNING: it returns when a stop is requested, and
// requests one itself when the task's target turns unhealthy after the
// grace period.
func (s *Supervisor) watchTarget(t *task) {
	tsr := s.targetStates(t)
	if tsr == nil {
		<-t.stopReq
		return
	}
	cfg := t.cfg
	for {
		tick := s.clock.NewTimer(cfg.ReadinessInterval)
		select {
		case <-t.stopReq:
			tick.Stop()
			return
		case <-tick.C():
		}
		if s.targetState(t, tsr) == TargetUnhealthy && s.pastGrace(t) {
			s.log.Warn("task failed ELB health checks", "task", t.id, "service", cfg.Name, "targetGroup", cfg.TargetGroup, "ip", t.ip.String())
			s.requestStop(t, ReasonELBHealthCheck, true)
			return
		}
	}
}

// waitReady probes the task until it answers, the readiness deadline passes
// (task stopped as unhealthy) or a stop is requested.
func (s *Supervisor) waitReady(t *task) bool {
	cfg := t.cfg
	deadline := time.Now().Add(cfg.ReadinessTimeout) // real: bounds network I/O
	expired := s.clock.NewTimer(cfg.ReadinessTimeout)
	defer expired.Stop()
	addr := net.JoinHostPort(t.ip.String(), strconv.Itoa(cfg.ContainerPort))
	for {
		err := s.probe(deadline, addr, cfg.ReadinessPath)
		if err == nil {
			return true
		}
		pause := s.clock.NewTimer(cfg.ReadinessInterval)
		select {
		case <-t.stopReq:
			pause.Stop()
			return false
		case <-expired.C():
			pause.Stop()
			s.log.Warn("task failed readiness", "task", t.id, "service", cfg.Name, "addr", addr, "path", cfg.ReadinessPath, "err", err)
			s.requestStop(t, ReasonHealthCheck, true)
			return false
		case <-pause.C():
		}
	}
}

// probe makes one readiness check: HTTP GET path → 200, or a TCP connect
// when path is empty.
func (s *Supervisor) probe(deadline time.Time, addr, path string) error {
	if d := time.Now().Add(2 * time.Second); d.Before(deadline) {
		deadline = d
	}
	ctx, cancel := context.WithDeadline(s.ctx, deadline)
	defer cancel()
	if path == "" {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return conn.Close()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "portway-ecs-readiness/1.0")
	resp, err := s.probeClient.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// deactivate is DEACTIVATING: deregister and wait for the drain.
func (s *Supervisor) deactivate(t *task) {
	s.mu.Lock()
	registered := t.registered
	s.mu.Unlock()
	if !registered {
		return
	}
	cfg := t.cfg
	s.setStatus(t, StatusDeactivating)
	ip := t.ip.String()
	if err := s.cfg.Registrar.Deregister(s.ctx, cfg.TargetGroup, ip, cfg.ContainerPort); err != nil {
		s.log.Warn("deregister", "task", t.id, "targetGroup", cfg.TargetGroup, "ip", ip, "err", err)
	}
	s.mu.Lock()
	t.registered = false
	s.mu.Unlock()
}

// stopOrder is the order containers are stopped in: reverse dependency
// order (a container stops before those it depends on); among containers
// free to stop, the one serving the target group (ContainerName: the front
// door, e.g. the sidecar) first, so that it finishes its requests in
// flight while the app behind it still answers, then the others in
// reverse definition order.
func (t *task) stopOrder() []*container {
	n := len(t.containers)
	dependents := make(map[string]int, n) // name → dependents not yet stopped
	for _, c := range t.containers {
		for _, d := range c.cfg.DependsOn {
			dependents[d.ContainerName]++
		}
	}
	done := make([]bool, n)
	order := make([]*container, 0, n)
	for len(order) < n {
		pick := -1
		for i := n - 1; i >= 0; i-- {
			c := t.containers[i]
			if done[i] || dependents[c.cfg.Name] > 0 {
				continue
			}
			if pick < 0 || c.cfg.Name == t.cfg.ContainerName {
				pick = i
			}
		}
		if pick < 0 { // a cycle (rejected by Validate): stop the rest in reverse order
			for i := n - 1; i >= 0; i-- {
				if !done[i] {
					done[i] = true
					order = append(order, t.containers[i])
				}
			}
			break
		}
		done[pick] = true
		order = append(order, t.containers[pick])
		for _, d := range t.containers[pick].cfg.DependsOn {
			dependents[d.ContainerName]--
		}
	}
	return order
}

// stopContainers is STOPPING: SIGTERM (see stopSignal) each live container
// in stopOrder, SIGKILL after StopTimeout (at once when the supervisor's
// context has ended), and wait until every process has been reaped.
func (s *Supervisor) stopContainers(t *task) {
	s.setStatus(t, StatusStopping)
	for _, c := range t.stopOrder() {
		s.mu.Lock()
		proc, exited := c.proc, c.exited
		s.mu.Unlock()
		if proc == nil {
			continue
		}
		select {
		case <-exited:
			continue
		default:
		}
		if s.ctx.Err() == nil {
			s.signal(t, c, stopSignal(c.cfg))
			stopTimeout := t.cfg.stopTimeout(c.cfg)
			timeout := s.clock.NewTimer(stopTimeout)
			select {
			case <-exited:
			case <-timeout.C():
				s.log.Warn("container did not stop in time; killing", "task", t.id, "container", c.cfg.Name, "stopTimeout", stopTimeout)
			case <-s.ctx.Done():
			}
			timeout.Stop()
		}
		select {
		case <-exited:
		default:
			s.signal(t, c, syscall.SIGKILL)
			<-exited
		}
	}
}

// stopSignal is what asks a container to stop: SIGTERM, but SIGQUIT for
// nginx, whose SIGTERM drops requests in flight (nginx's own images set
// STOPSIGNAL SIGQUIT, its graceful shutdown).
func stopSignal(c ContainerConfig) syscall.Signal {
	if c.Engine == EngineNginx {
		return syscall.SIGQUIT
	}
	return syscall.SIGTERM
}

func (s *Supervisor) signal(t *task, c *container, sig syscall.Signal) {
	if err := c.proc.Signal(sig); err != nil && err != os.ErrProcessDone {
		s.log.Warn("signal container", "task", t.id, "container", c.cfg.Name, "signal", sig.String(), "err", err)
	}
}

// finish is STOPPED: close logs, free the address, keep a snapshot. The log
// directories of stopped tasks that fall out of the retained history are
// removed, so a crash loop cannot fill the disk.
func (s *Supervisor) finish(t *task) {
	s.mu.Lock()
	for _, c := range t.containers {
		if c.log != nil {
			c.log.Close()
		}
		c.lastStatus = StatusStopped
	}
	t.lastStatus = StatusStopped
	t.desiredStatus = StatusStopped
	t.stoppedAt = s.now()
	s.ipam.release(t.ip)
	delete(s.tasks, t.id)
	snap := t.snapshot()
	s.stopped = append(s.stopped, snap)
	var evicted []TaskStatus
	if over := len(s.stopped) - s.cfg.StoppedRetention; over > 0 {
		evicted = slices.Clone(s.stopped[:over])
		s.stopped = slices.Clone(s.stopped[over:])
	}
	s.mu.Unlock()

	s.log.Debug("task status", "task", t.id, "service", snap.Service, "ip", snap.IP, "status", StatusStopped)
	s.log.Info("task stopped", "task", t.id, "service", snap.Service, "ip", snap.IP, "reason", snap.StoppedReason)
	for _, ts := range evicted {
		if err := os.RemoveAll(filepath.Join(s.cfg.StateDir, "tasks", ts.TaskID)); err != nil {
			s.log.Warn("remove old task logs", "task", ts.TaskID, "err", err)
		}
	}
	t.svc.poke()
}

// snapshot must be called with Supervisor.mu held.
func (t *task) snapshot() TaskStatus {
	ts := TaskStatus{
		TaskID:        t.id,
		Service:       t.cfg.Name,
		DeploymentID:  t.deployment.id,
		LastStatus:    t.lastStatus,
		DesiredStatus: t.desiredStatus,
		IP:            t.ip.String(),
		StoppedReason: t.stoppedReason,
		CreatedAt:     t.createdAt,
		Containers:    make([]ContainerStatus, len(t.containers)),
	}
	if !t.startedAt.IsZero() {
		v := t.startedAt
		ts.StartedAt = &v
	}
	if !t.stoppedAt.IsZero() {
		v := t.stoppedAt
		ts.StoppedAt = &v
	}
	for i, c := range t.containers {
		cs := ContainerStatus{Name: c.cfg.Name, PID: c.pid, LastStatus: c.lastStatus, Reason: c.reason, HealthStatus: c.health,
			PortMappings: c.cfg.portMappings()}
		if c.exitCode != nil {
			v := *c.exitCode
			cs.ExitCode = &v
		}
		ts.Containers[i] = cs
	}
	return ts
}
