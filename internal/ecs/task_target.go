package ecs

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

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
			s.requestStop(t, StopCodeFailedToStart, fmt.Sprintf("%s %s: %v", ReasonRegisterFailed, cfg.TargetGroup, err), true)
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
	if d := t.deployment; d.rollout == RolloutInProgress {
		d.failedTasks = 0 // ECS resetOnHealthyTask (default true)
	}
	t.runningSince = s.clock.Now()
	t.svc.pullFailure = ""
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

// elbHealthReason is the stoppedReason of t failing its group's health
// checks, naming the group by ARN when the registrar can tell it.
func (s *Supervisor) elbHealthReason(t *task) string {
	group := t.cfg.TargetGroup
	if r, ok := s.cfg.Registrar.(TargetGroupARNReader); ok {
		if arn := r.TargetGroupARN(group); arn != "" {
			group = arn
		}
	}
	return elbHealthReason(group)
}

// unhealthy reports whether a target state fails the task's ELB health
// checks: unhealthy, or unhealthy.draining (an NLB target group without
// unhealthy connection termination).
func unhealthy(state string) bool {
	return state == TargetUnhealthy || state == TargetUnhealthyDraining
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
	graceNoted := false
	for {
		state := s.targetState(t, tsr)
		switch {
		case state == TargetHealthy:
			return true
		case unhealthy(state) && s.pastGrace(t):
			s.failELBHealth(t, "task failed ELB health checks", state)
			return false
		case unhealthy(state) && !graceNoted:
			// Tolerated until the grace period ends: say so once, with why.
			graceNoted = true
			s.log.Warn("task target unhealthy during its health check grace period", "task", t.id, "service", cfg.Name,
				"targetGroup", cfg.TargetGroup, "ip", t.ip.String(), "gracePeriod", cfg.HealthCheckGracePeriod,
				"targetHealth", s.targetHealthDetail(t))
		}
		// A fresh timer per look: armed only once this look is done.
		tick := s.clock.NewTimer(every)
		select {
		case <-t.stopReq:
			tick.Stop()
			return false
		case <-limit.C():
			tick.Stop()
			s.failELBHealth(t, "task target never became healthy", state)
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
		if state := s.targetState(t, tsr); unhealthy(state) && s.pastGrace(t) {
			s.failELBHealth(t, "task failed ELB health checks", state)
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
			s.requestStop(t, StopCodeServiceScheduler, ReasonHealthCheck, true)
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
