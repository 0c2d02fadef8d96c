package nlb

import (
	"fmt"
	"time"
)

// Target health states, as reported by ELBv2 DescribeTargetHealth.
const (
	StateInitial   = "initial"
	StateHealthy   = "healthy"
	StateUnhealthy = "unhealthy"
	// StateUnhealthyDraining is an unhealthy target whose connections are
	// left to drain (UnhealthyConnectionTermination false).
	StateUnhealthyDraining = "unhealthy.draining"
	StateDraining          = "draining"
	StateUnused            = "unused"
)

// Target health reason codes, as a Network Load Balancer reports them.
// An NLB's unhealthy target has one reason whatever failed, a refused
// connection, a timeout or an unexpected HTTP code:
// Target.FailedHealthChecks. Target.Timeout and Target.ResponseCodeMismatch
// apply only to Application and Gateway Load Balancers (ELBv2 API
// Reference, TargetHealth: Reason; "Check the health of your Network Load
// Balancer targets" lists only Target.FailedHealthChecks for unhealthy).
const (
	ReasonRegistrationInProgress   = "Elb.RegistrationInProgress"
	ReasonInitialHealthChecking    = "Elb.InitialHealthChecking"
	ReasonFailedHealthChecks       = "Target.FailedHealthChecks"
	ReasonDeregistrationInProgress = "Target.DeregistrationInProgress"
	ReasonNotRegistered            = "Target.NotRegistered"
	ReasonNotInUse                 = "Target.NotInUse"
)

// Descriptions that go with the reasons, worded as AWS words them: a
// failed check is "Health checks failed" (a timeout too), or, for an HTTP
// check answered with a code the matcher refuses, "Health checks failed
// with these codes: [502]".
const (
	descRegistrationInProgress   = "Target registration is in progress"
	descInitialHealthChecking    = "Initial health checks in progress"
	descFailedHealthChecks       = "Health checks failed"
	descDeregistrationInProgress = "Target deregistration is in progress"
	descNotRegistered            = "Target is not registered to the target group"
	descNotInUse                 = "Target group is not configured to receive traffic from the load balancer"
)

func descCodeMismatch(code int) string {
	return fmt.Sprintf("Health checks failed with these codes: [%d]", code)
}

// checkResult is the outcome of one health check.
type checkResult struct {
	ok          bool
	reason      string // failure reason code (ReasonFailedHealthChecks)
	description string // failure description
	err         error  // detail for logs only
	code        int    // the HTTP status, when an HTTP check got an answer
	timeout     bool   // no answer within the timeout
	latency     time.Duration
}

func passed() checkResult { return checkResult{ok: true} }

// healthMachine is the pure health state of one registered target: it knows
// nothing of goroutines or real time; callers pass the clock's reading.
//
//   - initial (Elb.RegistrationInProgress) until the first check, then
//     initial (Elb.InitialHealthChecking);
//   - healthy after HealthyThreshold consecutive passes;
//   - unhealthy after UnhealthyThreshold consecutive failures, with the
//     reason of the last failure.
type healthMachine struct {
	healthyThreshold   int
	unhealthyThreshold int
	interval           time.Duration
	initialInterval    time.Duration

	health    TargetHealth
	passes    int // consecutive
	fails     int // consecutive
	lastCheck time.Time
	since     time.Time // last state change
}

func newHealthMachine(hc HealthCheck, now time.Time) *healthMachine {
	return &healthMachine{
		healthyThreshold:   hc.HealthyThreshold,
		unhealthyThreshold: hc.UnhealthyThreshold,
		interval:           hc.Interval,
		initialInterval:    min(hc.Interval, maxInitialInterval),
		health: TargetHealth{
			State:       StateInitial,
			Reason:      ReasonRegistrationInProgress,
			Description: descRegistrationInProgress,
		},
		since: now,
	}
}

// observe records one check result at now and returns the health before it.
func (m *healthMachine) observe(r checkResult, now time.Time) (old TargetHealth) {
	old = m.health
	m.lastCheck = now
	if r.ok {
		m.passes++
		m.fails = 0
	} else {
		m.fails++
		m.passes = 0
	}
	unhealthy := TargetHealth{State: StateUnhealthy, Reason: r.reason, Description: r.description}
	if unhealthy.Reason == "" {
		unhealthy.Reason, unhealthy.Description = ReasonFailedHealthChecks, descFailedHealthChecks
	}
	switch m.health.State {
	case StateInitial:
		switch {
		case r.ok && m.passes >= m.healthyThreshold:
			m.health = TargetHealth{State: StateHealthy}
		case !r.ok && m.fails >= m.unhealthyThreshold:
			m.health = unhealthy
		default:
			m.health = TargetHealth{State: StateInitial, Reason: ReasonInitialHealthChecking, Description: descInitialHealthChecking}
		}
	case StateHealthy:
		if !r.ok && m.fails >= m.unhealthyThreshold {
			m.health = unhealthy
		}
	case StateUnhealthy:
		switch {
		case r.ok && m.passes >= m.healthyThreshold:
			m.health = TargetHealth{State: StateHealthy}
		case !r.ok:
			m.health = unhealthy // keep the latest failure reason
		}
	}
	if m.health.State != old.State {
		m.since = now
	}
	return old
}

// cadence is the time between checks: the interval, but at most
// maxInitialInterval while the target is still initial.
func (m *healthMachine) cadence() time.Duration {
	if m.health.State == StateInitial {
		return m.initialInterval
	}
	return m.interval
}
