package ecs

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portway/portway/internal/testutil"
)

// TestUpdateServiceRollsOutNewCommand: a changed command and environment
// start a rolling deployment; the new tasks (real processes) run the new
// definition, the old ones are stopped with "Deployment", and the group
// never has fewer than desiredCount healthy registered targets.
func TestUpdateServiceRollsOutNewCommand(t *testing.T) {
	t.Parallel()
	reg := &stateRegistrar{}
	svc := testService("web", 2)
	svc.Containers = []ContainerConfig{webContainer("nginx")}
	s := start(t, reg, svc)
	testutil.WaitFor(t, waitLong, "2 RUNNING", func() bool { return s.RunningCount("web") == 2 })
	before := s.Tasks()

	// The same configuration, written anew: nothing to do.
	same := testService("web", 2)
	same.Containers = []ContainerConfig{webContainer("nginx")}
	if id, err := s.UpdateService(same); err != nil || id != "" {
		t.Fatalf("UpdateService(unchanged) = %q, %v; want no deployment", id, err)
	}

	next := testService("web", 2)
	next.Containers = []ContainerConfig{webContainer("nginx", "-code=7")} // ignored by -mode=serve
	next.Containers[0].Env = containerEnv("EXTRA=v2-${TASK_ID}")
	id, err := s.UpdateService(next)
	if err != nil || !strings.HasPrefix(id, deploymentIDPrefix) {
		t.Fatalf("UpdateService(new command) = %q, %v", id, err)
	}
	if st := s.Services()[0]; len(st.Deployments) != 2 || st.Deployments[0].ID != id ||
		st.Deployments[0].TaskDefinitionRevision != 2 || st.Deployments[1].TaskDefinitionRevision != 1 {
		t.Errorf("deployments right after the update: %+v", st.Deployments)
	}
	// A new revision; the old one is listed while its tasks run.
	if defs := s.TaskDefinitions(); len(defs) != 2 || defs[0].Revision != 2 || !defs[0].Current || defs[1].Revision != 1 || defs[1].Current ||
		!slices.Contains(defs[0].Config.Containers[0].Command, "-code=7") || slices.Contains(defs[1].Config.Containers[0].Command, "-code=7") {
		t.Errorf("task definitions during the deployment: %+v", defs)
	}
	// Same again: the deployment is under way, nothing new to do.
	if again, err := s.UpdateService(next); err != nil || again != "" {
		t.Errorf("UpdateService(same new config) = %q, %v; want no second deployment", again, err)
	}

	minRunning := 2
	testutil.WaitFor(t, waitLong, "deployment COMPLETED", func() bool {
		minRunning = min(minRunning, s.RunningCount("web"))
		st := s.Services()[0]
		return len(st.Deployments) == 1 && st.Deployments[0].ID == id && st.Deployments[0].RolloutState == RolloutCompleted
	})
	if minRunning < 2 {
		t.Errorf("RUNNING tasks fell to %d during the deployment, want >= 2 (minimumHealthyPercent 100)", minRunning)
	}
	for _, old := range before {
		testutil.WaitFor(t, waitLong, "old task STOPPED", func() bool { return taskByID(t, s, old.TaskID).LastStatus == StatusStopped })
		if got := taskByID(t, s, old.TaskID); got.StoppedReason != scaledBy(got) {
			t.Errorf("old task stoppedReason = %q, want %q", got.StoppedReason, scaledBy(got))
		}
		if log := readLog(t, s, old.TaskID, "nginx"); strings.Contains(log, "-code=7") || strings.Contains(log, "EXTRA=v2-") {
			t.Errorf("old task ran the new definition:\n%s", log)
		}
	}
	live := tasksWhere(s, func(ts TaskStatus) bool { return ts.LastStatus == StatusRunning })
	if len(live) != 2 {
		t.Fatalf("RUNNING after the deployment: %+v", live)
	}
	if defs := s.TaskDefinitions(); len(defs) != 1 || defs[0].Revision != 2 {
		t.Errorf("task definitions after the deployment: %+v", defs)
	}
	for _, ts := range live {
		if ts.TaskDefinitionRevision != 2 {
			t.Errorf("task %s runs revision %d, want 2", ts.TaskID, ts.TaskDefinitionRevision)
		}
		if ts.DeploymentID != id {
			t.Errorf("task %s of deployment %s, want %s", ts.TaskID, ts.DeploymentID, id)
		}
		log := readLog(t, s, ts.TaskID, "nginx")
		if !strings.Contains(log, `"-code=7"`) || !strings.Contains(log, "EXTRA=v2-"+ts.TaskID) {
			t.Errorf("new task %s does not run the new command and env:\n%s", ts.TaskID, log)
		}
	}
	registered := map[string]bool{}
	for _, e := range reg.list("") {
		switch e.op {
		case "register":
			registered[e.ip] = true
		case "deregister":
			delete(registered, e.ip)
			if len(registered) < 2 {
				t.Errorf("deregistering %s left %d targets, want >= 2", e.ip, len(registered))
			}
		}
	}
}

// TestUpdateServiceFakeClock covers, step by step on one service, the
// fake clock and runtime: an unchanged configuration, a desired count
// change, a settings change, errors, then a task definition change.
func TestUpdateServiceFakeClock(t *testing.T) {
	t.Parallel()
	base := func() ServiceConfig {
		return ServiceConfig{Name: "svc", DesiredCount: 1, BackoffInitial: time.Hour,
			Containers: []ContainerConfig{fakeContainer("app", "A=1")}}
	}
	h := newClockHarness(t, base(), TargetHealthy)
	id := h.first()
	h.waitStatus(id, StatusRunning)
	dep := h.s.Services()[0].Deployments[0].ID
	oneDeployment := func(what string) {
		t.Helper()
		if st := h.s.Services()[0]; len(st.Deployments) != 1 || st.Deployments[0].ID != dep {
			t.Errorf("%s: deployments %+v, want only %s", what, st.Deployments, dep)
		}
	}

	{ // unchanged, written differently
		cfg := base()
		cfg.Containers[0].Command = []string{}
		cfg.Containers[0].DependsOn = []Dependency{}
		cfg.StopTimeout = DefaultStopTimeout
		v := DefaultMinimumHealthy
		cfg.MinimumHealthyPercent = &v
		if got, err := h.s.UpdateService(cfg); err != nil || got != "" {
			t.Fatalf("UpdateService = %q, %v; want \"\", nil", got, err)
		}
		oneDeployment("unchanged")
		h.assertStatus(id, StatusRunning)
	}

	{ // desired count only: scale
		cfg := base()
		cfg.DesiredCount = 3
		if got, err := h.s.UpdateService(cfg); err != nil || got != "" {
			t.Fatalf("UpdateService = %q, %v; want a scale, no deployment", got, err)
		}
		testutil.WaitFor(t, waitLong, "3 RUNNING", func() bool { return h.s.RunningCount("svc") == 3 })
		oneDeployment("scaled")
		if st := h.s.Services()[0]; st.DesiredCount != 3 {
			t.Errorf("desiredCount = %d", st.DesiredCount)
		}
		// A later Scale is kept while the configured count stays the same.
		if err := h.s.Scale("svc", 2); err != nil {
			t.Fatal(err)
		}
		cfg.HealthCheckGracePeriod = time.Minute // a settings change to apply
		if got, err := h.s.UpdateService(cfg); err != nil || got != "" {
			t.Fatalf("UpdateService = %q, %v", got, err)
		}
		testutil.WaitFor(t, waitLong, "2 RUNNING", func() bool { return h.s.RunningCount("svc") == 2 })
		if st := h.s.Services()[0]; st.DesiredCount != 2 {
			t.Errorf("desiredCount = %d after an update that kept desiredCount 3, want 2 (set by Scale)", st.DesiredCount)
		}
		cfg.DesiredCount = 1
		if _, err := h.s.UpdateService(cfg); err != nil {
			t.Fatal(err)
		}
		testutil.WaitFor(t, waitLong, "1 RUNNING", func() bool { return h.s.RunningCount("svc") == 1 })
		for _, ts := range tasksWhere(h.s, func(ts TaskStatus) bool { return ts.LastStatus == StatusStopped }) {
			if ts.StoppedReason != scaledBy(ts) {
				t.Errorf("stoppedReason %q, want %q", ts.StoppedReason, scaledBy(ts))
			}
		}
		oneDeployment("scaled in")
		// (On the fake clock all tasks have the same createdAt: which one
		// stays is not the oldest.)
		id = tasksWhere(h.s, func(ts TaskStatus) bool { return ts.LastStatus == StatusRunning })[0].TaskID
	}

	{ // settings only: applied
		cfg := base()
		cfg.HealthCheckGracePeriod = 2 * time.Minute
		cfg.MaximumPercent = 150
		half := 50
		cfg.MinimumHealthyPercent = &half
		if got, err := h.s.UpdateService(cfg); err != nil || got != "" {
			t.Fatalf("UpdateService = %q, %v", got, err)
		}
		oneDeployment("settings")
		h.s.mu.Lock()
		sv := h.s.services[0]
		got := sv.cfg
		desired := sv.desired
		h.s.mu.Unlock()
		if got.HealthCheckGracePeriod != 2*time.Minute || got.MaximumPercent != 150 || *got.MinimumHealthyPercent != 50 {
			t.Errorf("settings not applied: grace %v max %d min %d", got.HealthCheckGracePeriod, got.MaximumPercent, *got.MinimumHealthyPercent)
		}
		if desired != 1 {
			t.Errorf("desired = %d, want 1", desired)
		}
		h.assertStatus(id, StatusRunning)
	}

	{ // errors
		unknown := base()
		unknown.Name = "nope"
		if _, err := h.s.UpdateService(unknown); !errors.Is(err, ErrServiceNotFound) {
			t.Errorf("unknown service: %v, want ErrServiceNotFound", err)
		}
		tg := base()
		tg.TargetGroup, tg.ContainerPort = "other", fakePort
		if _, err := h.s.UpdateService(tg); !errors.Is(err, ErrTargetGroupChange) || !strings.Contains(err.Error(), "services[svc].targetGroup") {
			t.Errorf("target group change: %v, want ErrTargetGroupChange naming services[svc].targetGroup", err)
		}
		bad := base()
		bad.Containers[0].Name = ""
		bad.DesiredCount = -1
		_, err := h.s.UpdateService(bad)
		for _, want := range []string{"services[svc].containers[0].name: required", "services[svc].desiredCount: must be >= 0"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("invalid config: %v, want it to name %q", err, want)
			}
		}
		missing := base()
		missing.Containers[0].Executable = "portway-no-such-executable"
		if _, err := h.s.UpdateService(missing); err == nil || !strings.Contains(err.Error(), "executable") {
			t.Errorf("missing executable: %v", err)
		}
		oneDeployment("after errors")
		h.assertStatus(id, StatusRunning)
	}

	{ // task definition: rolling deployment
		cfg := base()
		cfg.Containers[0].Env = []string{"A=2"}
		newID, err := h.s.UpdateService(cfg)
		if err != nil || newID == "" {
			t.Fatalf("UpdateService = %q, %v; want a deployment", newID, err)
		}
		old := h.waitStatus(id, StatusStopped)
		if old.StoppedReason != scaledBy(old) {
			t.Errorf("old task stoppedReason %q, want %q", old.StoppedReason, scaledBy(old))
		}
		testutil.WaitFor(t, waitLong, "new task RUNNING", func() bool {
			return len(tasksWhere(h.s, func(ts TaskStatus) bool {
				return ts.LastStatus == StatusRunning && ts.DeploymentID == newID
			})) == 1
		})
		newTask := tasksWhere(h.s, func(ts TaskStatus) bool { return ts.DeploymentID == newID })[0]
		h.s.mu.Lock()
		var env []string
		for _, tk := range h.s.tasks {
			if tk.id == newTask.TaskID {
				env = tk.cfg.Containers[0].Env
			}
		}
		h.s.mu.Unlock()
		if !slices.Equal(env, []string{"A=2"}) {
			t.Errorf("new task's env %v, want [A=2]", env)
		}
	}
}

// TestContainerStopTimeoutFakeClock: each container gets its own
// stopTimeout, or the service's when it has none.
func TestContainerStopTimeoutFakeClock(t *testing.T) {
	t.Parallel()
	app := fakeContainer("app", "FAKE_IGNORE_TERM=1")
	app.StopTimeout = 5 * time.Second
	web := fakeContainer("web", "FAKE_IGNORE_TERM=1") // the service's 30s
	h := newClockHarness(t, ServiceConfig{Name: "svc", DesiredCount: 1, BackoffInitial: time.Hour,
		StopTimeout: 30 * time.Second, Containers: []ContainerConfig{app, web}}, TargetHealthy)
	id := h.first()
	h.waitStatus(id, StatusRunning)
	if err := h.s.Scale("svc", 0); err != nil {
		t.Fatal(err)
	}
	// Reverse definition order: web first.
	testutil.WaitFor(t, waitLong, "web got SIGTERM", func() bool { return slices.Contains(h.rt.eventList(id), "web:terminated") })
	h.waitArmed(30*time.Second, "web's stopTimeout (the service's)")
	h.clock.Advance(30*time.Second - time.Millisecond)
	if ev := h.rt.eventList(id); slices.Contains(ev, "web:killed") || slices.Contains(ev, "app:terminated") {
		t.Fatalf("before web's 30s: %v", ev)
	}
	h.clock.Advance(time.Millisecond)
	testutil.WaitFor(t, waitLong, "app got SIGTERM", func() bool { return slices.Contains(h.rt.eventList(id), "app:terminated") })
	h.waitArmed(5*time.Second, "app's own stopTimeout")
	h.clock.Advance(5*time.Second - time.Millisecond)
	h.assertStatus(id, StatusStopping)
	h.clock.Advance(time.Millisecond)
	ts := h.waitStatus(id, StatusStopped)
	want := []string{"app:started", "web:started", "web:terminated", "web:killed", "app:terminated", "app:killed"}
	if got := h.rt.eventList(id); !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	if ts.StoppedReason != scaledBy(ts) {
		t.Errorf("stoppedReason %q", ts.StoppedReason)
	}
}

// TestPortMappingsInTaskStatus: declared port mappings show per container
// in the task JSON, protocol filled in.
func TestPortMappingsInTaskStatus(t *testing.T) {
	t.Parallel()
	web := fakeContainer("web")
	web.PortMappings = []PortMapping{{ContainerPort: 9000}, {ContainerPort: 9053, Protocol: ProtocolUDP}}
	h := newClockHarness(t, ServiceConfig{Name: "svc", DesiredCount: 1, BackoffInitial: time.Hour,
		Containers: []ContainerConfig{fakeContainer("app"), web}}, TargetHealthy)
	id := h.first()
	ts := h.waitStatus(id, StatusRunning)
	b, err := json.Marshal(ts)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Containers []map[string]json.RawMessage `json:"containers"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if _, ok := got.Containers[0]["portMappings"]; ok {
		t.Errorf("app without mappings shows portMappings: %s", b)
	}
	// awsvpc: the host port is the container port (as ECS reports it).
	want := `[{"containerPort":9000,"hostPort":9000,"protocol":"tcp"},{"containerPort":9053,"hostPort":9053,"protocol":"udp"}]`
	if pm := string(got.Containers[1]["portMappings"]); pm != want {
		t.Errorf("web portMappings = %s, want %s", pm, want)
	}
}

func TestSameTaskDefinition(t *testing.T) {
	base := func() ServiceConfig {
		return ServiceConfig{Name: "s", ContainerName: "web", ContainerPort: 9000, ReadinessPath: "/h",
			Containers: []ContainerConfig{
				{Name: "app", Essential: true, Command: []string{"app", "--x"}, Env: []string{"A=1"},
					HealthCheck: &HealthCheck{Command: []string{"CMD-SHELL", "true"}}},
				{Name: "web", Essential: true, DependsOn: []Dependency{{ContainerName: "app"}},
					PortMappings: []PortMapping{{ContainerPort: 9000}}},
			}}.withDefaults()
	}
	tests := []struct {
		name   string
		mutate func(*ServiceConfig)
		same   bool
	}{
		{"identical", func(*ServiceConfig) {}, true},
		{"defaults spelled out", func(s *ServiceConfig) {
			s.Containers[0].HealthCheck.Interval = DefaultHealthInterval
			s.Containers[0].Secrets = []Secret{}
			s.Containers[1].DependsOn[0].Condition = ConditionStart
			s.Containers[1].PortMappings[0].Protocol = ProtocolTCP
			s.Containers[1].Env = []string{}
		}, true},
		{"settings only", func(s *ServiceConfig) { s.HealthCheckGracePeriod = time.Minute; s.DesiredCount = 5 }, true},
		{"command", func(s *ServiceConfig) { s.Containers[0].Command[1] = "--y" }, false},
		{"env", func(s *ServiceConfig) { s.Containers[0].Env = nil }, false},
		{"secrets", func(s *ServiceConfig) { s.Containers[0].Secrets = []Secret{{Name: "P", ValueFrom: "/p"}} }, false},
		{"executable", func(s *ServiceConfig) { s.Containers[0].Executable = "/bin/true" }, false},
		{"engine", func(s *ServiceConfig) { s.Containers[1].Engine = EngineNginx }, false},
		{"essential", func(s *ServiceConfig) { s.Containers[1].Essential = false }, false},
		{"dependsOn", func(s *ServiceConfig) { s.Containers[1].DependsOn = nil }, false},
		{"health check", func(s *ServiceConfig) { s.Containers[0].HealthCheck.Retries = 5 }, false},
		{"container stopTimeout", func(s *ServiceConfig) { s.Containers[0].StopTimeout = time.Second }, false},
		{"port mappings", func(s *ServiceConfig) { s.Containers[1].PortMappings[0].ContainerPort = 9001 }, false},
		{"container order", func(s *ServiceConfig) { slices.Reverse(s.Containers) }, false},
		{"container name", func(s *ServiceConfig) { s.ContainerName = "app" }, false},
		{"container port", func(s *ServiceConfig) { s.ContainerPort = 9001 }, false},
		{"readiness path", func(s *ServiceConfig) { s.ReadinessPath = "/" }, false},
		{"service stopTimeout", func(s *ServiceConfig) { s.StopTimeout = time.Second }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := base(), base()
			tc.mutate(&b)
			if got := sameTaskDefinition(a, b); got != tc.same {
				t.Errorf("sameTaskDefinition = %v, want %v", got, tc.same)
			}
		})
	}
}
