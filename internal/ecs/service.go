package ecs

import (
	"cmp"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/portway/portway/internal/taskmeta"
)

// Deployment statuses and rollout states, as in ECS DescribeServices.
const (
	DeploymentPrimary  = "PRIMARY"
	DeploymentActive   = "ACTIVE"
	RolloutInProgress  = "IN_PROGRESS"
	RolloutCompleted   = "COMPLETED"
	RolloutFailed      = "FAILED"
	deploymentIDPrefix = "ecs-svc/"
)

// service keeps DesiredCount tasks with desiredStatus RUNNING, replacing
// tasks that stop, backing off when replacements keep failing, and rolling
// tasks of older deployments over to the primary one.
type service struct {
	name string        // never changes
	kick chan struct{} // buffered(1): "look again"

	// guarded by Supervisor.mu
	// cfg is the current configuration with defaults applied and container
	// executables resolved (by Start or UpdateService): new tasks copy it.
	cfg ServiceConfig
	// spec is the configuration as last given (New or UpdateService), with
	// defaults applied: what UpdateService compares a new one with.
	spec        ServiceConfig
	desired     int
	deployments []*deployment // oldest first; the last is PRIMARY
	failures    int           // consecutive start failures
	nextLaunch  time.Time     // monotonic; no launch before it
	// lastCompleted is the deployment a circuit breaker rolls back to: the
	// latest that reached COMPLETED (nil once a rollback to it started,
	// until the rollback completes, as ECS).
	lastCompleted *deployment
	events        []ServiceEvent // oldest first, at most maxServiceEvents
	revisions     int            // the latest task definition revision
	// pullFailure is the last CannotPullContainerError event's reason,
	// until a task reaches RUNNING: the same one is not repeated for each
	// task that fails the same way.
	pullFailure string
}

// maxServiceEvents is how many events a service keeps (ECS
// DescribeServices returns the latest 100).
const maxServiceEvents = 100

// deployment is one generation of a service's tasks. Its fields are
// guarded by Supervisor.mu.
type deployment struct {
	id        string
	createdAt time.Time // reported clock
	// cfg and spec are the service's configuration (as sv.cfg and sv.spec)
	// when the deployment started: a rollback restores their task
	// definition.
	cfg, spec ServiceConfig
	// revision is the task definition's revision (the service's name is
	// its family): 1 at first, one more for each changed task definition;
	// a forced deployment keeps it, a rollback restores the old one.
	revision    int
	rollout     string // RolloutInProgress, RolloutCompleted or RolloutFailed
	reason      string // rolloutStateReason
	failedTasks int    // failed in a row; reset when a task reaches RUNNING
}

// newDeployment makes a deployment with an id in ECS's form: "ecs-svc/"
// and 19 decimal digits (ECS: "startedBy": "ecs-svc/9223370545345641169").
func newDeployment(now time.Time, cfg, spec ServiceConfig) *deployment {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics rather)
	n := binary.BigEndian.Uint64(b[:])%(8e18) + 1e18
	d := &deployment{id: fmt.Sprintf("%s%d", deploymentIDPrefix, n), createdAt: now, cfg: cfg, spec: spec,
		revision: 1, rollout: RolloutInProgress}
	d.reason = fmt.Sprintf("ECS deployment %s in progress.", d.id)
	return d
}

func newService(cfg ServiceConfig, now time.Time) *service {
	spec := cfg.withDefaults()
	spec.Containers = cloneContainers(spec.Containers)
	cfg = spec
	cfg.Containers = cloneContainers(spec.Containers) // Start resolves executables in place
	return &service{name: cfg.Name, cfg: cfg, spec: spec, desired: cfg.DesiredCount, kick: make(chan struct{}, 1), revisions: 1,
		deployments: []*deployment{newDeployment(now, cfg, spec)}}
}

// CircuitBreakerThreshold is how many tasks of a deployment must fail in a
// row for the deployment circuit breaker to mark it FAILED: half the
// desired count, rounded up, at least 3 and at most 200 (ECS API
// Reference, ServiceDeploymentCircuitBreaker.threshold: "a minimum
// threshold of 3 and a maximum threshold of 200", "0.5 * desired task
// count").
func CircuitBreakerThreshold(desired int) int {
	return min(max((desired+1)/2, 3), 200)
}

// eventLocked records a service event. Call with Supervisor.mu held.
func (s *Supervisor) eventLocked(sv *service, format string, args ...any) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	sv.events = append(sv.events, ServiceEvent{ID: id, CreatedAt: s.now(), Message: fmt.Sprintf(format, args...)})
	if over := len(sv.events) - maxServiceEvents; over > 0 {
		sv.events = slices.Delete(sv.events, 0, over)
	}
}

// completeIfSteadyLocked marks the primary deployment COMPLETED once the
// service is in a steady state: desired tasks of the primary deployment
// RUNNING, none pending, no task of another deployment left. Call with
// Supervisor.mu held.
func (s *Supervisor) completeIfSteadyLocked(sv *service) {
	p := sv.primary()
	if p.rollout != RolloutInProgress {
		return
	}
	running, pending := 0, 0
	for _, t := range s.tasks {
		if t.svc != sv {
			continue
		}
		if t.deployment != p {
			return
		}
		switch {
		case t.desiredStatus != StatusRunning:
		case t.lastStatus == StatusRunning:
			running++
		default:
			pending++
		}
	}
	if running != sv.desired || pending != 0 {
		return
	}
	p.rollout, p.reason = RolloutCompleted, fmt.Sprintf("ECS deployment %s completed.", p.id)
	sv.lastCompleted = p
	sv.deployments = []*deployment{p} // FAILED ones stayed listed while this one was in progress
	s.log.Info("deployment completed", "service", sv.name, "deployment", p.id)
	s.eventLocked(sv, "(service %s) (deployment %s) deployment completed.", sv.name, p.id)
	s.eventLocked(sv, "(service %s) has reached a steady state.", sv.name)
}

// taskFailedLocked counts a failed task against its deployment and trips
// the deployment circuit breaker at its threshold. Call with
// Supervisor.mu held.
func (s *Supervisor) taskFailedLocked(t *task) {
	sv, d := t.svc, t.deployment
	switch {
	case t.stoppedReason == ReasonHealthCheck:
		s.eventLocked(sv, "(service %s) (task %s) failed container health checks.", sv.name, t.id)
	case strings.HasPrefix(t.stoppedReason, ReasonCannotPull) && t.stoppedReason == sv.pullFailure:
		// said once already
	case strings.HasPrefix(t.stoppedReason, ReasonCannotPull):
		sv.pullFailure = t.stoppedReason
		s.eventLocked(sv, "(service %s) (task %s) stopped: %s. The service retries with back-off; fix the image and deploy again.",
			sv.name, t.id, strings.TrimSuffix(t.stoppedReason, "."))
	default:
		s.eventLocked(sv, "%s", stoppedEvent(t))
	}
	if d.rollout != RolloutInProgress {
		return
	}
	d.failedTasks++
	cb := sv.cfg.DeploymentCircuitBreaker
	if cb == nil || !cb.Enable || d != sv.primary() || d.failedTasks < CircuitBreakerThreshold(sv.desired) {
		return
	}
	// ECS: "If the service fails to reach a steady state and circuit
	// breaker is turned on, the deployment transitions to a FAILED state. A
	// deployment in FAILED state doesn't launch any new tasks."
	d.rollout, d.reason = RolloutFailed, "ECS deployment circuit breaker: tasks failed to start."
	s.log.Warn("deployment failed: circuit breaker tripped", "service", sv.name, "deployment", d.id,
		"failedTasks", d.failedTasks, "lastFailure", t.stoppedReason)
	s.eventLocked(sv, "(service %s) (deployment %s) deployment failed: tasks failed to start.", sv.name, d.id)
	if !cb.Rollback {
		return
	}
	to := sv.lastCompleted
	if to == nil {
		// ECS: without a COMPLETED deployment "the circuit breaker does not
		// launch new tasks and the deployment is stalled".
		s.log.Warn("no completed deployment to roll back to", "service", sv.name, "deployment", d.id)
		return
	}
	// ECS: a rollback to the last COMPLETED deployment, which is not
	// eligible for another rollback until it completes again.
	sv.cfg = withTaskDefinition(sv.cfg, to.cfg)
	sv.spec = withTaskDefinition(sv.spec, to.spec)
	nd := s.newDeploymentLocked(sv)
	nd.revision = to.revision
	nd.reason = fmt.Sprintf("ECS deployment circuit breaker: rolling back to deploymentId %s.", to.id)
	sv.lastCompleted = nil
	s.log.Info("deployment started", "service", sv.name, "deployment", nd.id, "reason", "rollback to "+to.id)
	s.eventLocked(sv, "(service %s) (deployment %s) rolling back to deploymentId %s.", sv.name, nd.id, to.id)
}

// withTaskDefinition returns dst with the task definition of src (the
// fields sameTaskDefinition compares).
func withTaskDefinition(dst, src ServiceConfig) ServiceConfig {
	dst.ContainerName, dst.ContainerPort, dst.ReadinessPath, dst.StopTimeout = src.ContainerName, src.ContainerPort, src.ReadinessPath, src.StopTimeout
	dst.Containers = cloneContainers(src.Containers)
	return dst
}

func (sv *service) primary() *deployment { return sv.deployments[len(sv.deployments)-1] }

func (sv *service) poke() {
	select {
	case sv.kick <- struct{}{}:
	default:
	}
}

// runService is the service scheduler loop.
func (s *Supervisor) runService(sv *service) {
	defer s.wg.Done()
	timer := s.clock.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		if wait := s.reconcile(sv); wait > 0 {
			timer.Reset(wait)
		}
		select {
		case <-sv.kick:
		case <-timer.C():
		case <-s.stopCh:
			return
		}
		timer.Stop()
	}
}

// reconcile moves the service one step towards desired tasks of its
// primary deployment: it stops primary tasks beyond the desired count
// ("Scaling activity"), launches the primary tasks it is short of while the
// service stays within its maximum percent (unless backing off), and stops
// tasks of older deployments ("Deployment"): at once those that are not
// RUNNING, the RUNNING ones only while the minimum healthy percent stays
// RUNNING. It returns how long to wait before looking again (0: until
// poked).
func (s *Supervisor) reconcile(sv *service) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return 0
	}
	s.dropFinishedDeploymentsLocked(sv)
	s.completeIfSteadyLocked(sv)
	primary := sv.primary()
	var prim, old []*task
	running := 0
	for _, t := range s.tasks {
		if t.svc != sv || t.desiredStatus != StatusRunning {
			continue
		}
		if t.deployment == primary {
			prim = append(prim, t)
		} else {
			old = append(old, t)
		}
		if t.lastStatus == StatusRunning {
			running++
		}
	}
	maxTasks, minHealthy := sv.cfg.deploymentBounds(sv.desired)

	// Scale in: tasks not yet RUNNING first, then the newest.
	if extra := len(prim) - sv.desired; extra > 0 {
		slices.SortFunc(prim, stopOrder)
		for _, t := range prim[:extra] {
			if t.lastStatus == StatusRunning {
				running--
			}
			s.requestStopLocked(t, StopCodeServiceScheduler, scalingReason(t.deployment), false)
		}
		prim = prim[extra:]
	}

	// Old tasks that are not serving go at once.
	slices.SortFunc(old, stopOrder)
	kept := old[:0]
	for _, t := range old {
		if t.lastStatus != StatusRunning {
			s.requestStopLocked(t, StopCodeServiceScheduler, scalingReason(t.deployment), false)
			continue
		}
		kept = append(kept, t)
	}
	old = kept

	var wait time.Duration
	for n := len(prim); n < sv.desired && n+len(old) < maxTasks && primary.rollout != RolloutFailed; n++ {
		if w := sv.nextLaunch.Sub(s.clock.Now()); w > 0 {
			wait = w
			break
		}
		if err := s.launchLocked(sv); err != nil {
			s.log.Error("cannot place task", "service", sv.name, "err", err)
			sv.nextLaunch = s.clock.Now().Add(sv.cfg.BackoffInitial)
			wait = sv.cfg.BackoffInitial
			break
		}
	}

	// Old RUNNING tasks, oldest first, while enough others stay RUNNING.
	slices.Reverse(old)
	for _, t := range old {
		if running-1 < minHealthy {
			break
		}
		running--
		s.requestStopLocked(t, StopCodeServiceScheduler, scalingReason(t.deployment), false)
	}
	return wait
}

// stopOrder sorts tasks to stop first: not RUNNING, then the newest.
func stopOrder(a, b *task) int {
	ar, br := a.lastStatus == StatusRunning, b.lastStatus == StatusRunning
	if ar != br {
		if ar {
			return 1
		}
		return -1
	}
	return cmp.Or(b.createdAt.Compare(a.createdAt), cmp.Compare(b.id, a.id))
}

// dropFinishedDeploymentsLocked forgets older deployments without tasks,
// but keeps a FAILED one listed while the primary (its rollback) is in
// progress, so that the service tells why.
func (s *Supervisor) dropFinishedDeploymentsLocked(sv *service) {
	live := map[*deployment]bool{}
	for _, t := range s.tasks {
		if t.svc == sv {
			live[t.deployment] = true
		}
	}
	primary := sv.primary()
	sv.deployments = slices.DeleteFunc(sv.deployments, func(d *deployment) bool {
		return d != primary && !live[d] && (d.rollout != RolloutFailed || primary.rollout != RolloutInProgress)
	})
}

// launchLocked creates a task of the primary deployment in PROVISIONING
// and starts its goroutine.
func (s *Supervisor) launchLocked(sv *service) error {
	ip, err := s.ipam.allocate()
	if err != nil {
		return err
	}
	t := &task{
		id:            newTaskID(),
		svc:           sv,
		deployment:    sv.primary(),
		cfg:           sv.cfg,
		ip:            ip,
		stopReq:       make(chan struct{}),
		lastStatus:    StatusProvisioning,
		desiredStatus: StatusRunning,
		createdAt:     s.now(),
	}
	for _, cc := range sv.cfg.Containers {
		t.containers = append(t.containers, &container{cfg: cc, lastStatus: StatusPending, healthy: make(chan struct{}),
			token: taskmeta.NewToken()})
	}
	s.tasks[t.id] = t
	s.taskLaunched(sv)
	s.eventLocked(sv, "(service %s) has started 1 tasks: (task %s).", sv.name, t.id)
	s.log.Info("task launched", "task", t.id, "service", sv.name, "deployment", t.deployment.id, "ip", ip.String())
	s.wg.Add(1)
	go s.runTask(t)
	return nil
}

// requestStop sets a task's desiredStatus to STOPPED (first reason wins,
// with its stop code) and lets its service schedule a replacement. failure
// marks stops the service did not ask for; quick ones feed the back-off.
func (s *Supervisor) requestStop(t *task, code, reason string, failure bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requestStopLocked(t, code, reason, failure)
}

func (s *Supervisor) requestStopLocked(t *task, code, reason string, failure bool) {
	if t.desiredStatus == StatusStopped {
		return
	}
	t.desiredStatus = StatusStopped
	t.stoppedReason, t.stopCode = reason, code
	s.taskStopRequested(t)
	close(t.stopReq)
	sv := t.svc
	switch {
	case !t.runningSince.IsZero() && s.clock.Now().Sub(t.runningSince) >= sv.cfg.StableAfter:
		sv.failures = 0 // it ran fine for a while: replace at once
	case failure:
		sv.failures++
		delay := sv.cfg.backoff(sv.failures)
		sv.nextLaunch = s.clock.Now().Add(delay)
		s.log.Warn("task failed; backing off", "task", t.id, "service", sv.name, "reason", reason,
			"consecutiveFailures", sv.failures, "retryIn", delay)
	}
	s.log.Info("task stopping", "task", t.id, "service", sv.name, "reason", reason)
	if failure {
		s.taskFailedLocked(t)
	}
	sv.poke()
}

// ServiceStatus is a snapshot of one service, shaped like ECS
// DescribeServices.
type ServiceStatus struct {
	Name         string             `json:"name"`
	DesiredCount int                `json:"desiredCount"`
	RunningCount int                `json:"runningCount"`
	PendingCount int                `json:"pendingCount"`
	Deployments  []DeploymentStatus `json:"deployments"`
	// LastFailure is the stoppedReason of the latest failed task while the
	// service is backing off, else "".
	LastFailure string `json:"lastFailure,omitempty"`
	// Events are the service's latest events, newest first (at most 100,
	// as ECS DescribeServices).
	Events []ServiceEvent `json:"events"`
}

// DeploymentStatus is one deployment of a ServiceStatus, primary first.
type DeploymentStatus struct {
	ID     string `json:"id"`
	Status string `json:"status"` // PRIMARY or ACTIVE
	// TaskDefinition is the ARN of the deployment's task definition:
	// family (the service's name) and revision.
	TaskDefinition string `json:"taskDefinition"`
	DesiredCount   int    `json:"desiredCount"`
	RunningCount   int    `json:"runningCount"`
	PendingCount   int    `json:"pendingCount"`
	// FailedTasks counts the deployment's tasks that failed in a row (ECS
	// failedTasks); a task reaching RUNNING resets it.
	FailedTasks  int    `json:"failedTasks"`
	RolloutState string `json:"rolloutState"` // IN_PROGRESS, COMPLETED or FAILED
	// RolloutStateReason as ECS words it: "ECS deployment ecs-svc/… in
	// progress.", "… completed.", "ECS deployment circuit breaker: tasks
	// failed to start.", "ECS deployment circuit breaker: rolling back to
	// deploymentId ecs-svc/…."
	RolloutStateReason string    `json:"rolloutStateReason"`
	CreatedAt          time.Time `json:"createdAt"`
	// TaskDefinitionRevision is the revision of the service's task
	// definition the deployment runs (1 at start; each task definition
	// change, such as a config reload, adds one).
	TaskDefinitionRevision int `json:"taskDefinitionRevision"`
}

// ServiceEvent is one of a service's events (ECS ServiceEvent), such as
// "(service bags) has reached a steady state.".
type ServiceEvent struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"createdAt"`
	Message   string    `json:"message"`
}

func (s *Supervisor) service(name string) (*service, error) {
	for _, sv := range s.services {
		if sv.name == name {
			return sv, nil
		}
	}
	return nil, fmt.Errorf("ecs: %w: %q", ErrServiceNotFound, name)
}

// Scale sets a service's desired count (ECS UpdateService desiredCount):
// tasks are started, or stopped with reason "Scaling activity".
func (s *Supervisor) Scale(name string, desired int) error {
	if desired < 0 {
		return fmt.Errorf("ecs: scale %s: desiredCount must be >= 0, got %d", name, desired)
	}
	sv, err := s.service(name)
	if err != nil {
		return err
	}
	s.mu.Lock()
	sv.desired = desired
	s.mu.Unlock()
	s.log.Info("service scaled", "service", name, "desiredCount", desired)
	sv.poke()
	return nil
}

// Deploy starts a rolling deployment of a service (ECS UpdateService
// forceNewDeployment): new tasks start within the maximum percent, and
// tasks of older deployments are drained and stopped once enough new ones
// are RUNNING, never leaving fewer than the minimum healthy percent RUNNING.
// It returns the new deployment's id at once.
func (s *Supervisor) Deploy(name string) (string, error) {
	sv, err := s.service(name)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	d := s.newDeploymentLocked(sv)
	s.mu.Unlock()
	s.log.Info("deployment started", "service", name, "deployment", d.id)
	sv.poke()
	return d.id, nil
}

// Services returns a snapshot of every service, in configuration order.
func (s *Supervisor) Services() []ServiceStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ServiceStatus, 0, len(s.services))
	for _, sv := range s.services {
		s.dropFinishedDeploymentsLocked(sv)
		s.completeIfSteadyLocked(sv)
		st := ServiceStatus{Name: sv.name, DesiredCount: sv.desired, Events: make([]ServiceEvent, 0, len(sv.events))}
		for _, e := range slices.Backward(sv.events) {
			st.Events = append(st.Events, e)
		}
		deps := map[*deployment]*DeploymentStatus{}
		st.Deployments = make([]DeploymentStatus, len(sv.deployments))
		for i, d := range sv.deployments {
			j := len(sv.deployments) - 1 - i // primary first
			st.Deployments[j] = DeploymentStatus{ID: d.id, Status: DeploymentActive, CreatedAt: d.createdAt,
				TaskDefinition: taskmeta.TaskDefinitionARN(s.cfg.Region, sv.name, d.revision),
				FailedTasks:    d.failedTasks, RolloutState: d.rollout, RolloutStateReason: d.reason}
			deps[d] = &st.Deployments[j]
			st.Deployments[j].TaskDefinitionRevision = d.revision
		}
		st.Deployments[0].Status = DeploymentPrimary
		st.Deployments[0].DesiredCount = sv.desired
		for _, t := range s.tasks {
			if t.svc != sv || t.desiredStatus != StatusRunning {
				continue
			}
			ds := deps[t.deployment]
			if t.deployment != sv.primary() {
				ds.DesiredCount++
			}
			if t.lastStatus == StatusRunning {
				st.RunningCount++
				ds.RunningCount++
			} else {
				st.PendingCount++
				ds.PendingCount++
			}
		}
		if sv.failures > 0 {
			for i := len(s.stopped) - 1; i >= 0; i-- {
				if s.stopped[i].Service == sv.name {
					st.LastFailure = s.stopped[i].StoppedReason
					if th := s.stopped[i].TargetHealth; th != "" {
						st.LastFailure += " (target " + th + ")"
					}
					break
				}
			}
		}
		out = append(out, st)
	}
	return out
}
