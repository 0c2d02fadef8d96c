package nlb

import (
	"fmt"
	"time"
)

// Health check results, as HealthCheckResult.Result and the result label
// of portway_nlb_health_checks_total.
const (
	CheckSuccess   = "success"
	CheckBadStatus = "bad_status" // an HTTP answer the matcher refuses
	CheckTimeout   = "timeout"
	CheckError     = "error" // refused, reset, or another failure to connect or read
)

var checkResults = [...]string{CheckSuccess, CheckBadStatus, CheckTimeout, CheckError}

// descTimedOut is the description of a target whose last check timed out,
// as ELB words it (Target.Timeout's "Request timed out"); an NLB keeps the
// reason Target.FailedHealthChecks.
const descTimedOut = "Request timed out"

// HealthCheckResult is a target's last health check: a portway addition to
// DescribeTargetHealth (ELB only keeps the reason of the last failure).
type HealthCheckResult struct {
	Time   time.Time `json:"Time"`
	Result string    `json:"Result"` // success, bad_status, timeout or error
	// StatusCode is the HTTP status of an HTTP check that got an answer.
	StatusCode int `json:"StatusCode,omitempty"`
	// Error says why a check failed (never with the target's answer).
	Error         string  `json:"Error,omitempty"`
	LatencyMillis float64 `json:"LatencyMillis"`
}

// result names a check's outcome.
func (r checkResult) result() string {
	switch {
	case r.ok:
		return CheckSuccess
	case r.code != 0:
		return CheckBadStatus
	case r.timeout:
		return CheckTimeout
	}
	return CheckError
}

func resultIndex(result string) int {
	for i, r := range checkResults {
		if r == result {
			return i
		}
	}
	return len(checkResults) - 1
}

// record notes r as t's last check, at now. Call with the group's mutex
// held.
func (t *target) record(r checkResult, now time.Time) {
	res := r.result()
	t.checks[resultIndex(res)]++
	t.lastCheck = &HealthCheckResult{
		Time: now, Result: res, StatusCode: r.code,
		LatencyMillis: float64(r.latency.Microseconds()) / 1000,
	}
	if r.err != nil && !r.ok {
		t.lastCheck.Error = r.err.Error()
	}
}

// lastCheckAttrs are the log attributes of a check result.
func lastCheckAttrs(r checkResult) []any {
	attrs := []any{"check", r.result(), "latency", r.latency}
	if r.code != 0 {
		attrs = append(attrs, "statusCode", r.code)
	}
	return attrs
}

// Detail is the target's health in one line, for logs, service events and
// the CLI: "unhealthy: Health checks failed with these codes: [500]; last
// check bad_status (HTTP 500) in 1.2ms".
func (d TargetHealthDescription) Detail() string {
	s := d.TargetHealth.State
	if d.TargetHealth.Description != "" {
		s += ": " + d.TargetHealth.Description
	}
	if c := d.LastHealthCheck; c != nil {
		s += "; last check " + c.Summary()
	}
	return s
}

// Summary is the check in a few words: "bad_status (HTTP 500) in 1.2ms",
// "error (dial tcp …: connection refused) in 0.3ms".
func (c HealthCheckResult) Summary() string {
	s := c.Result
	switch {
	case c.StatusCode != 0:
		s += fmt.Sprintf(" (HTTP %d)", c.StatusCode)
	case c.Error != "":
		s += " (" + c.Error + ")"
	}
	return s + fmt.Sprintf(" in %gms", c.LatencyMillis)
}
