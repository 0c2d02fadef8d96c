package nlb

import (
	"errors"
	"testing"
	"time"
)

// fakeClock is a manual clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

var (
	pass     = passed()
	refused  = checkResult{reason: ReasonFailedHealthChecks, description: descFailedHealthChecks, err: errors.New("connection refused")}
	timedOut = checkResult{reason: ReasonFailedHealthChecks, description: descFailedHealthChecks, err: errors.New("timeout")}
	code503  = checkResult{reason: ReasonFailedHealthChecks, description: descCodeMismatch(503)}
	code404  = checkResult{reason: ReasonFailedHealthChecks, description: descCodeMismatch(404)}
)

func TestHealthMachine(t *testing.T) {
	initialChecking := TargetHealth{StateInitial, ReasonInitialHealthChecking, descInitialHealthChecking}
	healthy := TargetHealth{State: StateHealthy}
	unhealthyFailed := TargetHealth{StateUnhealthy, ReasonFailedHealthChecks, "Health checks failed"}
	unhealthy503 := TargetHealth{StateUnhealthy, "Target.FailedHealthChecks", "Health checks failed with these codes: [503]"}
	unhealthy404 := TargetHealth{StateUnhealthy, "Target.FailedHealthChecks", "Health checks failed with these codes: [404]"}
	unhealthyTimeout := TargetHealth{StateUnhealthy, "Target.FailedHealthChecks", "Health checks failed"}

	type step struct {
		r    checkResult
		want TargetHealth
	}
	tests := []struct {
		name               string
		healthy, unhealthy int
		steps              []step
	}{
		{"healthy after threshold", 3, 2, []step{
			{pass, initialChecking}, {pass, initialChecking}, {pass, healthy}, {pass, healthy},
		}},
		{"minimum thresholds", 2, 2, []step{
			{pass, initialChecking}, {pass, healthy},
		}},
		{"initial to unhealthy", 5, 2, []step{
			{refused, initialChecking}, {refused, unhealthyFailed},
		}},
		{"one failure does not reset initial progress to unhealthy", 3, 3, []step{
			{pass, initialChecking}, {refused, initialChecking}, {pass, initialChecking},
			{pass, initialChecking}, {pass, healthy},
		}},
		{"healthy to unhealthy with reason of last failure", 2, 3, []step{
			{pass, initialChecking}, {pass, healthy},
			{refused, healthy}, {timedOut, healthy}, {code503, unhealthy503},
		}},
		{"timeouts", 2, 2, []step{
			{pass, initialChecking}, {pass, healthy}, {timedOut, healthy}, {timedOut, unhealthyTimeout},
		}},
		{"unhealthy keeps latest reason and recovers", 2, 2, []step{
			{code503, initialChecking}, {code503, unhealthy503}, {code404, unhealthy404},
			{pass, unhealthy404}, {pass, healthy},
		}},
		{"flapping never crosses a threshold", 2, 2, []step{
			{pass, initialChecking}, {pass, healthy},
			{refused, healthy}, {pass, healthy}, {refused, healthy}, {pass, healthy}, {refused, healthy},
			{refused, unhealthyFailed},
			{pass, unhealthyFailed}, {refused, unhealthyFailed}, {pass, unhealthyFailed}, {timedOut, unhealthyTimeout},
			{pass, unhealthyTimeout}, {pass, healthy},
		}},
		{"failure without a reason counts as failed checks", 2, 2, []step{
			{checkResult{}, initialChecking}, {checkResult{}, unhealthyFailed},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &fakeClock{t: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
			hc := HealthCheck{Interval: 10 * time.Second, HealthyThreshold: tt.healthy, UnhealthyThreshold: tt.unhealthy}
			m := newHealthMachine(hc, clk.now())
			if want := (TargetHealth{StateInitial, ReasonRegistrationInProgress, descRegistrationInProgress}); m.health != want {
				t.Fatalf("new machine: %+v", m.health)
			}
			lastState, lastChange := m.health.State, clk.now()
			for i, s := range tt.steps {
				clk.advance(m.cadence())
				old := m.observe(s.r, clk.now())
				if m.health != s.want {
					t.Fatalf("step %d: health = %+v, want %+v", i, m.health, s.want)
				}
				if old.State != lastState {
					t.Fatalf("step %d: observe returned old state %q, want %q", i, old.State, lastState)
				}
				if m.health.State != lastState {
					lastState, lastChange = m.health.State, clk.now()
				}
				if !m.since.Equal(lastChange) {
					t.Fatalf("step %d: since = %v, want %v", i, m.since, lastChange)
				}
			}
		})
	}
}

func TestHealthMachineCadence(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	m := newHealthMachine(HealthCheck{Interval: 30 * time.Second, HealthyThreshold: 2, UnhealthyThreshold: 2}, clk.now())
	if m.cadence() != time.Second {
		t.Fatalf("initial cadence = %s, want 1s", m.cadence())
	}
	clk.advance(3 * time.Millisecond)
	m.observe(pass, clk.now())
	if m.cadence() != time.Second || m.lastCheck != clk.now() {
		t.Fatalf("after first check: cadence %s, last check %v", m.cadence(), m.lastCheck)
	}
	clk.advance(time.Second)
	m.observe(pass, clk.now())
	if m.health.State != StateHealthy || m.cadence() != 30*time.Second {
		t.Fatalf("after healthy: %+v cadence %s", m.health, m.cadence())
	}
	// Sub-second intervals stay as they are.
	fast := newHealthMachine(HealthCheck{Interval: 50 * time.Millisecond, HealthyThreshold: 2, UnhealthyThreshold: 2}, clk.now())
	if fast.cadence() != 50*time.Millisecond {
		t.Fatalf("fast cadence = %s", fast.cadence())
	}
}

func fakeNow() time.Time { return time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC) }
