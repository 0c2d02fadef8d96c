package ecs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portway/portway/internal/testutil"
)

var taskIDRe = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestTasksGetDistinctIPsAndRegisterWhenReady(t *testing.T) {
	t.Parallel()
	reg := &fakeRegistrar{}
	s := start(t, reg, testService("bags", 3))
	testutil.WaitFor(t, waitLong, "3 RUNNING tasks", func() bool { return s.RunningCount("bags") == 3 })

	prefix := strings.TrimSuffix(s.cfg.Subnet, "0/24")
	var ips []string
	for _, ts := range s.Tasks() {
		if !taskIDRe.MatchString(ts.TaskID) {
			t.Errorf("task id %q is not 32 hex chars", ts.TaskID)
		}
		if ts.LastStatus != StatusRunning || ts.DesiredStatus != StatusRunning || ts.StartedAt == nil || ts.StoppedAt != nil {
			t.Errorf("task %+v: want RUNNING/RUNNING with startedAt only", ts)
		}
		ips = append(ips, ts.IP)
		for _, c := range ts.Containers {
			if c.PID <= 0 || c.LastStatus != StatusRunning || c.ExitCode != nil {
				t.Errorf("container %+v: want running with a pid", c)
			}
		}
		// Env and ${TASK_IP}/${TASK_ID} substitution, output captured.
		log := readLog(t, s, ts.TaskID, "nginx")
		for _, want := range []string{
			"container=nginx task=" + ts.TaskID + " ip=" + ts.IP,
			fmt.Sprintf(`"-listen=%s:%d"`, ts.IP, webPort),
			"EXTRA=task-" + ts.TaskID, // stderr, same file
		} {
			if !strings.Contains(log, want) {
				t.Errorf("nginx log of %s lacks %q:\n%s", ts.TaskID, want, log)
			}
		}
		// The app is not what makes the task RUNNING: its output may come
		// a moment later.
		testutil.WaitFor(t, waitLong, "the app's output in its log", func() bool {
			return strings.Contains(readLog(t, s, ts.TaskID, "app"), "container=app task="+ts.TaskID)
		})
	}
	slices.Sort(ips)
	if want := []string{prefix + "1", prefix + "2", prefix + "3"}; !slices.Equal(ips, want) {
		t.Errorf("task IPs = %v, want %v", ips, want)
	}

	regs := reg.list("register")
	if len(regs) != 3 {
		t.Fatalf("Register calls = %+v, want 3", regs)
	}
	for _, e := range regs {
		if e.group != "bags" || e.port != webPort || !e.healthy {
			t.Errorf("register %+v: want group bags, port %d, target already answering 200", e, webPort)
		}
	}
}

func TestDeregisterBeforeSIGTERM(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	entered := make(chan string, 1)
	reg := &fakeRegistrar{deregisterHook: func(ctx context.Context, ip string) error {
		entered <- ip
		select { // draining
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
	s, err := New(Config{StateDir: t.TempDir(), Executable: executable(t), Subnet: testSubnet(),
		Services: []ServiceConfig{testService("ingests", 1)}, Registrar: reg})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, waitLong, "RUNNING", func() bool { return s.RunningCount("ingests") == 1 })
	ts := s.Tasks()[0]
	pids := allPIDs(s)

	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		stopped <- s.Stop(ctx)
	}()
	select {
	case ip := <-entered:
		if ip != ts.IP {
			t.Fatalf("deregistered %s, want %s", ip, ts.IP)
		}
	case <-time.After(waitLong):
		t.Fatal("Deregister not called")
	}
	// While draining: task DEACTIVATING, containers untouched and serving.
	if got := taskByID(t, s, ts.TaskID); got.LastStatus != StatusDeactivating || got.DesiredStatus != StatusStopped {
		t.Errorf("during drain: %s/%s, want DEACTIVATING/STOPPED", got.LastStatus, got.DesiredStatus)
	}
	if !checkHealth(ts.IP, webPort) {
		t.Error("task stopped serving before its deregistration finished")
	}
	if log := readLog(t, s, ts.TaskID, "nginx"); strings.Contains(log, "SIGTERM") {
		t.Errorf("SIGTERM sent before drain finished:\n%s", log)
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Fatalf("Stop: %v", err)
	}

	if ops := reg.opsFor(ts.IP); !slices.Equal(ops, []string{"register", "deregister"}) {
		t.Errorf("registrar calls for %s = %v", ts.IP, ops)
	}
	got := taskByID(t, s, ts.TaskID)
	if got.LastStatus != StatusStopped || got.StoppedReason != ReasonShutdown || got.StoppedAt == nil {
		t.Errorf("after Stop: %+v", got)
	}
	for _, name := range []string{"nginx", "app"} {
		if log := readLog(t, s, ts.TaskID, name); !strings.Contains(log, "got SIGTERM") {
			t.Errorf("%s never got SIGTERM:\n%s", name, log)
		}
		if c := containerOf(got, name); c.ExitCode == nil || *c.ExitCode != 0 {
			t.Errorf("%s exit code = %v, want 0", name, c.ExitCode)
		}
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("pid %d alive after Stop", pid)
		}
	}
}

func TestEssentialContainerKilledIsReplaced(t *testing.T) {
	t.Parallel()
	reg := &fakeRegistrar{}
	s := start(t, reg, testService("bags", 2))
	testutil.WaitFor(t, waitLong, "2 RUNNING", func() bool { return s.RunningCount("bags") == 2 })

	victim := s.Tasks()[0]
	nginx := containerOf(victim, "nginx")
	app := containerOf(victim, "app")
	if err := syscall.Kill(nginx.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, waitLong, "victim STOPPED", func() bool { return taskByID(t, s, victim.TaskID).LastStatus == StatusStopped })
	got := taskByID(t, s, victim.TaskID)
	if got.StoppedReason != ReasonEssentialExited {
		t.Errorf("stoppedReason = %q, want %q", got.StoppedReason, ReasonEssentialExited)
	}
	if c := containerOf(got, "nginx"); c.ExitCode == nil || *c.ExitCode != 128+int(syscall.SIGKILL) {
		t.Errorf("nginx exit code = %v, want 137", c.ExitCode)
	}
	if err := syscall.Kill(app.PID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the task's other container (pid %d) survived", app.PID)
	}
	if ops := reg.opsFor(victim.IP); !slices.Equal(ops, []string{"register", "deregister"}) {
		t.Errorf("registrar calls for victim %s = %v", victim.IP, ops)
	}

	testutil.WaitFor(t, waitLong, "service back at 2 RUNNING with a replacement", func() bool {
		return s.RunningCount("bags") == 2 && len(s.Tasks()) == 3
	})
	live := tasksWhere(s, func(ts TaskStatus) bool { return ts.LastStatus == StatusRunning })
	if len(live) != 2 || live[0].IP == live[1].IP {
		t.Fatalf("live tasks %+v: want 2 with distinct IPs", live)
	}
	if n := len(reg.list("register")); n != 3 {
		t.Errorf("Register calls = %d, want 3", n)
	}
}

func TestCrashLoopBacksOff(t *testing.T) {
	t.Parallel()
	svc := testService("bags", 1)
	svc.Containers = []ContainerConfig{{Name: "app", Command: []string{"-mode=exit", "-code=3"}, Env: containerEnv(), Essential: true}}
	svc.ContainerName = "app"
	svc.BackoffInitial = 100 * time.Millisecond
	svc.BackoffMax = 400 * time.Millisecond
	reg := &fakeRegistrar{}
	s := start(t, reg, svc)

	testutil.WaitFor(t, waitLong, "6 attempts", func() bool { return len(s.Tasks()) >= 6 })
	all := s.Tasks()[:6]
	// attempt i+1 waits backoff(failures=i+1) after attempt i failed: 100, 200, 400, 400, 400 ms.
	for i := 1; i < len(all); i++ {
		gap := all[i].CreatedAt.Sub(all[i-1].CreatedAt)
		want := svc.withDefaults().backoff(i)
		if gap < want-5*time.Millisecond {
			t.Errorf("attempt %d started %v after the previous one, want >= %v", i+1, gap, want)
		}
	}
	for _, ts := range all[:5] {
		if ts.LastStatus != StatusStopped {
			continue
		}
		if ts.StoppedReason != ReasonEssentialExited {
			t.Errorf("stoppedReason = %q", ts.StoppedReason)
		}
		if c := ts.Containers[0]; c.ExitCode == nil || *c.ExitCode != 3 {
			t.Errorf("exit code = %v, want 3", c.ExitCode)
		}
		if ts.StartedAt != nil {
			t.Errorf("crashing task %s reached RUNNING", ts.TaskID)
		}
	}
	if n := len(reg.list("")); n != 0 {
		t.Errorf("registrar called %d times for tasks that never became ready", n)
	}
}

func TestReadinessFailureStopsAndReplaces(t *testing.T) {
	t.Parallel()
	svc := testService("ingests", 1)
	svc.Containers = []ContainerConfig{webContainer("nginx", "-health=500")}
	svc.ReadinessTimeout = 300 * time.Millisecond
	reg := &fakeRegistrar{}
	s := start(t, reg, svc)

	testutil.WaitFor(t, waitLong, "2 failed tasks", func() bool {
		return len(tasksWhere(s, func(ts TaskStatus) bool { return ts.LastStatus == StatusStopped })) >= 2
	})
	for _, ts := range tasksWhere(s, func(ts TaskStatus) bool { return ts.LastStatus == StatusStopped }) {
		if ts.StoppedReason != ReasonHealthCheck {
			t.Errorf("stoppedReason = %q, want %q", ts.StoppedReason, ReasonHealthCheck)
		}
	}
	if s.RunningCount("ingests") != 0 {
		t.Error("an unhealthy task counts as RUNNING")
	}
	if n := len(reg.list("")); n != 0 {
		t.Errorf("registrar called %d times for unhealthy tasks", n)
	}
}

func TestStopTimeoutKillsContainerIgnoringSIGTERM(t *testing.T) {
	t.Parallel()
	svc := testService("bags", 1)
	svc.Containers = []ContainerConfig{webContainer("nginx", "-ignore-term")}
	svc.StopTimeout = 300 * time.Millisecond
	s, err := New(Config{StateDir: t.TempDir(), Executable: executable(t), Subnet: testSubnet(),
		Services: []ServiceConfig{svc}, Registrar: &fakeRegistrar{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, waitLong, "RUNNING", func() bool { return s.RunningCount("bags") == 1 })

	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	begin := time.Now()
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if took := time.Since(begin); took < svc.StopTimeout {
		t.Errorf("Stop took %v, want >= stopTimeout %v", took, svc.StopTimeout)
	}
	ts := s.Tasks()[0]
	if c := ts.Containers[0]; c.ExitCode == nil || *c.ExitCode != 137 {
		t.Errorf("exit code = %v, want 137 (SIGKILL)", c.ExitCode)
	}
	if log := readLog(t, s, ts.TaskID, "nginx"); !strings.Contains(log, "ignoring SIGTERM") {
		t.Errorf("SIGTERM never delivered before SIGKILL:\n%s", log)
	}
	assertNoProcesses(t, s)
}

func TestStopContextEndForcesKill(t *testing.T) {
	t.Parallel()
	svc := testService("bags", 2)
	svc.Containers = []ContainerConfig{sleepContainer("app", "-ignore-term"), webContainer("nginx", "-ignore-term")}
	svc.StopTimeout = time.Minute
	reg := &fakeRegistrar{deregisterHook: func(ctx context.Context, ip string) error {
		<-ctx.Done() // a drain that never finishes
		return ctx.Err()
	}}
	s, err := New(Config{StateDir: t.TempDir(), Executable: executable(t), Subnet: testSubnet(),
		Services: []ServiceConfig{svc}, Registrar: reg})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, waitLong, "2 RUNNING", func() bool { return s.RunningCount("bags") == 2 })

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	begin := time.Now()
	err = s.Stop(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop error = %v, want DeadlineExceeded", err)
	}
	if took := time.Since(begin); took > 10*time.Second {
		t.Errorf("Stop took %v despite its context ending", took)
	}
	if n := len(reg.list("deregister")); n != 2 {
		t.Errorf("deregister calls = %d, want 2 (in parallel)", n)
	}
	assertNoProcesses(t, s)
}

func TestAddressReusedOnlyAfterStopped(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	reg := &fakeRegistrar{}
	svc := testService("bags", 1)
	svc.Containers = []ContainerConfig{webContainer("nginx")}
	s := start(t, reg, svc)
	prefix := strings.TrimSuffix(s.cfg.Subnet, "0/24")
	testutil.WaitFor(t, waitLong, "RUNNING", func() bool { return s.RunningCount("bags") == 1 })
	first := s.Tasks()[0]
	if first.IP != prefix+"1" {
		t.Fatalf("first task IP = %s, want %s1", first.IP, prefix)
	}

	reg.mu.Lock()
	reg.deregisterHook = func(ctx context.Context, ip string) error {
		if ip == first.IP {
			<-release
		}
		return nil
	}
	reg.mu.Unlock()
	if err := s.StopTask(first.TaskID); err != nil {
		t.Fatal(err)
	}
	// A user stop is not a failure: the replacement starts while the old task drains.
	// (RunningCount alone could count the old task before it leaves RUNNING.)
	testutil.WaitFor(t, waitLong, "replacement RUNNING, old task DEACTIVATING", func() bool {
		ts := s.Tasks()
		return len(ts) == 2 && ts[1].LastStatus == StatusRunning && ts[0].LastStatus == StatusDeactivating
	})
	second := s.Tasks()[1]
	if second.IP != prefix+"2" {
		t.Errorf("replacement IP = %s, want %s2 (.1 still held by the draining task)", second.IP, prefix)
	}
	if got := taskByID(t, s, first.TaskID); got.StoppedReason != ReasonUserStop || got.StopCode != StopCodeUserInitiated {
		t.Errorf("old task: %s %q, want DEACTIVATING %q", got.LastStatus, got.StoppedReason, ReasonUserStop)
	}
	close(release)
	testutil.WaitFor(t, waitLong, "old task STOPPED", func() bool { return taskByID(t, s, first.TaskID).LastStatus == StatusStopped })

	if err := s.StopTaskWithReason(second.TaskID, "rotated by hand"); err != nil {
		t.Fatal(err)
	}
	if got := taskByID(t, s, second.TaskID); got.StoppedReason != "rotated by hand" || got.StopCode != StopCodeUserInitiated {
		t.Errorf("stopped with a reason: %q %s", got.StoppedReason, got.StopCode)
	}
	testutil.WaitFor(t, waitLong, "third task RUNNING", func() bool { return s.RunningCount("bags") == 1 && len(s.Tasks()) == 3 })
	if third := s.Tasks()[2]; third.IP != prefix+"1" {
		t.Errorf("third task IP = %s, want %s1 (lowest free again)", third.IP, prefix)
	}
	if err := s.StopTask("nope"); !errors.Is(err, ErrTaskNotFound) {
		t.Errorf("StopTask of unknown task: %v, want ErrTaskNotFound", err)
	}
}

func TestCannotStartContainer(t *testing.T) {
	t.Parallel()
	svc := testService("bags", 1)
	svc.BackoffInitial, svc.BackoffMax = 50*time.Millisecond, 50*time.Millisecond
	s, err := New(Config{StateDir: t.TempDir(), Executable: executable(t), Subnet: testSubnet(),
		Services: []ServiceConfig{svc}, Registrar: &fakeRegistrar{}, Runtime: failingRuntime{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	testutil.WaitFor(t, waitLong, "2 failed attempts", func() bool {
		return len(tasksWhere(s, func(ts TaskStatus) bool { return ts.LastStatus == StatusStopped })) >= 2
	})
	ts := s.Tasks()[0]
	if !strings.HasPrefix(ts.StoppedReason, ReasonCannotStart+": app: ") {
		t.Errorf("stoppedReason = %q", ts.StoppedReason)
	}
	if c := containerOf(ts, "app"); c.Reason == "" || c.PID != 0 {
		t.Errorf("app container %+v: want a reason and no pid", c)
	}
}

type failingRuntime struct{}

func (failingRuntime) Start(ContainerSpec) (Process, error) { return nil, errors.New("no such image") }

func TestStartErrors(t *testing.T) {
	t.Parallel()
	for _, exe := range []string{"/nonexistent/portway", os.TempDir()} {
		s, err := New(Config{StateDir: t.TempDir(), Executable: exe, Subnet: testSubnet()})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "executable") {
			t.Errorf("Start with executable %s: err = %v", exe, err)
		}
		if err := s.Stop(context.Background()); err != nil {
			t.Errorf("Stop after failed Start: %v", err)
		}
	}
	s, err := New(Config{StateDir: t.TempDir(), Executable: executable(t), Subnet: testSubnet()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Start(ctx); err == nil {
		t.Error("Start with a cancelled context succeeded")
	}
}

func TestHandler(t *testing.T) {
	t.Parallel()
	svc := testService("bags", 1)
	svc.Containers = []ContainerConfig{webContainer("nginx")}
	s := start(t, &fakeRegistrar{}, svc)
	testutil.WaitFor(t, waitLong, "RUNNING", func() bool { return s.RunningCount("bags") == 1 })
	h := s.Handler()

	tests := []struct {
		method, target string
		status         int
		tasks          int
	}{
		{http.MethodGet, "/ecs/tasks", http.StatusOK, 1},
		{http.MethodGet, "/ecs/tasks?service=bags", http.StatusOK, 1},
		{http.MethodGet, "/ecs/tasks?service=nope", http.StatusNotFound, -1},
		{http.MethodPost, "/ecs/tasks", http.StatusMethodNotAllowed, -1},
		{http.MethodGet, "/ecs/other", http.StatusNotFound, -1},
	}
	for _, tc := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.target, nil))
		if rec.Code != tc.status {
			t.Errorf("%s %s = %d, want %d", tc.method, tc.target, rec.Code, tc.status)
			continue
		}
		if tc.tasks < 0 {
			continue
		}
		var body struct {
			Tasks []map[string]any `json:"tasks"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("decode: %v\n%s", err, rec.Body)
		}
		if len(body.Tasks) != tc.tasks {
			t.Fatalf("%s: %d tasks, want %d", tc.target, len(body.Tasks), tc.tasks)
		}
		got := body.Tasks[0]
		for _, k := range []string{"taskId", "service", "lastStatus", "desiredStatus", "ip", "containers", "stoppedReason", "startedAt", "stoppedAt"} {
			if _, ok := got[k]; !ok {
				t.Errorf("task JSON lacks %q: %v", k, got)
			}
		}
		c := got["containers"].([]any)[0].(map[string]any)
		for _, k := range []string{"name", "pid", "lastStatus", "exitCode"} {
			if _, ok := c[k]; !ok {
				t.Errorf("container JSON lacks %q: %v", k, c)
			}
		}
		if got["lastStatus"] != StatusRunning || got["service"] != "bags" {
			t.Errorf("task JSON = %v", got)
		}
	}
}

func TestLeftoverGrandchildIsKilled(t *testing.T) {
	t.Parallel()
	svc := ServiceConfig{
		Name: "worker", DesiredCount: 1, StopTimeout: 5 * time.Second,
		BackoffInitial: time.Minute, // no replacement during the test
		Containers:     []ContainerConfig{{Name: "main", Command: []string{"-mode=spawn"}, Env: containerEnv(), Essential: true}},
	}
	s := start(t, nil, svc)
	testutil.WaitFor(t, waitLong, "RUNNING", func() bool { return s.RunningCount("worker") == 1 })
	ts := s.Tasks()[0]
	var grandchild int
	gcRe := regexp.MustCompile(`grandchild=(\d+)`)
	testutil.WaitFor(t, waitLong, "grandchild pid in log", func() bool {
		m := gcRe.FindStringSubmatch(readLog(t, s, ts.TaskID, "main"))
		if m == nil {
			return false
		}
		_, err := fmt.Sscan(m[1], &grandchild)
		return err == nil
	})
	if processGone(grandchild) {
		t.Fatalf("grandchild %d not running", grandchild)
	}
	// Kill only the container's main process: its grandchild must not survive it.
	if err := syscall.Kill(containerOf(ts, "main").PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, waitLong, "task STOPPED", func() bool { return taskByID(t, s, ts.TaskID).LastStatus == StatusStopped })
	testutil.WaitFor(t, 5*time.Second, "grandchild gone", func() bool { return processGone(grandchild) })
}

// recordingRuntime wraps the process runtime and records task IDs in start order.
type recordingRuntime struct {
	mu  sync.Mutex
	ids []string
}

func (r *recordingRuntime) Start(spec ContainerSpec) (Process, error) {
	r.mu.Lock()
	r.ids = append(r.ids, spec.TaskID)
	r.mu.Unlock()
	return ProcessRuntime{}.Start(spec)
}

func (r *recordingRuntime) started() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ids)
}

func TestStoppedTaskHistoryAndLogsAreBounded(t *testing.T) {
	t.Parallel()
	svc := ServiceConfig{
		Name: "crashy", DesiredCount: 1,
		BackoffInitial: 10 * time.Millisecond, BackoffMax: 10 * time.Millisecond,
		Containers: []ContainerConfig{{Name: "main", Command: []string{"-mode=exit", "-code=1"}, Env: containerEnv(), Essential: true}},
	}
	rt := &recordingRuntime{}
	stateDir := t.TempDir()
	s, err := New(Config{StateDir: stateDir, Executable: executable(t), Subnet: testSubnet(),
		Services: []ServiceConfig{svc}, StoppedRetention: 2, Runtime: rt})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(context.Background()); err != nil {
			t.Error(err)
		}
		assertNoProcesses(t, s)
	})
	testutil.WaitFor(t, waitLong, "6 attempts", func() bool { return len(rt.started()) >= 6 })
	first := rt.started()[0]
	testutil.WaitFor(t, waitLong, "first task's logs removed", func() bool {
		_, err := os.Stat(filepath.Join(stateDir, "tasks", first))
		return os.IsNotExist(err)
	})
	if n := len(tasksWhere(s, func(ts TaskStatus) bool { return ts.LastStatus == StatusStopped })); n > 2 {
		t.Errorf("%d stopped tasks retained, want <= 2", n)
	}
}
