package ecs

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portway/portway/internal/testutil"
)

// fakeImages is an ImageRuntime whose containers are fakeRuntime's; an
// image named "missing" cannot be pulled.
type fakeImages struct {
	rt *fakeRuntime

	mu       sync.Mutex
	tasks    []TaskSpec
	specs    []ContainerSpec
	closed   []string // task IDs
	execs    [][]string
	execCode int
}

func (f *fakeImages) CreateTask(ctx context.Context, spec TaskSpec) (TaskSandbox, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tasks = append(f.tasks, spec)
	if slices.Contains(spec.Images, "missing") {
		return nil, fmt.Errorf("%w: pull image missing: repository does not exist", ErrCannotPull)
	}
	return &fakeSandbox{f: f, task: spec.TaskID}, nil
}

func (f *fakeImages) createCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.tasks)
}

type fakeSandbox struct {
	f    *fakeImages
	task string
}

func (sb *fakeSandbox) Start(spec ContainerSpec) (Process, error) {
	sb.f.mu.Lock()
	sb.f.specs = append(sb.f.specs, spec)
	sb.f.mu.Unlock()
	p, err := sb.f.rt.Start(spec)
	if err != nil {
		return nil, err
	}
	return &fakeImageProc{Process: p, f: sb.f}, nil
}

func (sb *fakeSandbox) Close(ctx context.Context) error {
	sb.f.mu.Lock()
	defer sb.f.mu.Unlock()
	sb.f.closed = append(sb.f.closed, sb.task)
	return nil
}

type fakeImageProc struct {
	Process
	f *fakeImages
}

func (p *fakeImageProc) Exec(ctx context.Context, cmd []string) (int, string, error) {
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	p.f.execs = append(p.f.execs, cmd)
	return p.f.execCode, "exec output", nil
}

// TestImagePullFailureFakeClock: an image that cannot be pulled fails the
// task with CannotPullContainerError (TaskFailedToStart), the service says
// so in one event however often it retries, and the retries back off.
func TestImagePullFailureFakeClock(t *testing.T) {
	t.Parallel()
	imgs := &fakeImages{}
	h := newClockHarness(t, ServiceConfig{Name: "web", DesiredCount: 1, BackoffInitial: time.Second, BackoffMax: 4 * time.Second,
		Containers: []ContainerConfig{{Name: "app", Essential: true, Image: "missing"}}}, TargetHealthy,
		func(c *Config) { imgs.rt = c.Runtime.(*fakeRuntime); c.Images = imgs })
	for i, delay := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		n := i + 1
		testutil.WaitFor(t, waitLong, fmt.Sprintf("attempt %d STOPPED", n), func() bool {
			ts := h.s.Tasks()
			return len(ts) == n && ts[n-1].LastStatus == StatusStopped
		})
		ts := h.s.Tasks()[n-1]
		want := "CannotPullContainerError: pull image missing: repository does not exist"
		if ts.StoppedReason != want || ts.StopCode != StopCodeFailedToStart || ts.Containers[0].Reason != want {
			t.Fatalf("attempt %d: stoppedReason %q, stopCode %q, container reason %q", n, ts.StoppedReason, ts.StopCode, ts.Containers[0].Reason)
		}
		// No tight loop: nothing more until the back-off has passed.
		h.waitArmed(delay, fmt.Sprintf("back-off after attempt %d", n))
		if got := imgs.createCount(); got != n {
			t.Fatalf("attempt %d: %d pulls", n, got)
		}
		h.clock.Advance(delay)
	}
	testutil.WaitFor(t, waitLong, "attempt 4", func() bool { return imgs.createCount() == 4 })
	var pulls []string
	for _, m := range eventMessages(h.s.Services()[0]) {
		if strings.Contains(m, "CannotPullContainerError") {
			pulls = append(pulls, m)
		}
	}
	if len(pulls) != 1 || !strings.Contains(pulls[0], "repository does not exist") {
		t.Errorf("pull failure events %q, want exactly one", pulls)
	}
	if len(imgs.specs) != 0 {
		t.Errorf("containers started without their image: %+v", imgs.specs)
	}
}

// TestImageContainerFakeClock: an image task gets a sandbox with its
// images and the image containers' ports on the task's address; the
// image container's spec carries its definition; its environment is its
// definition's and portway's documented variables only (not portway's own
// environment, not ExtraEnv); its health check runs inside it (Exec); and
// the sandbox is closed once the task stopped.
func TestImageContainerFakeClock(t *testing.T) {
	t.Setenv("PORTWAY_TEST_CANARY", "leaked")
	imgs := &fakeImages{}
	h := newClockHarness(t, ServiceConfig{Name: "web", DesiredCount: 1,
		Containers: []ContainerConfig{
			{Name: "sidecar", Essential: true, Env: []string{"SIDE=1"}, PortMappings: []PortMapping{{ContainerPort: 9000}}},
			{Name: "app", Essential: true, Image: "example/app:1", EntryPoint: []string{"/app"}, Command: []string{"--ip", "${TASK_IP}"},
				Env: []string{"GREETING=hi"}, PortMappings: []PortMapping{{ContainerPort: 9001, HostPort: 9001}},
				User: "1000", WorkingDirectory: "/srv", ReadonlyRootFilesystem: true, Memory: 128, MemoryReservation: 64, CPU: 256,
				Ulimits:     []Ulimit{{Name: "nofile", SoftLimit: 1024, HardLimit: 2048}},
				HealthCheck: &HealthCheck{Command: []string{"CMD-SHELL", "wget -q localhost:9001"}, Interval: time.Second}},
		}}, TargetHealthy,
		func(c *Config) {
			imgs.rt = c.Runtime.(*fakeRuntime)
			c.Images = imgs
			c.ExtraEnv = func() []string { return []string{"PORTWAY_CALLBACK_DENY=127.0.0.1:1"} }
		})
	id := h.first()
	ts := h.waitStatus(id, StatusRunning)
	testutil.WaitFor(t, waitLong, "a health check exec", func() bool {
		imgs.mu.Lock()
		defer imgs.mu.Unlock()
		return len(imgs.execs) > 0
	})
	imgs.mu.Lock()
	task, spec, exec := imgs.tasks[0], imgs.specs[0], imgs.execs[0]
	imgs.mu.Unlock()
	if task.TaskID != id || task.IP.String() != ts.IP || !slices.Equal(task.Images, []string{"example/app:1"}) ||
		len(task.Ports) != 1 || task.Ports[0].ContainerPort != 9001 {
		t.Errorf("TaskSpec %+v", task)
	}
	is := spec.Image
	if spec.Name != "app" || is == nil || is.Image != "example/app:1" || !slices.Equal(is.EntryPoint, []string{"/app"}) ||
		!slices.Equal(is.Cmd, []string{"--ip", ts.IP}) || is.User != "1000" || is.WorkingDirectory != "/srv" ||
		!is.ReadonlyRootFilesystem || is.MemoryMiB != 128 || is.MemoryReservationMiB != 64 || is.CPUUnits != 256 ||
		len(is.Ulimits) != 1 || is.Service != "web" || is.StopTimeout != DefaultStopTimeout {
		t.Errorf("ContainerSpec %+v, image %+v", spec, is)
	}
	want := []string{"GREETING=hi", "PORTWAY_TASK_ID=" + id, "PORTWAY_TASK_IP=" + ts.IP, "PORTWAY_CONTAINER=app"}
	if !slices.Equal(spec.Env, want) {
		t.Errorf("env %q, want %q", spec.Env, want)
	}
	if !slices.Equal(exec, []string{"/bin/sh", "-c", "wget -q localhost:9001"}) {
		t.Errorf("health check exec %q", exec)
	}
	testutil.WaitFor(t, waitLong, "HEALTHY", func() bool {
		return containerOf(taskByID(t, h.s, id), "app").HealthStatus == HealthHealthy
	})
	if err := h.s.StopTask(id); err != nil {
		t.Fatal(err)
	}
	h.waitStatus(id, StatusStopped)
	imgs.mu.Lock()
	closed := slices.Clone(imgs.closed)
	imgs.mu.Unlock()
	if !slices.Equal(closed, []string{id}) {
		t.Errorf("sandboxes closed: %v, want the stopped task's", closed)
	}
}

func TestImageContainerValidation(t *testing.T) {
	base := func(c ContainerConfig) Config {
		c.Name, c.Essential = "app", true
		return Config{StateDir: "/x", Subnet: "127.0.0.0/24", Services: []ServiceConfig{{Name: "web", Containers: []ContainerConfig{c}}}}
	}
	for _, tc := range []struct {
		c    ContainerConfig
		want string
	}{
		{ContainerConfig{Image: "a", Executable: "/bin/true"}, "services[0].containers[0].executable: not allowed with image"},
		{ContainerConfig{Image: "a", Engine: EngineNginx}, "services[0].containers[0].engine: not allowed with image"},
		{ContainerConfig{Image: "a", PortMappings: []PortMapping{{ContainerPort: 9001, HostPort: 8080}}}, "portMappings[0].hostPort: must be omitted or equal containerPort (9001)"},
		{ContainerConfig{Image: "a", Memory: 64, MemoryReservation: 128}, "memoryReservation: 128 MiB is above memory (64 MiB)"},
		{ContainerConfig{Image: "a", Ulimits: []Ulimit{{Name: "files", SoftLimit: 1, HardLimit: 1}}}, "ulimits[0].name: \"files\" is not one of"},
		{ContainerConfig{Image: "a", Ulimits: []Ulimit{{Name: "nofile", SoftLimit: 2, HardLimit: 1}}}, "ulimits[0].softLimit: 2 is above hardLimit 1"},
		{ContainerConfig{Image: "a", CPU: -1}, "cpu: must be 0.."},
		{ContainerConfig{EntryPoint: []string{"/x"}}, "entryPoint: only with image"},
		{ContainerConfig{Memory: 64}, "only with image"},
	} {
		err := base(tc.c).Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err %v, want %q", tc.c, err, tc.want)
		}
	}
	if err := base(ContainerConfig{Image: "a", PortMappings: []PortMapping{{ContainerPort: 9001, HostPort: 9001}}, Memory: 64, MemoryReservation: 32}).Validate(); err != nil {
		t.Errorf("valid: %v", err)
	}
}

func TestImageServiceNeedsARuntime(t *testing.T) {
	s, err := New(Config{StateDir: t.TempDir(), Executable: executable(t), Subnet: testSubnet(),
		Services: []ServiceConfig{{Name: "web", Containers: []ContainerConfig{{Name: "app", Essential: true, Image: "a"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "need a container runtime (Docker)") {
		t.Errorf("Start: %v", err)
	}

}
