package console

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portway/portway/internal/ecs"
	"github.com/portway/portway/internal/livestats"
	"github.com/portway/portway/internal/nlb"
)

type fakeLB struct{}

func (fakeLB) TargetGroupNames() []string { return []string{"bags", "broken"} }
func (fakeLB) DescribeTargetHealth(group string) ([]nlb.TargetHealthDescription, error) {
	if group == "broken" {
		return nil, errors.New("no such group")
	}
	ok := nlb.TargetHealthDescription{Target: nlb.Target{ID: "127.77.1.1", Port: 9000}, Connections: 7, TargetHealth: nlb.TargetHealth{State: "healthy"}}
	bad := nlb.TargetHealthDescription{Target: nlb.Target{ID: "127.77.1.2", Port: 9000},
		TargetHealth:    nlb.TargetHealth{State: "unhealthy", Reason: nlb.ReasonFailedHealthChecks, Description: "Health checks failed with these codes: [500]"},
		LastHealthCheck: &nlb.HealthCheckResult{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Result: nlb.CheckBadStatus, StatusCode: 500, LatencyMillis: 1.5}}
	initial := nlb.TargetHealthDescription{Target: nlb.Target{ID: "127.77.1.3", Port: 9000},
		TargetHealth: nlb.TargetHealth{State: "initial", Reason: "Elb.RegistrationInProgress", Description: "Target registration is in progress"}}
	return []nlb.TargetHealthDescription{ok, bad, initial}, nil
}
func (fakeLB) DescribeListeners(string, []string) ([]nlb.ListenerDescription, error) {
	l := nlb.ListenerDescription{Port: 65534, Protocol: "TCP", Address: "127.77.0.10:65534"}
	l.DefaultActions = []nlb.Action{{Type: "forward", TargetGroupArn: "arn:bags"}}
	return []nlb.ListenerDescription{l}, nil
}
func (fakeLB) TargetGroupName(arn string) (string, error) {
	return strings.TrimPrefix(arn, "arn:"), nil
}

type fakeServices struct{}

func (fakeServices) Services() []ecs.ServiceStatus {
	return []ecs.ServiceStatus{{Name: "bags", DesiredCount: 2, RunningCount: 1,
		Deployments: []ecs.DeploymentStatus{{ID: "ecs-svc/2", Status: "PRIMARY", DesiredCount: 2, FailedTasks: 3, RolloutState: "IN_PROGRESS"}},
		Events:      make([]ecs.ServiceEvent, 20)}}
}

func (fakeServices) Tasks() []ecs.TaskStatus {
	return []ecs.TaskStatus{
		{TaskID: "old", Service: "bags", LastStatus: "STOPPED", IP: "127.77.1.2", CreatedAt: time.Unix(100, 0),
			Containers: []ecs.ContainerStatus{{Name: "app"}}, StoppedReason: "Task failed ELB health checks"},
		{TaskID: "t2", Service: "bags", LastStatus: "RUNNING", IP: "127.77.1.2", CreatedAt: time.Unix(200, 0),
			Containers: []ecs.ContainerStatus{{Name: "nginx"}, {Name: "app"}}},
		{TaskID: "t1", Service: "bags", LastStatus: "RUNNING", IP: "127.77.1.1", CreatedAt: time.Unix(50, 0),
			Containers: []ecs.ContainerStatus{{Name: "nginx"}, {Name: "app"}}},
	}
}

func newTestConsole(t *testing.T, stateDir string) (*httptest.Server, *livestats.Live) {
	t.Helper()
	now := time.Unix(1_800_000_000, 0)
	live := livestats.New(func() time.Time { return now })
	c, err := New(Config{
		LB: fakeLB{}, Services: fakeServices{}, Live: live, StateDir: stateDir,
		Routes: []Route{
			{Stage: "v1", Method: "ANY", Resource: "/bags/{proxy+}", Auth: "COGNITO_USER_POOLS", Integration: "http://127.77.0.10:65534/{proxy}"},
			{Stage: "v1", Method: "GET", Resource: "/idle", Auth: "NONE", Integration: "MOCK"},
		},
		Endpoints: func() Endpoints { return Endpoints{APIURL: "http://127.0.0.1:1/v1"} },
		Now:       func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return srv, live
}

func TestState(t *testing.T) {
	srv, live := newTestConsole(t, t.TempDir())
	live.Request(livestats.Request{Stage: "v1", Method: "GET", Resource: "/bags/{proxy+}", Status: 200, Duration: 3 * time.Millisecond, Client: "c1", AuthResult: "allow"})
	live.Request(livestats.Request{Stage: "v1", Method: "GET", Resource: "/bags/{proxy+}", Status: 401, AuthResult: "missing_token", Reason: "missing token"})
	live.TaskRequest("t2", 2*time.Millisecond, 500)

	resp, err := http.Get(srv.URL + StatePath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Security-Policy") != CSP || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", resp.Header)
	}
	var st State
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if len(st.Routes) != 2 || st.Routes[0].Method != "GET" || st.Routes[0].Stats.Requests != 2 ||
		st.Routes[0].Auth != "COGNITO_USER_POOLS" || st.Routes[0].Listener != "127.77.0.10:65534" ||
		st.Routes[1].Resource != "/idle" || st.Routes[1].Stats != nil {
		t.Errorf("routes: %+v", st.Routes)
	}
	if st.Totals.Requests != 2 || st.Totals.Errors4xx != 1 {
		t.Errorf("totals %+v", st.Totals)
	}
	if len(st.Clients) != 2 || st.Clients[0].Client != "" || st.Clients[0].Reason != "missing token" || st.Clients[1].Result != "allow" {
		t.Errorf("clients: %+v", st.Clients)
	}
	if len(st.Listeners) != 1 || st.Listeners[0].TargetGroup != "bags" {
		t.Errorf("listeners: %+v", st.Listeners)
	}
	if len(st.Groups) != 2 || st.Groups[1].Error == "" || len(st.Groups[0].Targets) != 3 {
		t.Fatalf("groups: %+v", st.Groups)
	}
	bad := st.Groups[0].Targets[1]
	// The failing target is the running task's (not the stopped one that
	// had its address before), with that task's last minute.
	if bad.State != "unhealthy" || bad.Description == "" || bad.LastCheck == nil || bad.LastCheck.StatusCode != 500 ||
		bad.Task != "t2" || bad.Stats == nil || bad.Stats.Errors5xx != 1 {
		t.Errorf("unhealthy target: %+v", bad)
	}
	if st.Groups[0].Targets[2].State != "initial" {
		t.Errorf("initial target not listed: %+v", st.Groups[0].Targets[2])
	}
	if len(st.Services) != 1 || len(st.Services[0].Events) != maxEvents {
		t.Errorf("services: %+v", st.Services)
	}
	if len(st.Tasks) != 3 || st.Tasks[0].TaskID != "t2" || st.Tasks[2].TaskID != "old" {
		t.Errorf("tasks: running first, newest first: %+v", st.Tasks)
	}
	if st.Endpoints.APIURL == "" || st.Window != 60 {
		t.Errorf("state: %+v", st)
	}
}

func TestPageAndAssets(t *testing.T) {
	srv, _ := newTestConsole(t, "")
	for _, c := range []struct {
		path, ctype, contains string
	}{
		{"/", "text/html", `src="/console/app.js"`},
		{"/console/app.js", "javascript", "textContent"},
		{"/console/app.css", "text/css", "prefers-color-scheme: dark"},
	} {
		resp, err := http.Get(srv.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), c.ctype) || !strings.Contains(string(body), c.contains) ||
			resp.Header.Get("Content-Security-Policy") != CSP {
			t.Errorf("GET %s: %d %v", c.path, resp.StatusCode, resp.Header)
		}
	}
	// The page has no inline script or style for the CSP to refuse, and
	// the script never writes markup.
	page, _ := uiFiles.ReadFile("ui/index.html")
	js, _ := uiFiles.ReadFile("ui/app.js")
	if strings.Contains(string(page), "<script>") || strings.Contains(string(page), "style=") || strings.Contains(string(page), "<style") {
		t.Error("index.html has inline script or style")
	}
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "http://", "https://"} {
		if strings.Contains(strings.ReplaceAll(string(js), `"http://www.w3.org/2000/svg"`, ""), bad) {
			t.Errorf("app.js uses %s", bad)
		}
	}
	for _, p := range []string{"/nope", "/console/nope.js", "/console/", "/console/api/"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, resp.StatusCode)
		}
	}
	resp, err := http.Post(srv.URL+StatePath, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestLogs(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "tasks", "t1"), 0o700); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("0123456789abcdef\n", MaxLogBytes/17+100) + "last line\n"
	if err := os.WriteFile(filepath.Join(dir, "tasks", "t1", "app.log"), []byte(long), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tasks", "t1", "nginx.log"), []byte("GET /\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, _ := newTestConsole(t, dir)
	get := func(q string) (int, string, http.Header) {
		resp, err := http.Get(srv.URL + LogsPath + "?" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	code, body, h := get("task=t1&container=app")
	if code != 200 || len(body) > MaxLogBytes || !strings.HasSuffix(body, "last line\n") || !strings.HasPrefix(body, "0123") ||
		h.Get("X-Log-Truncated") != "true" || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		t.Errorf("app log: %d, %d bytes, %v", code, len(body), h)
	}
	if code, body, _ := get("task=t1"); code != 200 || body != "GET /\n" {
		t.Errorf("first container's log: %d %q", code, body)
	}
	if code, body, _ := get("task=t2&container=app"); code != 200 || body != "" {
		t.Errorf("no log yet: %d %q", code, body)
	}
	for _, q := range []string{"task=../t1&container=app", "task=t1&container=../../etc/passwd", "task=nope", "task=t1&container=sidecar", ""} {
		if code, body, _ := get(q); code != http.StatusNotFound || !strings.Contains(body, "error") {
			t.Errorf("%s: %d %s, want 404", q, code, body)
		}
	}
}
