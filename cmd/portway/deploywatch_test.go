package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// fakeDeploy is a deploySource that answers the same state every time.
type fakeDeploy struct {
	svcJSON, tasksJSON, targetsJSON string
}

func (f fakeDeploy) service(context.Context) (serviceStatus, error) {
	var st serviceStatus
	err := json.Unmarshal([]byte(f.svcJSON), &st)
	return st, err
}

func (f fakeDeploy) tasks(context.Context) ([]deployTask, error) {
	var ts []deployTask
	err := json.Unmarshal([]byte(f.tasksJSON), &ts)
	return ts, err
}

func (f fakeDeploy) targets(context.Context) (map[string][]targetHealth, error) {
	var ths []targetHealth
	if err := json.Unmarshal([]byte(f.targetsJSON), &ths); err != nil {
		return nil, err
	}
	out := map[string][]targetHealth{}
	for _, th := range ths {
		out[th.Target.ID] = append(out[th.Target.ID], th)
	}
	return out, nil
}

// TestDeployWatchTimeout: a deployment stuck with its new task's target
// failing health checks (no circuit breaker) ends at the timeout, naming
// what is pending with the target's last check; the change is printed
// once, not at every poll.
func TestDeployWatchTimeout(t *testing.T) {
	src := fakeDeploy{
		svcJSON: `{"name": "bags", "desiredCount": 1, "runningCount": 1, "deployments": [
		  {"id": "ecs-svc/2", "status": "PRIMARY", "desiredCount": 1, "rolloutState": "IN_PROGRESS"},
		  {"id": "ecs-svc/1", "status": "ACTIVE", "desiredCount": 1, "runningCount": 1, "rolloutState": "COMPLETED"}]}`,
		tasksJSON: `[{"taskId": "aaaaaaaaaaaaaaaa", "service": "bags", "deploymentId": "ecs-svc/1", "lastStatus": "RUNNING", "ip": "127.77.1.1"},
		  {"taskId": "bbbbbbbbbbbbbbbb", "service": "bags", "deploymentId": "ecs-svc/2", "lastStatus": "ACTIVATING", "ip": "127.77.1.2"}]`,
		targetsJSON: `[{"Target": {"Id": "127.77.1.1", "Port": 9000}, "TargetHealth": {"State": "healthy"}},
		  {"Target": {"Id": "127.77.1.2", "Port": 9000}, "TargetHealth": {"State": "unhealthy", "Reason": "Target.FailedHealthChecks",
		   "Description": "Request timed out"}, "LastHealthCheck": {"Result": "timeout", "Error": "timed out", "LatencyMillis": 900}}]`,
	}
	var out bytes.Buffer
	w := &deployWatch{src: src, out: &out, name: "bags", id: "ecs-svc/2", every: time.Millisecond}
	err := w.run(context.Background(), 50*time.Millisecond)
	want := "bags: deployment ecs-svc/2 not complete after 50ms; pending: task bbbbbbbbbbbb target 127.77.1.2:9000 unhealthy: " +
		"Request timed out; last check timeout (timed out) in 900ms; old task aaaaaaaaaaaa RUNNING"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	if n := strings.Count(out.String(), "target 127.77.1.2:9000 unhealthy"); n != 1 {
		t.Errorf("the failing target printed %d times:\n%s", n, out.String())
	}
}
