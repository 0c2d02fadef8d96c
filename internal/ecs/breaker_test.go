package ecs

import (
	"fmt"
	"github.com/portway/portway/internal/awsid"
	"github.com/portway/portway/internal/taskmeta"
	"github.com/portway/portway/internal/testutil"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The deployment circuit breaker, as ECS documents it
// (ServiceDeploymentCircuitBreaker.threshold: "a minimum threshold of 3
// and a maximum threshold of 200", "0.5 * desired task count"; the
// developer guide's "How the Amazon ECS deployment circuit breaker detects
// failures").

func TestCircuitBreakerThreshold(t *testing.T) {
	for desired, want := range map[int]int{0: 3, 1: 3, 2: 3, 6: 3, 7: 4, 8: 4, 10: 5, 25: 13, 399: 200, 400: 200, 1000: 200} {
		if got := CircuitBreakerThreshold(desired); got != want {
			t.Errorf("CircuitBreakerThreshold(%d) = %d, want %d", desired, got, want)
		}
	}
}

var fakeListen = "FAKE_LISTEN=" + strconv.Itoa(fakePort)

// breakerHarness runs service "svc" (one task) whose first deployment
// completes, then deploys a task definition whose container exits at once.
// Good tasks listen only while the file ready exists.
func breakerHarness(t *testing.T, cb *CircuitBreaker) (h *clockHarness, good ServiceConfig, ready, firstID, badID string) {
	t.Helper()
	ready = filepath.Join(t.TempDir(), "ready")
	if err := os.WriteFile(ready, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// A task is RUNNING once its container port answers: a container that
	// exits at once never gets there.
	good = ServiceConfig{Name: "svc", DesiredCount: 1, BackoffInitial: time.Second, BackoffMax: time.Second,
		ContainerName: "app", ContainerPort: fakePort, ReadinessTimeout: 5 * time.Second,
		DeploymentCircuitBreaker: cb, Containers: []ContainerConfig{fakeContainer("app", "V=1", fakeListen, "FAKE_LISTEN_IF="+ready)}}
	h = newClockHarness(t, good, TargetHealthy)
	first := h.first()
	h.waitStatus(first, StatusRunning)
	testutil.WaitFor(t, waitLong, "first deployment COMPLETED", func() bool {
		return h.s.Services()[0].Deployments[0].RolloutState == RolloutCompleted
	})
	d := h.s.Services()[0].Deployments[0]
	firstID = d.ID
	if want := "ECS deployment " + firstID + " completed."; d.RolloutStateReason != want {
		t.Errorf("completed deployment's reason %q, want %q", d.RolloutStateReason, want)
	}
	bad := good
	bad.Containers = []ContainerConfig{fakeContainer("app", "V=2", fakeListen, "FAKE_EXIT=1")}
	badID, err := h.s.UpdateService(bad)
	if err != nil || badID == "" {
		t.Fatalf("UpdateService = %q, %v", badID, err)
	}
	return h, good, ready, firstID, badID
}

// failTasks waits for n failed tasks of deployment id (advancing the
// back-off between them) and returns the service status after the last.
func failTasks(h *clockHarness, id string, n int) ServiceStatus {
	h.t.Helper()
	failed := func() int {
		return len(tasksWhere(h.s, func(ts TaskStatus) bool {
			return ts.DeploymentID == id && ts.LastStatus == StatusStopped && ts.StopCode == StopCodeEssentialExited
		}))
	}
	for i := 1; i <= n; i++ {
		testutil.WaitFor(h.t, waitLong, fmt.Sprintf("failed task %d", i), func() bool { return failed() >= i })
		if i < n {
			h.waitArmed(time.Second, "back-off")
			h.clock.Advance(time.Second)
		}
	}
	return h.s.Services()[0]
}

func deploymentByID(st ServiceStatus, id string) (DeploymentStatus, bool) {
	for _, d := range st.Deployments {
		if d.ID == id {
			return d, true
		}
	}
	return DeploymentStatus{}, false
}

func eventMessages(st ServiceStatus) []string {
	var out []string
	for _, e := range st.Events {
		out = append(out, e.Message)
	}
	return out
}

func TestCircuitBreakerRollbackFakeClock(t *testing.T) {
	t.Parallel()
	h, good, ready, firstID, badID := breakerHarness(t, &CircuitBreaker{Enable: true, Rollback: true})
	// The rollback's first task will not get ready: the rollback stays in
	// progress while the test looks.
	if err := os.Remove(ready); err != nil {
		t.Fatal(err)
	}

	st := failTasks(h, badID, 2)
	if d, _ := deploymentByID(st, badID); d.RolloutState != RolloutInProgress || d.FailedTasks != 2 ||
		d.RolloutStateReason != "ECS deployment "+badID+" in progress." {
		t.Fatalf("after 2 failures (threshold 3): %+v", d)
	}
	h.waitArmed(time.Second, "back-off")
	h.clock.Advance(time.Second)
	testutil.WaitFor(t, waitLong, "failed task 3", func() bool {
		return len(tasksWhere(h.s, func(ts TaskStatus) bool {
			return ts.DeploymentID == badID && ts.LastStatus == StatusStopped
		})) == 3
	})

	var rollbackID string
	testutil.WaitFor(t, waitLong, "a rollback deployment", func() bool {
		st = h.s.Services()[0]
		rollbackID = st.Deployments[0].ID
		return rollbackID != badID
	})
	// The bad task definition was revision 2; the rollback goes back to 1.
	if d, _ := deploymentByID(st, badID); d.TaskDefinition != taskmeta.TaskDefinitionARN(awsid.DefaultRegion, "svc", 2) {
		t.Errorf("bad deployment's task definition %q, want revision 2", d.TaskDefinition)
	}
	if got := st.Deployments[0].TaskDefinition; got != taskmeta.TaskDefinitionARN(awsid.DefaultRegion, "svc", 1) {
		t.Errorf("rollback deployment's task definition %q, want revision 1", got)
	}
	p := st.Deployments[0]
	if p.Status != DeploymentPrimary || p.ID == firstID || p.RolloutState != RolloutInProgress ||
		p.RolloutStateReason != "ECS deployment circuit breaker: rolling back to deploymentId "+firstID+"." {
		t.Errorf("rollback deployment: %+v", p)
	}
	// The rollback runs revision 1 again; the failed deployment ran 2.
	if bad, _ := deploymentByID(st, badID); p.TaskDefinitionRevision != 1 || bad.TaskDefinitionRevision != 2 {
		t.Errorf("revisions: rollback %d, failed %d; want 1 and 2", p.TaskDefinitionRevision, bad.TaskDefinitionRevision)
	}
	failed, ok := deploymentByID(st, badID)
	if !ok || failed.Status != DeploymentActive || failed.RolloutState != RolloutFailed || failed.FailedTasks != 3 ||
		failed.RolloutStateReason != "ECS deployment circuit breaker: tasks failed to start." {
		t.Errorf("failed deployment: %+v (listed: %v)", failed, ok)
	}
	if msgs := eventMessages(st); !slices.Contains(msgs, "(service svc) (deployment "+badID+") deployment failed: tasks failed to start.") {
		t.Errorf("events %q lack the failure", msgs)
	}
	// The rollback runs the last COMPLETED deployment's task definition
	// (no FAKE_EXIT: its task runs), then completes alone. Its first task
	// fails readiness; the next one listens. The file comes back only once
	// that first task waits for readiness (its container has looked for the
	// file and does not listen): written earlier, a container started late
	// on a loaded machine would listen, and no deadline would be armed.
	h.waitArmed(5*time.Second, "the rollback task's readiness deadline")
	if err := os.WriteFile(ready, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(5 * time.Second)
	h.waitArmed(time.Second, "back-off")
	h.clock.Advance(time.Second)
	testutil.WaitFor(t, waitLong, "rollback COMPLETED", func() bool {
		st = h.s.Services()[0]
		return len(st.Deployments) == 1 && st.Deployments[0].ID == rollbackID && st.Deployments[0].RolloutState == RolloutCompleted
	})
	running := tasksWhere(h.s, func(ts TaskStatus) bool { return ts.LastStatus == StatusRunning })
	if len(running) != 1 || running[0].DeploymentID != rollbackID {
		t.Errorf("running tasks after the rollback: %+v", running)
	}
	if len(tasksWhere(h.s, func(ts TaskStatus) bool { return ts.DeploymentID == badID })) != 3 {
		t.Error("the failed deployment launched tasks beyond the threshold")
	}
	// The service's task definition is the good one again.
	if id, err := h.s.UpdateService(good); id != "" || err != nil {
		t.Errorf("UpdateService(the rolled-back-to definition) = %q, %v; want no change", id, err)
	}
}

func TestCircuitBreakerWithoutRollbackFakeClock(t *testing.T) {
	t.Parallel()
	h, _, _, firstID, badID := breakerHarness(t, &CircuitBreaker{Enable: true})
	failTasks(h, badID, 3)
	var st ServiceStatus
	testutil.WaitFor(t, waitLong, "deployment FAILED", func() bool {
		st = h.s.Services()[0]
		return st.Deployments[0].RolloutState == RolloutFailed
	})
	p := st.Deployments[0]
	if p.ID != badID || p.Status != DeploymentPrimary || p.RolloutStateReason != "ECS deployment circuit breaker: tasks failed to start." {
		t.Errorf("failed deployment: %+v", p)
	}
	// A FAILED deployment launches no more tasks; the old one keeps serving.
	h.clock.Advance(time.Hour)
	time.Sleep(50 * time.Millisecond) // give a (wrong) launch a chance to show
	if n := len(tasksWhere(h.s, func(ts TaskStatus) bool { return ts.DeploymentID == badID })); n != 3 {
		t.Errorf("%d tasks of the FAILED deployment, want 3", n)
	}
	running := tasksWhere(h.s, func(ts TaskStatus) bool { return ts.LastStatus == StatusRunning })
	if len(running) != 1 || running[0].DeploymentID != firstID {
		t.Errorf("running tasks: %+v, want the first deployment's", running)
	}
}

func TestNoCircuitBreakerReportsFailuresFakeClock(t *testing.T) {
	t.Parallel()
	h, _, _, _, badID := breakerHarness(t, nil)
	st := failTasks(h, badID, 4)
	testutil.WaitFor(t, waitLong, "4 failed tasks counted", func() bool {
		st = h.s.Services()[0]
		d, _ := deploymentByID(st, badID)
		return d.FailedTasks == 4
	})
	d, _ := deploymentByID(st, badID)
	if d.RolloutState != RolloutInProgress || d.Status != DeploymentPrimary {
		t.Errorf("stuck deployment without circuit breaker: %+v", d)
	}
	if st.LastFailure != ReasonEssentialExited {
		t.Errorf("lastFailure %q", st.LastFailure)
	}
	var stops int
	for _, m := range eventMessages(st) {
		if strings.HasPrefix(m, "(service svc) (task ") && strings.HasSuffix(m, ") stopped: Essential container in task exited.") {
			stops++
		}
	}
	if stops != 4 {
		t.Errorf("events %q: want the 4 failed tasks' reasons", eventMessages(st))
	}
}

// TestCircuitBreakerCountResetsOnRunning: a task of the deployment that
// reaches RUNNING resets its failure count (ECS resetOnHealthyTask, true
// by default), so failures must come in a row to trip the breaker.
func TestCircuitBreakerCountResetsOnRunning(t *testing.T) {
	t.Parallel()
	flag := filepath.Join(t.TempDir(), "fail")
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	h := newClockHarness(t, ServiceConfig{Name: "svc", DesiredCount: 1, BackoffInitial: time.Second, BackoffMax: time.Second,
		ContainerName: "app", ContainerPort: fakePort, DeploymentCircuitBreaker: &CircuitBreaker{Enable: true},
		Containers: []ContainerConfig{fakeContainer("app", fakeListen, "FAKE_EXIT_IF="+flag)}}, TargetHealthy)
	id := h.s.Services()[0].Deployments[0].ID
	failTasks(h, id, 2)
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	h.waitArmed(time.Second, "back-off")
	h.clock.Advance(time.Second)
	testutil.WaitFor(t, waitLong, "deployment COMPLETED", func() bool {
		d, _ := deploymentByID(h.s.Services()[0], id)
		return d.RolloutState == RolloutCompleted
	})
	if d, _ := deploymentByID(h.s.Services()[0], id); d.FailedTasks != 0 {
		t.Errorf("failedTasks %d after a task reached RUNNING, want 0", d.FailedTasks)
	}
}
