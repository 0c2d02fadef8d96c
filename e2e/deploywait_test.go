package e2e

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portway/portway/internal/ecs"
	"github.com/portway/portway/internal/testutil"
)

// TestDeployWait: `portway services deploy NAME --wait` prints a line per
// change and exits 0 when the deployment completes; when the new task
// definition fails its target group health checks (the sidecar points at
// a port nothing listens on: 502), the circuit breaker rolls back and
// deploy --wait exits non-zero naming the health failure, and ecs logs
// each failed task with the load balancer's reason.
func TestDeployWait(t *testing.T) {
	stateDir := t.TempDir()
	cfg := testStack(57)
	for i := range cfg.Services {
		cfg.Services[i].DesiredCount = 1
		if cfg.Services[i].Name == "ingests" {
			cfg.Services[i].DeploymentCircuitBreaker = &ecs.CircuitBreaker{Enable: true, Rollback: true}
		}
	}
	cfgPath := writeConfig(t, cfg)
	up := startUp(t, stateDir, "--config", cfgPath)
	waitTasks(t, stateDir, "ingests RUNNING", 60*time.Second, func(ts []ecsTask) bool {
		return len(tasksOf(ts, "ingests", "RUNNING")) == 1
	})

	// A good deployment: progress lines, exit 0.
	out, errOut, err := runPortway(t, "services", "deploy", "ingests", "--wait", "--timeout", "50s", "--state-dir", stateDir)
	if err != nil {
		t.Fatalf("deploy --wait: %v\n%s%s", err, out, errOut)
	}
	if testing.Verbose() {
		t.Logf("good deploy --wait:\n%s", out)
	}
	for _, want := range []string{"ingests: deployment ecs-svc/", "started", "new task ", " RUNNING", "target ", "healthy",
		"old task ", "stopped: Scaling activity", "completed: 1 tasks running"} {
		if !strings.Contains(out, want) {
			t.Errorf("deploy --wait output lacks %q:\n%s", want, out)
		}
	}

	// A task definition whose target fails its health checks.
	for i := range cfg.Services {
		if cfg.Services[i].Name != "ingests" {
			continue
		}
		sv := &cfg.Services[i]
		sv.ReadinessPath = "" // the sidecar's port is open: ready, but it answers 502
		cmd := sv.Containers[0].Command
		for j, a := range cmd {
			cmd[j] = strings.Replace(a, ":9001", ":9002", 1)
		}
	}
	data, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := up.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 30*time.Second, "the reload's deployment", func() bool {
		return strings.Contains(up.stderr.String(), "rolling deployment started")
	})
	out, errOut, err = runPortway(t, "services", "deploy", "ingests", "--wait", "--timeout", "50s", "--state-dir", stateDir)
	if err == nil {
		t.Fatalf("deploy --wait of a failing task definition exited 0:\n%s%s", out, errOut)
	}
	for _, want := range []string{"deployment ecs-svc/", "failed: ECS deployment circuit breaker: tasks failed to start.",
		"last task failure: Task failed ELB health checks in (target-group ", "Health checks failed with these codes: [502]"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("deploy --wait error lacks %q:\n%s", want, errOut)
		}
	}
	for _, want := range []string{"new task ", "target ", "unhealthy: Health checks failed with these codes: [502]; last check bad_status (HTTP 502)",
		"stopped: Task failed ELB health checks"} {
		if !strings.Contains(out, want) {
			t.Errorf("deploy --wait output lacks %q:\n%s", want, out)
		}
	}
	// ecs logged each failed task with the load balancer's words.
	if log := up.stderr.String(); !strings.Contains(log, "task failed ELB health checks") ||
		!strings.Contains(log, "Health checks failed with these codes: [502]") {
		t.Errorf("no ecs log line names the health failure:\n%s", log)
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("deploy --wait stdout:\n%s\nstderr:\n%s", out, errOut)
	}
}
