package ecs

import (
	"os"
	"path/filepath"
	"slices"
	"syscall"
)

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
