package stack

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portway/portway/internal/ecs"
	"github.com/portway/portway/internal/nlb"
)

type fakeLB struct{}

func (fakeLB) TargetGroupNames() []string { return []string{"bags", "broken"} }
func (fakeLB) DescribeTargetHealth(group string) ([]nlb.TargetHealthDescription, error) {
	if group == "broken" {
		return nil, errors.New("no such group")
	}
	th := nlb.TargetHealthDescription{Target: nlb.Target{ID: "127.77.1.1", Port: 9000}, Connections: 7}
	th.TargetHealth.State = "healthy"
	// A failing target is listed with its reason and last check.
	bad := nlb.TargetHealthDescription{Target: nlb.Target{ID: "127.77.1.2", Port: 9000},
		TargetHealth:    nlb.TargetHealth{State: "unhealthy", Reason: nlb.ReasonFailedHealthChecks, Description: "Health checks failed with these codes: [500]"},
		LastHealthCheck: &nlb.HealthCheckResult{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Result: nlb.CheckBadStatus, StatusCode: 500, LatencyMillis: 1.5}}
	return []nlb.TargetHealthDescription{th, bad}, nil
}

type fakeServices struct{}

func (fakeServices) Services() []ecs.ServiceStatus {
	return []ecs.ServiceStatus{{Name: "bags", DesiredCount: 2, RunningCount: 1, LastFailure: "Essential container in task exited",
		Deployments: []ecs.DeploymentStatus{
			{ID: "ecs-svc/3000000000000000003", Status: "PRIMARY", DesiredCount: 2, RolloutState: "IN_PROGRESS",
				RolloutStateReason: "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1000000000000000001."},
			{ID: "ecs-svc/2000000000000000002", Status: "ACTIVE", FailedTasks: 3, RolloutState: "FAILED",
				RolloutStateReason: "ECS deployment circuit breaker: tasks failed to start."},
		},
		Events: []ecs.ServiceEvent{{Message: "(service bags) (deployment ecs-svc/2000000000000000002) deployment failed: tasks failed to start."}}}}
}

func (fakeServices) Tasks() []ecs.TaskStatus {
	code := 137
	return []ecs.TaskStatus{{TaskID: "abc123", Service: "bags", LastStatus: "STOPPED", IP: "127.77.1.2",
		Containers:    []ecs.ContainerStatus{{Name: "app", PID: 42, LastStatus: "STOPPED", ExitCode: &code}},
		StoppedReason: "Essential container in task exited <script>", StopCode: "EssentialContainerExited"}}
}

func TestConsole(t *testing.T) {
	h := consoleHandler(fakeLB{}, fakeServices{}, func() Endpoints { return Endpoints{APIURL: "http://127.0.0.1:8080/v1"} },
		slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(h)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{"http://127.0.0.1:8080/v1", "127.77.1.1:9000", ">healthy<", "<td>7</td>",
		"127.77.1.2:9000", ">unhealthy<", "Target.FailedHealthChecks Health checks failed with these codes: [500]",
		"bad_status (HTTP 500) in 1.5ms at 03:04:05.000",
		"abc123", "app (pid 42, STOPPED) exit 137", "Essential container in task exited &lt;script&gt;", "<td>bags</td><td>2</td><td>1</td>",
		"<code>EssentialContainerExited</code> Essential container",
		`ACTIVE ecs-svc/2000000000000000002 (0/0) <span class="FAILED">FAILED</span>, 3 failed tasks: ECS deployment circuit breaker: tasks failed to start.`,
		`PRIMARY ecs-svc/3000000000000000003 (0/2) <span class="IN_PROGRESS">IN_PROGRESS</span>: ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1000000000000000001.`,
		"(service bags) (deployment ecs-svc/2000000000000000002) deployment failed: tasks failed to start."} {
		if !strings.Contains(page, want) {
			t.Errorf("console page lacks %q", want)
		}
	}

	for path, code := range map[string]int{"/nope": http.StatusNotFound} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != code {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, code)
		}
	}
	resp, err = http.Post(srv.URL+"/", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /: %d Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}
