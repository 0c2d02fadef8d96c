package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

type ecsTask struct {
	TaskID        string `json:"taskId"`
	Service       string `json:"service"`
	LastStatus    string `json:"lastStatus"`
	DesiredStatus string `json:"desiredStatus"`
	IP            string `json:"ip"`
	Containers    []struct {
		Name       string `json:"name"`
		PID        int    `json:"pid"`
		LastStatus string `json:"lastStatus"`
		ExitCode   *int   `json:"exitCode"`
	} `json:"containers"`
	StoppedReason string `json:"stoppedReason"`
	StopCode      string `json:"stopCode"`
	DeploymentID  string `json:"deploymentId"`
}

// scaledBy reports whether the service stopped tk, in ECS's words: a
// scale-in or a deployment replacing it, "Scaling activity initiated by
// (deployment <its deployment>)", stop code ServiceSchedulerInitiated.
func (tk ecsTask) scaledBy() bool {
	return tk.StoppedReason == "Scaling activity initiated by (deployment "+tk.DeploymentID+")" &&
		tk.StopCode == "ServiceSchedulerInitiated"
}

// ecsTasks runs `portway tasks --json`.
func ecsTasks(t *testing.T, stateDir string) []ecsTask {
	t.Helper()
	out, errOut, err := runPortway(t, "tasks", "--json", "--state-dir", stateDir)
	if err != nil {
		t.Fatalf("portway tasks --json: %v: %s", err, errOut)
	}
	var v struct {
		Tasks []ecsTask `json:"tasks"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("portway tasks --json: %v\n%s", err, out)
	}
	return v.Tasks
}

func tasksOf(tasks []ecsTask, service, status string) []ecsTask {
	var out []ecsTask
	for _, tk := range tasks {
		if tk.Service == service && (status == "" || tk.LastStatus == status) {
			out = append(out, tk)
		}
	}
	return out
}

// waitTasks polls `portway tasks --json` until cond holds.
func waitTasks(t *testing.T, stateDir, what string, timeout time.Duration, cond func([]ecsTask) bool) []ecsTask {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		tasks := ecsTasks(t, stateDir)
		if cond(tasks) {
			return tasks
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; tasks: %+v", timeout, what, tasks)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func portway(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := runPortway(t, args...)
	if err != nil {
		t.Fatalf("portway %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// TestKilledEssentialContainerIsReplaced: kill -9 of a task's sidecar stops
// the task and the service is back at its desired count.
func TestKilledEssentialContainerIsReplaced(t *testing.T) {
	stateDir := t.TempDir()
	startUp(t, stateDir, "--config", writeConfig(t, testStack(30)))

	running := tasksOf(waitTasks(t, stateDir, "2 ingests RUNNING", 10*time.Second, func(ts []ecsTask) bool {
		return len(tasksOf(ts, "ingests", "RUNNING")) == 2
	}), "ingests", "RUNNING")
	victim := running[0]
	var nginxPID int
	for _, c := range victim.Containers {
		if c.Name == "nginx" {
			nginxPID = c.PID
		}
	}
	if nginxPID <= 0 {
		t.Fatalf("victim %+v has no nginx pid", victim)
	}
	if err := syscall.Kill(nginxPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	tasks := waitTasks(t, stateDir, "victim replaced and ingests back at 2 RUNNING", 30*time.Second, func(ts []ecsTask) bool {
		stopped := false
		for _, tk := range ts {
			if tk.TaskID == victim.TaskID && tk.LastStatus == "STOPPED" {
				stopped = true
			}
		}
		return stopped && len(tasksOf(ts, "ingests", "RUNNING")) == 2
	})
	for _, tk := range tasks {
		if tk.TaskID != victim.TaskID {
			continue
		}
		if tk.StoppedReason != "Essential container in task exited" || tk.StopCode != "EssentialContainerExited" {
			t.Errorf("stoppedReason, stopCode = %q, %q", tk.StoppedReason, tk.StopCode)
		}
		for _, c := range tk.Containers {
			if c.Name == "nginx" && (c.ExitCode == nil || *c.ExitCode != 137) {
				t.Errorf("nginx exit code = %v, want 137", c.ExitCode)
			}
			if !processGone(c.PID) {
				t.Errorf("container %s (pid %d) of the stopped task still runs", c.Name, c.PID)
			}
		}
	}
	for _, tk := range tasksOf(tasks, "ingests", "RUNNING") {
		if tk.TaskID == victim.TaskID {
			t.Error("the victim is still RUNNING")
		}
	}
	// The service's view agrees.
	st := serviceStatusOf(t, stateDir, "ingests")
	if st.DesiredCount != 2 || st.RunningCount != 2 {
		t.Errorf("services: %+v", st)
	}
}

type e2eService struct {
	Name         string `json:"name"`
	DesiredCount int    `json:"desiredCount"`
	RunningCount int    `json:"runningCount"`
	PendingCount int    `json:"pendingCount"`
	Deployments  []struct {
		ID           string `json:"id"`
		Status       string `json:"status"`
		DesiredCount int    `json:"desiredCount"`
		RunningCount int    `json:"runningCount"`
		RolloutState string `json:"rolloutState"`
	} `json:"deployments"`
}

func serviceStatusOf(t *testing.T, stateDir, name string) e2eService {
	t.Helper()
	var v struct {
		Services []e2eService `json:"services"`
	}
	out := portway(t, "services", "--json", "--state-dir", stateDir)
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("portway services --json: %v\n%s", err, out)
	}
	for _, s := range v.Services {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no service %s in %s", name, out)
	return e2eService{}
}

// TestServicesScale: `portway services scale ingests 3`, then 1.
func TestServicesScale(t *testing.T) {
	stateDir := t.TempDir()
	startUp(t, stateDir, "--config", writeConfig(t, testStack(31)))

	out := portway(t, "services", "scale", "ingests", "3", "--state-dir", stateDir)
	if !strings.Contains(out, "ingests: desired 3") {
		t.Errorf("scale output: %q", out)
	}
	waitTasks(t, stateDir, "3 ingests RUNNING", 30*time.Second, func(ts []ecsTask) bool {
		return len(tasksOf(ts, "ingests", "RUNNING")) == 3
	})
	if st := serviceStatusOf(t, stateDir, "ingests"); st.DesiredCount != 3 || st.RunningCount != 3 {
		t.Errorf("after scale 3: %+v", st)
	}
	targets := describeTargets(t, stateDir, "ingests")
	healthy := 0
	for _, th := range targets {
		if th.TargetHealth.State == "healthy" {
			healthy++
		}
	}
	if healthy != 3 {
		t.Errorf("ingests healthy targets = %d, want 3 (RUNNING means healthy): %+v", healthy, targets)
	}

	portway(t, "services", "scale", "ingests", "1", "--state-dir", stateDir)
	// Two tasks stop for the scaling. (A task that failed at start on a
	// loaded machine and was replaced, as ECS does, is STOPPED too, with
	// another reason: it is logged, not counted.)
	scaledDown := func(ts []ecsTask) (n int) {
		for _, tk := range tasksOf(ts, "ingests", "STOPPED") {
			if tk.scaledBy() {
				n++
			}
		}
		return n
	}
	tasks := waitTasks(t, stateDir, "1 ingests RUNNING, 2 stopped by scaling", 30*time.Second, func(ts []ecsTask) bool {
		return len(tasksOf(ts, "ingests", "RUNNING")) == 1 && scaledDown(ts) == 2
	})
	for _, tk := range tasksOf(tasks, "ingests", "STOPPED") {
		if !tk.scaledBy() {
			t.Logf("also stopped: task %s, %q", tk.TaskID, tk.StoppedReason)
		}
	}
	if st := serviceStatusOf(t, stateDir, "bags"); st.DesiredCount != 2 || st.RunningCount != 2 {
		t.Errorf("bags touched by scaling ingests: %+v", st)
	}

	// Errors are clear and exit non-zero.
	if _, errOut, err := runPortway(t, "services", "scale", "nope", "1", "--state-dir", stateDir); err == nil || !strings.Contains(errOut, "service not found") {
		t.Errorf("scale of an unknown service: %v %q", err, errOut)
	}
	if _, errOut, err := runPortway(t, "services", "scale", "ingests", "-1", "--state-dir", stateDir); err == nil {
		t.Errorf("scale to -1 accepted: %q", errOut)
	}
}

// TestRollingDeployUnderLoad: `portway services deploy ingests --wait`
// while one client reads an ingest and another creates ingests (requests
// with a body, which cannot be retried) through the gateway without
// pause: every request succeeds, the old tasks are stopped with reason
// "Deployment" and new ones are RUNNING.
func TestRollingDeployUnderLoad(t *testing.T) {
	stateDir := t.TempDir()
	startUp(t, stateDir, "--config", writeConfig(t, testStack(32)))

	client, ep := stackClient(t, stateDir)

	resp, err := client.Post(ep.APIURL+"/ingests", "application/json", strings.NewReader(ingestBody))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /ingests: %d", resp.StatusCode)
	}
	loc := resp.Header.Get("Location")

	// endpoints.json is written once the targets are healthy; the tasks
	// follow into RUNNING on their next look at their target.
	old := tasksOf(waitTasks(t, stateDir, "2 ingests RUNNING", 10*time.Second, func(ts []ecsTask) bool {
		return len(tasksOf(ts, "ingests", "RUNNING")) == 2
	}), "ingests", "RUNNING")

	// Bounded load: two clients, one request at a time each, until the
	// deployment is done (at most 20 s).
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	loadCtx, loadCancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer loadCancel()
	for i := 0; i < 2; i++ {
		post := i == 1
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-loadCtx.Done():
					return
				default:
				}
				req, _ := http.NewRequestWithContext(loadCtx, http.MethodGet, loc, nil)
				want := http.StatusOK
				if post {
					req, _ = http.NewRequestWithContext(loadCtx, http.MethodPost, ep.APIURL+"/ingests", strings.NewReader(ingestBody))
					req.Header.Set("Content-Type", "application/json")
					want = http.StatusCreated
				}
				resp, err := client.Do(req)
				if err != nil {
					if loadCtx.Err() != nil {
						return
					}
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != want {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%s: %d %s", req.Method, resp.StatusCode, body))
					continue
				}
				ok.Add(1)
			}
		}()
	}

	begin := time.Now()
	out, errOut, deployErr := runPortway(t, "services", "deploy", "ingests", "--wait", "--timeout", "20s", "--state-dir", stateDir)
	took := time.Since(begin)
	close(stop)
	wg.Wait()
	if deployErr != nil {
		t.Fatalf("portway services deploy: %v\n%s%s", deployErr, out, errOut)
	}
	if !strings.Contains(out, "completed") {
		t.Errorf("deploy --wait output: %q", out)
	}
	t.Logf("deployment took %v; %d requests succeeded, %d failed", took.Round(time.Millisecond), ok.Load(), failed.Load())
	if n := failed.Load(); n > 0 {
		t.Errorf("%d requests failed during the deployment; first: %v", n, firstErr.Load())
	}
	if ok.Load() < 10 {
		t.Errorf("only %d requests made: no real load", ok.Load())
	}

	tasks := waitTasks(t, stateDir, "old tasks STOPPED", 30*time.Second, func(ts []ecsTask) bool {
		return len(tasksOf(ts, "ingests", "STOPPED")) == 2
	})
	for _, o := range old {
		for _, tk := range tasks {
			if tk.TaskID != o.TaskID {
				continue
			}
			if tk.LastStatus != "STOPPED" || !tk.scaledBy() {
				t.Errorf("old task %s: %s %q %s, want STOPPED by the scaling of its deployment", tk.TaskID, tk.LastStatus, tk.StoppedReason, tk.StopCode)
			}
			for _, c := range tk.Containers {
				if !processGone(c.PID) {
					t.Errorf("old task's %s (pid %d) still runs", c.Name, c.PID)
				}
			}
		}
	}
	running := tasksOf(tasks, "ingests", "RUNNING")
	if len(running) != 2 {
		t.Fatalf("ingests RUNNING after deploy: %+v", running)
	}
	for _, r := range running {
		for _, o := range old {
			if r.TaskID == o.TaskID {
				t.Errorf("old task %s still RUNNING", o.TaskID)
			}
		}
	}
	st := serviceStatusOf(t, stateDir, "ingests")
	if len(st.Deployments) != 1 || st.Deployments[0].RolloutState != "COMPLETED" || st.RunningCount != 2 {
		t.Errorf("service after deploy: %+v", st)
	}
}
