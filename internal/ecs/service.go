package ecs

import (
	"time"
)

// service keeps DesiredCount tasks with desiredStatus RUNNING, replacing
// tasks that stop and backing off when replacements keep failing.
type service struct {
	cfg  ServiceConfig
	kick chan struct{} // buffered(1): "look again"

	// guarded by Supervisor.mu
	failures   int       // consecutive start failures
	nextLaunch time.Time // monotonic; no launch before it
}

func newService(cfg ServiceConfig) *service {
	return &service{cfg: cfg.withDefaults(), kick: make(chan struct{}, 1)}
}

func (sv *service) poke() {
	select {
	case sv.kick <- struct{}{}:
	default:
	}
}

// runService is the service scheduler loop.
func (s *Supervisor) runService(sv *service) {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		if wait := s.reconcile(sv); wait > 0 {
			timer.Reset(wait)
		}
		select {
		case <-sv.kick:
		case <-timer.C:
		case <-s.stopCh:
			return
		}
		timer.Stop()
	}
}

// reconcile launches the tasks the service is short of, unless it is backing
// off; it returns how long to wait before looking again (0: until poked).
func (s *Supervisor) reconcile(sv *service) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return 0
	}
	active := 0
	for _, t := range s.tasks {
		if t.svc == sv && t.desiredStatus == StatusRunning {
			active++
		}
	}
	for ; active < sv.cfg.DesiredCount; active++ {
		if wait := time.Until(sv.nextLaunch); wait > 0 {
			return wait
		}
		if err := s.launchLocked(sv); err != nil {
			s.log.Error("cannot place task", "service", sv.cfg.Name, "err", err)
			sv.nextLaunch = time.Now().Add(sv.cfg.BackoffInitial)
			return sv.cfg.BackoffInitial
		}
	}
	return 0
}

// launchLocked creates a task in PROVISIONING and starts its goroutine.
func (s *Supervisor) launchLocked(sv *service) error {
	ip, err := s.ipam.allocate()
	if err != nil {
		return err
	}
	t := &task{
		id:            newTaskID(),
		svc:           sv,
		ip:            ip,
		stopReq:       make(chan struct{}),
		lastStatus:    StatusProvisioning,
		desiredStatus: StatusRunning,
		createdAt:     s.now(),
	}
	for _, cc := range sv.cfg.Containers {
		t.containers = append(t.containers, &container{cfg: cc, lastStatus: StatusPending})
	}
	s.tasks[t.id] = t
	s.log.Info("task launched", "task", t.id, "service", sv.cfg.Name, "ip", ip.String())
	s.wg.Add(1)
	go s.runTask(t)
	return nil
}

// requestStop sets a task's desiredStatus to STOPPED (first reason wins) and
// lets its service schedule a replacement. failure marks stops the service
// did not ask for; quick ones feed the back-off.
func (s *Supervisor) requestStop(t *task, reason string, failure bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requestStopLocked(t, reason, failure)
}

func (s *Supervisor) requestStopLocked(t *task, reason string, failure bool) {
	if t.desiredStatus == StatusStopped {
		return
	}
	t.desiredStatus = StatusStopped
	t.stoppedReason = reason
	close(t.stopReq)
	sv := t.svc
	switch {
	case !t.runningSince.IsZero() && time.Since(t.runningSince) >= sv.cfg.StableAfter:
		sv.failures = 0 // it ran fine for a while: replace at once
	case failure:
		sv.failures++
		delay := sv.cfg.backoff(sv.failures)
		sv.nextLaunch = time.Now().Add(delay)
		s.log.Warn("task failed; backing off", "task", t.id, "service", sv.cfg.Name, "reason", reason,
			"consecutiveFailures", sv.failures, "retryIn", delay)
	}
	s.log.Info("task stopping", "task", t.id, "service", sv.cfg.Name, "reason", reason)
	sv.poke()
}
