package ecs

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	intutil "github.com/portway/portway/internal/testutil"
)

// detailRegistrar is a stateRegistrar that also tells why a target is
// unhealthy, as the stack's registrar does with the load balancer's words.
type detailRegistrar struct {
	stateRegistrar
}

const testTargetDetail = "unhealthy: Health checks failed with these codes: [500]; last check bad_status (HTTP 500) in 1ms"

func (f *detailRegistrar) TargetHealthDetail(ctx context.Context, group, ip string, port int) string {
	if st, _ := f.TargetState(ctx, group, ip, port); st == TargetUnhealthy {
		return testTargetDetail
	}
	return "healthy"
}

// TestMetricsAndFailedTargetDetail: a task failing its ELB health checks
// is replaced; the stopped task, its service event and the metrics tell.
func TestMetricsAndFailedTargetDetail(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	svc := testService("ingests", 1)
	svc.Containers = []ContainerConfig{webContainer("nginx")}
	svc.HealthCheckGracePeriod = 200 * time.Millisecond
	s, err := New(Config{StateDir: t.TempDir(), Executable: executable(t), Subnet: testSubnet(),
		Services: []ServiceConfig{svc}, Registrar: &detailRegistrar{}, Metrics: reg})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	intutil.WaitFor(t, waitLong, "RUNNING", func() bool { return s.RunningCount("ingests") == 1 })
	victim := s.Tasks()[0]
	failHealth(t, victim.IP)
	intutil.WaitFor(t, waitLong, "a healthy replacement", func() bool {
		return taskByID(t, s, victim.TaskID).LastStatus == StatusStopped && s.RunningCount("ingests") == 1
	})
	if got := taskByID(t, s, victim.TaskID); got.TargetHealth != testTargetDetail {
		t.Errorf("stopped task's targetHealth = %q", got.TargetHealth)
	}
	found := false
	for _, e := range s.Services()[0].Events {
		found = found || strings.Contains(e.Message, "(task "+victim.TaskID+") stopped: "+strings.TrimSuffix(elbReason("ingests"), ".")+
			" (target "+testTargetDetail+").")
	}
	if !found {
		t.Errorf("no service event names the target's health: %+v", s.Services()[0].Events)
	}

	want := `
# HELP portway_ecs_task_starts_total Tasks launched by a service.
# TYPE portway_ecs_task_starts_total counter
portway_ecs_task_starts_total{service="ingests"} 2
# HELP portway_ecs_task_stops_total Tasks stopped, by service and stop code (TaskFailedToStart, EssentialContainerExited, UserInitiated, ServiceSchedulerInitiated).
# TYPE portway_ecs_task_stops_total counter
portway_ecs_task_stops_total{reason="ServiceSchedulerInitiated",service="ingests"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "portway_ecs_task_starts_total", "portway_ecs_task_stops_total"); err != nil {
		t.Error(err)
	}
	tasks := `
# HELP portway_ecs_tasks Tasks of a service not yet STOPPED, by last status.
# TYPE portway_ecs_tasks gauge
portway_ecs_tasks{service="ingests",status="ACTIVATING"} 0
portway_ecs_tasks{service="ingests",status="DEACTIVATING"} 0
portway_ecs_tasks{service="ingests",status="PENDING"} 0
portway_ecs_tasks{service="ingests",status="PROVISIONING"} 0
portway_ecs_tasks{service="ingests",status="RUNNING"} 1
portway_ecs_tasks{service="ingests",status="STOPPING"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(tasks), "portway_ecs_tasks"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg, "portway_ecs_deployments"); err != nil || n != 3 {
		t.Errorf("deployment series: %d %v, want one per rollout state", n, err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("promlint: %v %+v", err, problems)
	}
}
