package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portway/portway/internal/controlauth"
	"github.com/portway/portway/internal/stack"
)

// fakeControl serves api as a running stack's control API and returns the
// state dir that points the CLI at it.
func fakeControl(t *testing.T, api http.Handler) string {
	t.Helper()
	dir := t.TempDir()
	tok, err := controlauth.LoadOrCreateToken(filepath.Join(dir, controlauth.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	g, err := controlauth.New(controlauth.Config{Token: tok, Addr: srv.Listener.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = g.Handler(api)
	srv.Start()
	t.Cleanup(srv.Close)
	ep, _ := json.Marshal(stack.Endpoints{ControlURL: srv.URL})
	if err := os.WriteFile(filepath.Join(dir, stack.EndpointsFile), ep, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// rolledBack is a service whose deployment ecs-svc/2… failed and is being
// rolled back to ecs-svc/1….
const rolledBack = `{"name": "bags", "desiredCount": 1, "runningCount": 1, "deployments": [
  {"id": "ecs-svc/3000000000000000003", "status": "PRIMARY", "desiredCount": 1, "runningCount": 0, "failedTasks": 0,
   "rolloutState": "IN_PROGRESS", "rolloutStateReason": "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1000000000000000001."},
  {"id": "ecs-svc/2000000000000000002", "status": "ACTIVE", "desiredCount": 0, "runningCount": 0, "failedTasks": 3,
   "rolloutState": "FAILED", "rolloutStateReason": "ECS deployment circuit breaker: tasks failed to start."},
  {"id": "ecs-svc/1000000000000000001", "status": "ACTIVE", "desiredCount": 1, "runningCount": 1, "failedTasks": 0,
   "rolloutState": "COMPLETED", "rolloutStateReason": "ECS deployment ecs-svc/1000000000000000001 completed."}],
 "events": [
  {"id": "e2", "createdAt": "2026-01-02T03:04:05Z", "message": "(service bags) (deployment ecs-svc/3000000000000000003) rolling back to deploymentId ecs-svc/1000000000000000001."},
  {"id": "e1", "createdAt": "2026-01-02T03:04:05Z", "message": "(service bags) (deployment ecs-svc/2000000000000000002) deployment failed: tasks failed to start."}]}`

func TestServicesSayWhyADeploymentFailed(t *testing.T) {
	dir := fakeControl(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/ecs/services":
			io.WriteString(w, `{"services": [`+rolledBack+`]}`)
		case "/ecs/services/bags":
			io.WriteString(w, rolledBack)
		case "/ecs/services/bags/deploy": // as if this deploy started ecs-svc/2…
			io.WriteString(w, `{"name": "bags", "deployments": [{"id": "ecs-svc/2000000000000000002", "status": "PRIMARY", "rolloutState": "IN_PROGRESS"}]}`)
		case "/ecs/tasks":
			io.WriteString(w, `{"tasks": [{"taskId": "0123456789abcdef", "service": "bags", "deploymentId": "ecs-svc/2000000000000000002",
			  "lastStatus": "STOPPED", "ip": "127.77.1.9", "stopCode": "ServiceSchedulerInitiated",
			  "stoppedReason": "Task failed ELB health checks in (target-group arn:tg/bags)",
			  "targetHealth": "unhealthy: Health checks failed with these codes: [500]; last check bad_status (HTTP 500) in 1.5ms"}]}`)
		case "/elbv2/DescribeTargetGroups":
			io.WriteString(w, `{"TargetGroups": []}`)
		default:
			http.NotFound(w, r)
		}
	}))

	out, err := runCLI(t, "services", "--state-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"ecs-svc/2000000000000000002 active 0/0 failed, 3 failed tasks (ECS deployment circuit breaker: tasks failed to start.)",
		"ecs-svc/3000000000000000003 primary 0/1 in_progress (ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1000000000000000001.)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("services output lacks %q:\n%s", want, out)
		}
	}
	out, err = runCLI(t, "services", "--events", "--state-dir", dir)
	if err != nil || !strings.Contains(out, "(service bags) (deployment ecs-svc/2000000000000000002) deployment failed: tasks failed to start.") {
		t.Errorf("services --events: %v\n%s", err, out)
	}
	out, err = runCLI(t, "services", "deploy", "bags", "--wait", "--state-dir", dir)
	if want := "bags: deployment ecs-svc/2000000000000000002 failed: ECS deployment circuit breaker: tasks failed to start. " +
		"(ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1000000000000000001.); " +
		"last task failure: Task failed ELB health checks in (target-group arn:tg/bags) " +
		"(target unhealthy: Health checks failed with these codes: [500]; last check bad_status (HTTP 500) in 1.5ms)"; err == nil || err.Error() != want {
		t.Errorf("deploy --wait: %v, want %q", err, want)
	}
	// One line per change: the failed task with why, the deployments.
	for _, want := range []string{
		"bags: new task 0123456789ab (127.77.1.9) stopped: Task failed ELB health checks in (target-group arn:tg/bags) (target unhealthy: Health checks failed with these codes: [500]",
		"bags: deployment ecs-svc/2000000000000000002 failed (0/0 running, 3 failed tasks): ECS deployment circuit breaker: tasks failed to start.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("deploy --wait output lacks %q:\n%s", want, out)
		}
	}
}
