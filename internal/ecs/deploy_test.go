package ecs

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portway/portway/internal/testutil"
)

func failHealth(t *testing.T, ip string) {
	t.Helper()
	resp, err := http.Post(fmt.Sprintf("http://%s:%d/management/fail", ip, webPort), "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func TestTaskFailingELBHealthChecksIsReplaced(t *testing.T) {
	t.Parallel()
	reg := &stateRegistrar{}
	svc := testService("ingests", 1)
	svc.Containers = []ContainerConfig{webContainer("nginx")}
	svc.HealthCheckGracePeriod = 200 * time.Millisecond
	s := start(t, reg, svc)
	testutil.WaitFor(t, waitLong, "RUNNING", func() bool { return s.RunningCount("ingests") == 1 })
	victim := s.Tasks()[0]

	failHealth(t, victim.IP)
	testutil.WaitFor(t, waitLong, "victim STOPPED", func() bool { return taskByID(t, s, victim.TaskID).LastStatus == StatusStopped })
	if got := taskByID(t, s, victim.TaskID); got.StoppedReason != elbReason("ingests") || got.StopCode != StopCodeServiceScheduler {
		t.Errorf("stoppedReason, stopCode = %q, %q; want %q, %q", got.StoppedReason, got.StopCode, elbReason("ingests"), StopCodeServiceScheduler)
	}
	if ops := reg.opsFor(victim.IP); len(ops) < 2 || ops[len(ops)-1] != "deregister" {
		t.Errorf("registrar calls for the victim = %v, want it deregistered", ops)
	}
	testutil.WaitFor(t, waitLong, "a healthy replacement", func() bool {
		return s.RunningCount("ingests") == 1 && len(s.Tasks()) == 2
	})
}

func TestUnhealthyTargetToleratedDuringGracePeriod(t *testing.T) {
	t.Parallel()
	reg := &stateRegistrar{}
	svc := testService("ingests", 1)
	svc.Containers = []ContainerConfig{webContainer("nginx", "-health=500")}
	svc.ReadinessPath = "" // TCP readiness: the task registers, then fails the group's checks
	// Long enough that a loaded machine still sees the task registered
	// inside the grace period (700 ms was missed once under load).
	svc.HealthCheckGracePeriod = 3 * time.Second
	svc.BackoffInitial, svc.BackoffMax = time.Minute, time.Minute // no replacement during the test
	s := start(t, reg, svc)

	testutil.WaitFor(t, waitLong, "task registered", func() bool { return len(reg.list("register")) == 1 })
	first := s.Tasks()[0]
	if first.LastStatus != StatusActivating {
		t.Errorf("registered but unhealthy task is %s, want ACTIVATING", first.LastStatus)
	}
	testutil.WaitFor(t, waitLong, "task STOPPED", func() bool { return taskByID(t, s, first.TaskID).LastStatus == StatusStopped })
	got := taskByID(t, s, first.TaskID)
	if got.StoppedReason != elbReason("ingests") || got.StartedAt != nil {
		t.Errorf("task %+v: want stopped by ELB health checks without reaching RUNNING", got)
	}
	if lived := got.StoppedAt.Sub(got.CreatedAt); lived < svc.HealthCheckGracePeriod {
		t.Errorf("stopped after %v, before the grace period %v ended", lived, svc.HealthCheckGracePeriod)
	}
	if st := s.Services()[0]; st.LastFailure != elbReason("ingests") {
		t.Errorf("service lastFailure = %q", st.LastFailure)
	}
}

func TestScaleUpAndDown(t *testing.T) {
	t.Parallel()
	reg := &stateRegistrar{}
	svc := testService("bags", 1)
	svc.Containers = []ContainerConfig{webContainer("nginx")}
	s := start(t, reg, svc)
	testutil.WaitFor(t, waitLong, "1 RUNNING", func() bool { return s.RunningCount("bags") == 1 })
	first := s.Tasks()[0]

	if err := s.Scale("bags", 3); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, waitLong, "3 RUNNING", func() bool { return s.RunningCount("bags") == 3 })
	if st := s.Services()[0]; st.DesiredCount != 3 || st.RunningCount != 3 || st.Deployments[0].RolloutState != RolloutCompleted {
		t.Errorf("after scale up: %+v", st)
	}

	if err := s.Scale("bags", 1); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, waitLong, "2 tasks STOPPED", func() bool {
		return len(tasksWhere(s, func(ts TaskStatus) bool { return ts.LastStatus == StatusStopped })) == 2
	})
	for _, ts := range tasksWhere(s, func(ts TaskStatus) bool { return ts.LastStatus == StatusStopped }) {
		if ts.StoppedReason != scaledBy(ts) || ts.StopCode != StopCodeServiceScheduler {
			t.Errorf("stoppedReason, stopCode = %q, %q; want %q, %q", ts.StoppedReason, ts.StopCode, scaledBy(ts), StopCodeServiceScheduler)
		}
	}
	// Scale-in stops the newest tasks: the first one stays.
	if got := taskByID(t, s, first.TaskID); got.LastStatus != StatusRunning {
		t.Errorf("the oldest task is %s after scaling in", got.LastStatus)
	}
	if s.RunningCount("bags") != 1 {
		t.Errorf("running = %d", s.RunningCount("bags"))
	}
	if err := s.Scale("nope", 1); err == nil {
		t.Error("Scale of an unknown service: no error")
	}
	if err := s.Scale("bags", -1); err == nil {
		t.Error("Scale to -1: no error")
	}
}

// TestRollingDeployment checks that a deployment replaces every task while
// the group never has fewer than desiredCount registered targets that
// answer their health check (minimum healthy 100%) nor more than twice as
// many tasks (maximum 200%).
func TestRollingDeployment(t *testing.T) {
	t.Parallel()
	reg := &stateRegistrar{}
	svc := testService("ingests", 2)
	svc.Containers = []ContainerConfig{webContainer("nginx")}
	s := start(t, reg, svc)
	testutil.WaitFor(t, waitLong, "2 RUNNING", func() bool { return s.RunningCount("ingests") == 2 })
	before := s.Tasks()
	firstDeployment := s.Services()[0].Deployments[0].ID

	id, err := s.Deploy("ingests")
	if err != nil {
		t.Fatal(err)
	}
	// ECS's form: ecs-svc/ and 19 digits (e.g. ecs-svc/8646900195280463695).
	if id == firstDeployment || !regexp.MustCompile(`^ecs-svc/[1-9][0-9]{18}$`).MatchString(id) {
		t.Fatalf("deployment id %q, want ecs-svc/ and 19 digits", id)
	}
	st := s.Services()[0]
	if len(st.Deployments) != 2 || st.Deployments[0].ID != id || st.Deployments[0].Status != DeploymentPrimary ||
		st.Deployments[1].Status != DeploymentActive || st.Deployments[0].RolloutState != RolloutInProgress {
		t.Errorf("during the deployment: %+v", st.Deployments)
	}

	maxLive := 0
	testutil.WaitFor(t, waitLong, "deployment COMPLETED", func() bool {
		live := len(tasksWhere(s, func(ts TaskStatus) bool { return ts.LastStatus != StatusStopped }))
		maxLive = max(maxLive, live)
		st := s.Services()[0]
		return len(st.Deployments) == 1 && st.Deployments[0].RolloutState == RolloutCompleted
	})
	if maxLive > 4 {
		t.Errorf("%d tasks at once, want <= 4 (maximumPercent 200)", maxLive)
	}
	for _, old := range before {
		testutil.WaitFor(t, waitLong, "old task STOPPED", func() bool { return taskByID(t, s, old.TaskID).LastStatus == StatusStopped })
		got := taskByID(t, s, old.TaskID)
		if got.StoppedReason != scaledBy(got) {
			t.Errorf("old task stoppedReason = %q, want %q", got.StoppedReason, scaledBy(got))
		}
	}
	live := tasksWhere(s, func(ts TaskStatus) bool { return ts.LastStatus == StatusRunning })
	if len(live) != 2 {
		t.Fatalf("live after deployment: %+v", live)
	}
	for _, ts := range live {
		if ts.DeploymentID != id {
			t.Errorf("task %s has deployment %s, want %s", ts.TaskID, ts.DeploymentID, id)
		}
	}

	// Replay the registrar's log: every deregistration left >= 2 healthy
	// registered targets, and a new target was registered healthy.
	registered := map[string]bool{}
	for _, e := range reg.list("") {
		switch e.op {
		case "register":
			if !e.healthy {
				t.Errorf("%s registered before it answered", e.ip)
			}
			registered[e.ip] = true
		case "deregister":
			delete(registered, e.ip)
			if len(registered) < 2 {
				t.Errorf("deregistering %s left %d targets, want >= 2 (minimumHealthyPercent 100)", e.ip, len(registered))
			}
		}
	}
	if _, err := s.Deploy("nope"); err == nil {
		t.Error("Deploy of an unknown service: no error")
	}
}

// TestDeploymentBelowMaximumStopsFirst: with maximumPercent 100 the service
// may not grow, so an old task is drained before its replacement starts,
// down to minimumHealthyPercent.
func TestDeploymentBelowMaximumStopsFirst(t *testing.T) {
	t.Parallel()
	reg := &stateRegistrar{}
	svc := testService("bags", 2)
	svc.Containers = []ContainerConfig{webContainer("nginx")}
	half := 50
	svc.MinimumHealthyPercent, svc.MaximumPercent = &half, 100
	s := start(t, reg, svc)
	testutil.WaitFor(t, waitLong, "2 RUNNING", func() bool { return s.RunningCount("bags") == 2 })
	if _, err := s.Deploy("bags"); err != nil {
		t.Fatal(err)
	}
	maxLive := 0
	testutil.WaitFor(t, waitLong, "deployment COMPLETED", func() bool {
		live := len(tasksWhere(s, func(ts TaskStatus) bool { return ts.DesiredStatus == StatusRunning }))
		maxLive = max(maxLive, live)
		st := s.Services()[0]
		return len(st.Deployments) == 1 && st.Deployments[0].RolloutState == RolloutCompleted
	})
	if maxLive > 2 {
		t.Errorf("%d tasks wanted RUNNING at once, want <= 2 (maximumPercent 100)", maxLive)
	}
}

func TestDeploymentBounds(t *testing.T) {
	pct := func(v int) *int { return &v }
	tests := []struct {
		desired, min, max int
		wantMax, wantMin  int
	}{
		{2, 100, 200, 4, 2},
		{1, 100, 200, 2, 1},
		{3, 50, 200, 6, 2},
		{2, 100, 100, 3, 2}, // no room: one extra allowed
		{1, 100, 150, 2, 1}, // floor(1.5) = 1: one extra allowed
		{2, 50, 100, 2, 1},
		{0, 100, 200, 0, 0},
		{4, 0, 100, 4, 0},
	}
	for _, tc := range tests {
		sc := ServiceConfig{MinimumHealthyPercent: pct(tc.min), MaximumPercent: tc.max}.withDefaults()
		gotMax, gotMin := sc.deploymentBounds(tc.desired)
		if gotMax != tc.wantMax || gotMin != tc.wantMin {
			t.Errorf("bounds(%d, min %d%%, max %d%%) = %d, %d; want %d, %d",
				tc.desired, tc.min, tc.max, gotMax, gotMin, tc.wantMax, tc.wantMin)
		}
	}
	d := ServiceConfig{}.withDefaults()
	if *d.MinimumHealthyPercent != 100 || d.MaximumPercent != 200 {
		t.Errorf("defaults: min %d max %d", *d.MinimumHealthyPercent, d.MaximumPercent)
	}
}

func TestServicesHandler(t *testing.T) {
	t.Parallel()
	svc := testService("bags", 1)
	svc.Containers = []ContainerConfig{webContainer("nginx")}
	s := start(t, &stateRegistrar{}, svc)
	testutil.WaitFor(t, waitLong, "RUNNING", func() bool { return s.RunningCount("bags") == 1 })
	h := s.Handler()

	do := func(method, target, body string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, target, strings.NewReader(body)))
		return rec
	}
	tests := []struct {
		method, target, body string
		status               int
		wantDesired          int // -1: not a service body
	}{
		{http.MethodGet, "/ecs/services/bags", "", http.StatusOK, 1},
		{http.MethodGet, "/ecs/services/nope", "", http.StatusNotFound, -1},
		{http.MethodPost, "/ecs/services/bags/scale", `{"desiredCount": 2}`, http.StatusOK, 2},
		{http.MethodPost, "/ecs/services/bags/scale", `{"desiredCount": -1}`, http.StatusBadRequest, -1},
		{http.MethodPost, "/ecs/services/bags/scale", `{}`, http.StatusBadRequest, -1},
		{http.MethodPost, "/ecs/services/bags/scale", `{"count": 2}`, http.StatusBadRequest, -1},
		{http.MethodPost, "/ecs/services/bags/scale", `nope`, http.StatusBadRequest, -1},
		{http.MethodPost, "/ecs/services/nope/scale", `{"desiredCount": 2}`, http.StatusNotFound, -1},
		{http.MethodGet, "/ecs/services/bags/scale", "", http.StatusMethodNotAllowed, -1},
		{http.MethodPost, "/ecs/services/bags/deploy", "", http.StatusOK, 2},
		{http.MethodPost, "/ecs/services/nope/deploy", "", http.StatusNotFound, -1},
	}
	for _, tc := range tests {
		rec := do(tc.method, tc.target, tc.body)
		if rec.Code != tc.status {
			t.Errorf("%s %s %s = %d %s, want %d", tc.method, tc.target, tc.body, rec.Code, rec.Body, tc.status)
			continue
		}
		if tc.status == http.StatusMethodNotAllowed {
			continue // the mux's own plain-text answer
		}
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Errorf("%s %s: not JSON: %s", tc.method, tc.target, rec.Body)
			continue
		}
		if tc.wantDesired < 0 {
			if body["message"] == nil {
				t.Errorf("%s %s: error without message: %s", tc.method, tc.target, rec.Body)
			}
			continue
		}
		if body["desiredCount"] != float64(tc.wantDesired) {
			t.Errorf("%s %s: desiredCount = %v, want %d", tc.method, tc.target, body["desiredCount"], tc.wantDesired)
		}
	}

	rec := do(http.MethodGet, "/ecs/services", "")
	var list struct {
		Services []map[string]any `json:"services"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || len(list.Services) != 1 {
		t.Fatalf("GET /ecs/services: %s %v", rec.Body, err)
	}
	got := list.Services[0]
	for _, k := range []string{"name", "desiredCount", "runningCount", "pendingCount", "deployments"} {
		if _, ok := got[k]; !ok {
			t.Errorf("service JSON lacks %q: %v", k, got)
		}
	}
	deps := got["deployments"].([]any)
	if len(deps) != 2 {
		t.Fatalf("deployments after deploy: %v", deps)
	}
	for _, d := range deps {
		for _, k := range []string{"id", "status", "desiredCount", "runningCount"} {
			if _, ok := d.(map[string]any)[k]; !ok {
				t.Errorf("deployment JSON lacks %q: %v", k, d)
			}
		}
	}
	testutil.WaitFor(t, waitLong, "deployment done at 2 tasks", func() bool {
		st := s.Services()[0]
		return len(st.Deployments) == 1 && st.RunningCount == 2 && st.Deployments[0].RolloutState == RolloutCompleted
	})
	var ids []string
	for _, ts := range tasksWhere(s, func(ts TaskStatus) bool { return ts.LastStatus == StatusRunning }) {
		ids = append(ids, ts.DeploymentID)
	}
	if len(ids) != 2 || ids[0] != ids[1] {
		t.Errorf("running tasks' deployments: %v", ids)
	}
}

// signalRuntime records the order in which containers are signalled.
type signalRuntime struct {
	mu      sync.Mutex
	signals []string // "container:signal"
}

func (r *signalRuntime) Start(spec ContainerSpec) (Process, error) {
	p, err := ProcessRuntime{}.Start(spec)
	if err != nil {
		return nil, err
	}
	return &signalProcess{Process: p, name: spec.Name, r: r}, nil
}

func (r *signalRuntime) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.signals)
}

type signalProcess struct {
	Process
	name string
	r    *signalRuntime
}

func (p *signalProcess) Signal(sig syscall.Signal) error {
	p.r.mu.Lock()
	p.r.signals = append(p.r.signals, p.name+":"+sig.String())
	p.r.mu.Unlock()
	return p.Process.Signal(sig)
}

// TestStopOrderFrontDoorFirst: the container serving the target group
// stops first (it finishes its requests while the app still answers), then
// the others in reverse definition order; nginx gets SIGQUIT.
func TestStopOrderFrontDoorFirst(t *testing.T) {
	t.Parallel()
	rt := &signalRuntime{}
	svc := testService("bags", 1)
	svc.Containers = []ContainerConfig{webContainer("nginx"), sleepContainer("app"), sleepContainer("logger")}
	s, err := New(Config{StateDir: t.TempDir(), Executable: executable(t), Subnet: testSubnet(),
		Services: []ServiceConfig{svc}, Registrar: &fakeRegistrar{}, Runtime: rt})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, waitLong, "RUNNING", func() bool { return s.RunningCount("bags") == 1 })
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"nginx:terminated", "logger:terminated", "app:terminated"}
	if got := rt.list(); !slices.Equal(got, want) {
		t.Errorf("signals = %v, want %v", got, want)
	}
	assertNoProcesses(t, s)

	if got := stopSignal(ContainerConfig{Engine: EngineNginx}); got != syscall.SIGQUIT {
		t.Errorf("nginx stop signal = %v, want SIGQUIT", got)
	}
}
