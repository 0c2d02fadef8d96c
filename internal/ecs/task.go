package ecs

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
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
	stopCode      string
	createdAt     time.Time // reported clock
	startedAt     time.Time
	stoppedAt     time.Time
	runningSince  time.Time // monotonic, for the back-off's "stable" test
	launchedAt    time.Time // monotonic: containers started; the grace period runs from here
	registered    bool
	targetHealth  string // the load balancer's word on its target when it failed ELB health checks
	containers    []*container
	sandbox       TaskSandbox  // image containers' network namespace (image.go)
	metaLn        net.Listener // the metadata endpoint inside the sandbox (nil: none)
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
	startedAt  time.Time // reported clock; zero until started
	finishedAt time.Time // reported clock; zero until exited

	// token names the container in its task metadata URI (never changes).
	token string
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
	s.removeSandbox(t)
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
		s.requestStop(t, StopCodeFailedToStart, fmt.Sprintf("%s: %v", ReasonResourceInit, err), true)
		return false
	}
	s.setStatus(t, StatusPending)
	if !s.createSandbox(t) {
		return false
	}
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
			s.requestStop(t, StopCodeFailedToStart, fmt.Sprintf("%s: %s: %v", ReasonDependency, c.cfg.Name, err), true)
			return false
		}
		if stopRequested(t) {
			return false
		}
		if err := s.startContainer(t, c, dir, repl); err != nil {
			s.mu.Lock()
			c.lastStatus, c.reason = StatusStopped, err.Error()
			s.mu.Unlock()
			s.requestStop(t, StopCodeFailedToStart, fmt.Sprintf("%s: %s: %v", ReasonCannotStart, c.cfg.Name, err), true)
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
	if c.cfg.isImage() {
		return s.startImageContainer(t, c, logf, secrets, repl)
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
	in := taskEnvInput{base: s.baseEnv, def: c.cfg.Env, secrets: secrets,
		taskID: t.id, taskIP: t.ip.String(), name: c.cfg.Name}
	in.metaURIV4, in.metaURIV3 = s.metadataURIs(c)
	if s.cfg.ExtraEnv != nil {
		in.extra = s.cfg.ExtraEnv()
	}
	env := taskEnv(in, repl)
	proc, err := s.cfg.Runtime.Start(ContainerSpec{
		TaskID: t.id, Name: c.cfg.Name,
		Path: path, Args: args, Env: env, Output: logf,
		OwnPIDNamespace: c.cfg.Engine == EngineNginx,
	})
	if err != nil {
		logf.Close()
		return err
	}
	s.containerStarted(t, c, proc, logf, env, repl)
	return nil
}

// containerStarted records a started container and watches it: its exit,
// and its health check if it has one.
func (s *Supervisor) containerStarted(t *task, c *container, proc Process, logf *cappedLog, env []string, repl *strings.Replacer) {
	s.mu.Lock()
	c.proc, c.pid, c.log, c.lastStatus = proc, proc.PID(), logf, StatusRunning
	c.startedAt = s.now()
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
}

// waitContainer reaps one container and stops the task if it was essential.
func (s *Supervisor) waitContainer(t *task, c *container) {
	defer s.wg.Done()
	code, err := c.proc.Wait()
	s.mu.Lock()
	c.exitCode = &code
	c.lastStatus = StatusStopped
	c.finishedAt = s.now()
	if err != nil {
		c.reason = err.Error()
	}
	s.mu.Unlock()
	close(c.exited)
	s.log.Info("container exited", "task", t.id, "service", t.cfg.Name, "container", c.cfg.Name, "exitCode", code)
	if c.cfg.Essential {
		s.requestStop(t, StopCodeEssentialExited, ReasonEssentialExited, true)
	}
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
		StopCode:      t.stopCode,
		TargetHealth:  t.targetHealth,
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
	ts.TaskDefinitionRevision = t.deployment.revision
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
