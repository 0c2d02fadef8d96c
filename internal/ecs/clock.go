package ecs

import "time"

// Clock is the time source of the supervisor's state machine: back-off,
// health check grace period, readiness and dependency deadlines, target
// polling, container health check intervals and stopTimeout all run on it.
// Network I/O deadlines (probes, health check commands) use the real clock.
// Tests inject a fake one to drive transitions without sleeping.
type Clock interface {
	Now() time.Time
	// NewTimer returns a stopped-or-running timer like time.NewTimer.
	NewTimer(d time.Duration) Timer
}

// Timer is the part of *time.Timer the supervisor uses.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
	Reset(d time.Duration) bool
}

// RealClock is the wall clock (time.Now with its monotonic reading).
type RealClock struct{}

// Now implements Clock.
func (RealClock) Now() time.Time { return time.Now() }

// NewTimer implements Clock.
func (RealClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time        { return r.t.C }
func (r realTimer) Stop() bool                 { return r.t.Stop() }
func (r realTimer) Reset(d time.Duration) bool { return r.t.Reset(d) }
