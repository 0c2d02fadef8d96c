package ecs

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portway/portway/internal/testutil"
)

func TestSecretsFromFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "extra"), []byte("s3cr3t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	svc := ServiceConfig{Name: "worker", DesiredCount: 1, StopTimeout: 5 * time.Second,
		Containers: []ContainerConfig{{Name: "main", Command: []string{"-mode=sleep"}, Env: containerEnv(), Essential: true,
			Secrets: []Secret{{Name: "EXTRA", ValueFrom: filepath.Join(dir, "extra")}}}}}
	s := start(t, nil, svc)
	testutil.WaitFor(t, waitLong, "RUNNING", func() bool { return s.RunningCount("worker") == 1 })
	ts := s.Tasks()[0]
	testutil.WaitFor(t, waitLong, "secret in the environment", func() bool {
		return strings.Contains(readLog(t, s, ts.TaskID, "main"), "EXTRA=s3cr3t\n")
	})
}

func TestMissingSecretStopsTask(t *testing.T) {
	t.Parallel()
	svc := ServiceConfig{Name: "worker", DesiredCount: 1, BackoffInitial: time.Minute,
		Containers: []ContainerConfig{{Name: "main", Command: []string{"-mode=sleep"}, Env: containerEnv(), Essential: true,
			Secrets: []Secret{{Name: "EXTRA", ValueFrom: "/nonexistent/secret"}}}}}
	s := start(t, nil, svc)
	testutil.WaitFor(t, waitLong, "task STOPPED", func() bool {
		ts := s.Tasks()
		return len(ts) == 1 && ts[0].LastStatus == StatusStopped
	})
	if r := s.Tasks()[0].StoppedReason; !strings.Contains(r, "unable to retrieve secret EXTRA") {
		t.Errorf("stoppedReason = %q", r)
	}
}

// TestContainerHealthCheckAndDependsOn: "app" starts only once "db" is
// HEALTHY; when db's check fails, the (essential) db turns UNHEALTHY and
// the task is stopped; app stops before db.
func TestContainerHealthCheckAndDependsOn(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	flag, counter := filepath.Join(dir, "ok"), filepath.Join(dir, "checks")
	rt := &signalRuntime{}
	rec := &recordingStarts{}
	svc := ServiceConfig{Name: "worker", DesiredCount: 1, StopTimeout: 5 * time.Second, BackoffInitial: time.Minute,
		Containers: []ContainerConfig{
			{Name: "app", Command: []string{"-mode=sleep"}, Env: containerEnv(), Essential: true,
				DependsOn: []Dependency{{ContainerName: "db", Condition: ConditionHealthy}}},
			{Name: "db", Command: []string{"-mode=sleep"}, Env: containerEnv(), Essential: true,
				HealthCheck: &HealthCheck{Command: []string{"CMD-SHELL", "echo >> " + counter + "; test -e " + flag},
					Interval: 20 * time.Millisecond, Retries: 2, StartPeriod: time.Minute}},
		}}
	s, err := New(Config{StateDir: t.TempDir(), Executable: executable(t), Subnet: testSubnet(),
		Services: []ServiceConfig{svc}, Runtime: rec.wrap(rt)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.Stop(context.Background())
		assertNoProcesses(t, s)
	})
	// Started as the supervisor reports it (the runtime's start comes a
	// moment before).
	testutil.WaitFor(t, waitLong, "db started", func() bool {
		tss := s.Tasks()
		return len(rec.names()) == 1 && len(tss) == 1 && containerOf(tss[0], "db").LastStatus == StatusRunning
	})
	ts := s.Tasks()[0]
	if c := containerOf(ts, "db"); c.HealthStatus != HealthUnknown {
		t.Errorf("db health = %q, want UNKNOWN", c.HealthStatus)
	}
	// Still waiting for db to be healthy after several failed checks: app
	// not started.
	testutil.WaitFor(t, waitLong, "3 failed health checks", func() bool {
		b, _ := os.ReadFile(counter)
		return strings.Count(string(b), "\n") >= 3
	})
	if got := rec.names(); !slices.Equal(got, []string{"db"}) {
		t.Fatalf("started %v before db was HEALTHY", got)
	}
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, waitLong, "RUNNING", func() bool { return s.RunningCount("worker") == 1 })
	if got := rec.names(); !slices.Equal(got, []string{"db", "app"}) {
		t.Errorf("start order %v, want [db app]", got)
	}
	if c := containerOf(s.Tasks()[0], "db"); c.HealthStatus != HealthHealthy {
		t.Errorf("db health = %q, want HEALTHY", c.HealthStatus)
	}

	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, waitLong, "task STOPPED", func() bool { return taskByID(t, s, ts.TaskID).LastStatus == StatusStopped })
	got := taskByID(t, s, ts.TaskID)
	if got.StoppedReason != ReasonHealthCheck || containerOf(got, "db").HealthStatus != HealthUnhealthy {
		t.Errorf("task %+v: want stopped by container health checks, db UNHEALTHY", got)
	}
	if sig := rt.list(); len(sig) < 2 || sig[0] != "app:terminated" || sig[1] != "db:terminated" {
		t.Errorf("signals %v: want app stopped before db (reverse dependency order)", sig)
	}
}

// recordingStarts records container names in start order.
type recordingStarts struct {
	recordingRuntime
	next Runtime
}

func (r *recordingStarts) wrap(next Runtime) *recordingStarts { r.next = next; return r }

func (r *recordingStarts) Start(spec ContainerSpec) (Process, error) {
	r.mu.Lock()
	r.ids = append(r.ids, spec.Name)
	r.mu.Unlock()
	return r.next.Start(spec)
}

func (r *recordingStarts) names() []string { return r.started() }

func TestDependencyValidation(t *testing.T) {
	hc := &HealthCheck{Command: []string{"CMD", "true"}}
	tests := []struct {
		name string
		cs   []ContainerConfig
		want string
	}{
		{"unknown", []ContainerConfig{{Name: "a", Essential: true, DependsOn: []Dependency{{ContainerName: "b"}}}}, `containers[0].dependsOn[0].containerName: no container named "b"`},
		{"self", []ContainerConfig{{Name: "a", Essential: true, DependsOn: []Dependency{{ContainerName: "a"}}}}, "cannot depend on itself"},
		{"condition", []ContainerConfig{{Name: "a", Essential: true, DependsOn: []Dependency{{ContainerName: "b", Condition: "COMPLETE"}}}, {Name: "b"}}, `"COMPLETE" is not START or HEALTHY`},
		{"healthy without check", []ContainerConfig{{Name: "a", Essential: true, DependsOn: []Dependency{{ContainerName: "b", Condition: ConditionHealthy}}}, {Name: "b"}}, `HEALTHY needs a healthCheck on container "b"`},
		{"cycle", []ContainerConfig{{Name: "a", Essential: true, DependsOn: []Dependency{{ContainerName: "b"}}}, {Name: "b", DependsOn: []Dependency{{ContainerName: "a"}}}}, "dependsOn has a cycle among a, b"},
		{"bad check", []ContainerConfig{{Name: "a", Essential: true, HealthCheck: &HealthCheck{Command: []string{"curl", "x"}}}}, `healthCheck.command[0]: "curl" is not CMD or CMD-SHELL`},
		{"short check", []ContainerConfig{{Name: "a", Essential: true, HealthCheck: &HealthCheck{Command: []string{"CMD"}}}}, "healthCheck.command: want"},
		{"secret", []ContainerConfig{{Name: "a", Essential: true, Secrets: []Secret{{Name: "A"}}}}, "secrets[0].valueFrom: required"},
		{"ok", []ContainerConfig{{Name: "a", Essential: true, DependsOn: []Dependency{{ContainerName: "b", Condition: ConditionHealthy}}}, {Name: "b", HealthCheck: hc}}, ""},
	}
	for _, tc := range tests {
		cfg := Config{StateDir: "/x", Subnet: "127.77.1.0/24", Services: []ServiceConfig{{Name: "s", Containers: tc.cs}}}
		err := cfg.Validate()
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	order, err := startOrder([]ContainerConfig{{Name: "nginx", DependsOn: []Dependency{{ContainerName: "app"}}}, {Name: "app"}, {Name: "log"}})
	if err != nil || !slices.Equal(order, []int{1, 0, 2}) {
		t.Errorf("startOrder = %v, %v; want [1 0 2]", order, err)
	}
}

// TestContainerExecutable: a container can run any program found on $PATH,
// with ${TASK_IP} in its arguments; a missing one fails Start, naming it.
func TestContainerExecutable(t *testing.T) {
	t.Parallel()
	svc := ServiceConfig{Name: "worker", DesiredCount: 1, StopTimeout: 5 * time.Second,
		Containers: []ContainerConfig{{Name: "sh", Executable: "sh", Essential: true,
			Command: []string{"-c", "echo started on ${TASK_IP} as $PORTWAY_CONTAINER; exec sleep 600"}}}}
	s := start(t, nil, svc)
	testutil.WaitFor(t, waitLong, "RUNNING", func() bool { return s.RunningCount("worker") == 1 })
	ts := s.Tasks()[0]
	testutil.WaitFor(t, waitLong, "output", func() bool {
		return strings.Contains(readLog(t, s, ts.TaskID, "sh"), "started on "+ts.IP+" as sh\n")
	})

	svc.Containers[0].Executable = "portway-no-such-program"
	bad, err := New(Config{StateDir: t.TempDir(), Executable: executable(t), Subnet: testSubnet(), Services: []ServiceConfig{svc}})
	if err != nil {
		t.Fatal(err)
	}
	err = bad.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "container sh: executable:") || !strings.Contains(err.Error(), "portway-no-such-program") {
		t.Fatalf("Start = %v, want an error naming the container and program", err)
	}
	_ = bad.Stop(context.Background())
}
