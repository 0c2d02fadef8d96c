package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/portway/portway/internal/ecs"
	"github.com/portway/portway/internal/stack"
	"github.com/portway/portway/internal/testutil"
)

// imageStack is testStack(n) serving one API of our own instead of the
// storage service: a service "hello" of 2 tasks, each the built-in
// sidecar (a host process on the task's address, :9000) in front of the
// image's app container (:9001 in the task's own network namespace,
// published on the task's address), behind the gateway's /{proxy+} with
// the scope hello/call.
func imageStack(n int, image string) stack.Config {
	cfg := testStack(n)
	cfg.Auth.ResourceServers = []stack.ResourceServerConfig{{Identifier: "hello", Scopes: []string{"call"}}}
	cfg.Auth.DefaultClient.Scopes = []string{"hello/call"}
	cfg.Gateway.Responses = "aws"
	cfg.Gateway.Domains = nil
	cfg.Gateway.StageVariables = map[string]string{"nlb_host": cfg.NLB.Address, "hello_port": "8000"}
	cfg.Gateway.Resources = []stack.ResourceConfig{{
		Path: "/{proxy+}",
		Methods: []stack.MethodConfig{{
			HTTPMethod: "ANY", Authorization: "COGNITO_USER_POOLS", Scopes: []string{"hello/call"},
			Integration: stack.IntegrationConfig{Type: "HTTP_PROXY", ConnectionType: "VPC_LINK",
				URI: "http://${stageVariables.nlb_host}:${stageVariables.hello_port}/{proxy}", Timeout: 29 * time.Second},
		}},
	}}
	tg := cfg.NLB.TargetGroups[0]
	tg.Name = "hello"
	tg.HealthCheck.Path = "/healthz"
	cfg.NLB.TargetGroups = []stack.TargetGroupConfig{tg}
	cfg.NLB.Listeners = []stack.ListenerConfig{{Port: 8000, TargetGroup: "hello"}}
	cfg.Services = []stack.ServiceConfig{{
		Name: "hello", DesiredCount: 2, TargetGroup: "hello",
		ContainerName: "nginx", ContainerPort: 9000, ReadinessPath: "/healthz", StopTimeout: 10 * time.Second,
		Containers: []stack.ContainerConfig{
			{Name: "nginx", Command: []string{"sidecar", "--listen", "${TASK_IP}:9000", "--upstream", "http://${TASK_IP}:9001"},
				PortMappings: []ecs.PortMapping{{ContainerPort: 9000}}},
			{Name: "app", Image: image,
				Environment:  []stack.KeyValue{{Name: "GREETING", Value: "hello from the task definition"}},
				PortMappings: []ecs.PortMapping{{ContainerPort: 9001, HostPort: 9001}},
				Memory:       128, CPU: 256,
				HealthCheck: &ecs.HealthCheck{Command: []string{"CMD", "/app", "healthcheck"},
					Interval: 2 * time.Second, Timeout: 2 * time.Second, Retries: 3}},
		},
	}}
	return cfg
}

// buildTestImage builds e2e/testdata/imageapp as a FROM-scratch image
// under a name of this test's own; it is removed when the test ends.
func buildTestImage(t *testing.T) string {
	t.Helper()
	testutil.RequireDocker(t)
	tag := fmt.Sprintf("portway-e2e/%s:%d", strings.ToLower(t.Name()), time.Now().UnixNano())
	testutil.BuildImage(t, "./testdata/imageapp", tag)
	return tag
}

// dockerPS lists the IDs of the containers with all the labels.
func dockerPS(t *testing.T, labels ...string) []string {
	t.Helper()
	args := []string{"ps", "-aq"}
	for _, l := range labels {
		args = append(args, "--filter", "label="+l)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker ps: %v: %s", err, out)
	}
	return strings.Fields(string(out))
}

// removeStackContainers removes what a failed test left behind.
func removeStackContainers(t *testing.T, stateDir string) {
	t.Cleanup(func() {
		ids := dockerPS(t, "io.portway.stack="+stateDir)
		if len(ids) > 0 {
			_ = exec.Command("docker", append([]string{"rm", "-f"}, ids...)...).Run()
		}
	})
}

// getBody GETs url with client and returns the body of a 200.
func getBody(t *testing.T, client *http.Client, url string) string {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	return string(body)
}

// TestImageServiceBehindGateway: a Dockerfile-built image as a service of
// 2 tasks behind the gateway. Both tasks' apps listen on :9001, each in
// its own network namespace, published on its task's address; the app
// sees only its definition's environment; a container killed with
// `docker kill` gets its task replaced; a rolling deploy under GET and
// POST load fails no request; `portway logs` shows the container's
// output; and no container is left once `up` exits.
func TestImageServiceBehindGateway(t *testing.T) {
	img := buildTestImage(t)
	// Canaries in the environment of `portway up`: no container may see them.
	t.Setenv("PORTWAY_E2E_CANARY", "leaked")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "canary-secret")
	stateDir := t.TempDir()
	removeStackContainers(t, stateDir)
	up := startUp(t, stateDir, "--config", writeConfig(t, imageStack(22, img)))
	client, ep := stackClient(t, stateDir)

	running := tasksOf(waitTasks(t, stateDir, "2 hello RUNNING", 30*time.Second, func(ts []ecsTask) bool {
		return len(tasksOf(ts, "hello", "RUNNING")) == 2
	}), "hello", "RUNNING")

	// Each task's app answers on its own address, same port.
	direct := &http.Client{Timeout: 5 * time.Second}
	for _, tk := range running {
		var who map[string]string
		getJSON(t, direct, "http://"+tk.IP+":9001/whoami", &who)
		if who["task"] != tk.TaskID {
			t.Errorf("%s:9001 answered for task %q, want %s", tk.IP, who["task"], tk.TaskID)
		}
	}

	// Through the gateway; and the environment is the definition's.
	var env map[string]string
	if err := json.Unmarshal([]byte(getBody(t, client, ep.APIURL+"/env")), &env); err != nil {
		t.Fatal(err)
	}
	if env["GREETING"] != "hello from the task definition" || env["PORTWAY_CONTAINER"] != "app" || env["PORTWAY_TASK_ID"] == "" {
		t.Errorf("the app's environment lacks its definition's variables: %v", env)
	}
	for k := range env {
		if k == "PORTWAY_E2E_CANARY" || strings.HasPrefix(k, "AWS_") || k == "PORTWAY_CALLBACK_DENY" {
			t.Errorf("the app sees %s from outside its definition", k)
		}
	}

	// The task metadata endpoint answers inside the task's namespace, on
	// its own loopback, with the task's document.
	if !strings.HasPrefix(env["ECS_CONTAINER_METADATA_URI_V4"], "http://127.0.0.1:") {
		t.Errorf("ECS_CONTAINER_METADATA_URI_V4 = %q, want one on the task's loopback", env["ECS_CONTAINER_METADATA_URI_V4"])
	}
	var meta struct {
		TaskARN    string
		Containers []struct {
			Name     string
			Networks []struct{ IPv4Addresses []string }
		}
	}
	getJSON(t, direct, "http://"+running[0].IP+":9001/metadata", &meta)
	if !strings.HasSuffix(meta.TaskARN, "/"+running[0].TaskID) || len(meta.Containers) == 0 ||
		len(meta.Containers[0].Networks) == 0 || len(meta.Containers[0].Networks[0].IPv4Addresses) == 0 ||
		meta.Containers[0].Networks[0].IPv4Addresses[0] != running[0].IP {
		t.Errorf("task metadata from inside the container: %+v", meta)
	}

	// The container's output is in the task log.
	logs := portway(t, "logs", "--state-dir", stateDir, running[0].TaskID, "app")
	if !strings.Contains(logs, "imageapp: listening on :9001") {
		t.Errorf("portway logs: %q", logs)
	}

	// docker kill of one app container: its task stops and is replaced.
	victim := running[0]
	ids := dockerPS(t, "io.portway.task="+victim.TaskID, "io.portway.container=app")
	if len(ids) != 1 {
		t.Fatalf("containers of the victim's app: %v", ids)
	}
	if out, err := exec.Command("docker", "kill", ids[0]).CombinedOutput(); err != nil {
		t.Fatalf("docker kill: %v %s", err, out)
	}
	tasks := waitTasks(t, stateDir, "the victim replaced and hello back at 2 RUNNING", 60*time.Second, func(ts []ecsTask) bool {
		stopped := false
		for _, tk := range ts {
			stopped = stopped || tk.TaskID == victim.TaskID && tk.LastStatus == "STOPPED"
		}
		return stopped && len(tasksOf(ts, "hello", "RUNNING")) == 2
	})
	for _, tk := range tasks {
		if tk.TaskID != victim.TaskID {
			continue
		}
		if tk.StopCode != "EssentialContainerExited" {
			t.Errorf("victim: stoppedReason %q, stopCode %q", tk.StoppedReason, tk.StopCode)
		}
		for _, c := range tk.Containers {
			if c.Name == "app" && (c.ExitCode == nil || *c.ExitCode != 137) {
				t.Errorf("app exit code = %v, want 137", c.ExitCode)
			}
		}
	}
	if left := dockerPS(t, "io.portway.task="+victim.TaskID); len(left) != 0 {
		t.Errorf("the stopped task's containers are left: %v", left)
	}

	rollingDeployUnderLoad(t, stateDir, client, ep.APIURL)

	up.stop(t)
	if left := dockerPS(t, "io.portway.stack="+stateDir); len(left) != 0 {
		t.Errorf("containers left after portway up exited: %v", left)
	}
}

// rollingDeployUnderLoad runs `portway services deploy hello` while two
// clients GET and POST through the gateway, and fails on any failed
// request.
func rollingDeployUnderLoad(t *testing.T, stateDir string, client *http.Client, api string) {
	t.Helper()
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		post := i == 1
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				payload := fmt.Sprintf("payload %d", n)
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, api+"/whoami", nil)
				if post {
					req, _ = http.NewRequestWithContext(ctx, http.MethodPost, api+"/echo", strings.NewReader(payload))
				}
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || post && string(body) != payload {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%s: %d %s", req.Method, resp.StatusCode, body))
					continue
				}
				ok.Add(1)
			}
		}()
	}
	out, errOut, err := runPortway(t, "services", "deploy", "hello", "--wait", "--timeout", "80s", "--state-dir", stateDir)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("portway services deploy: %v\n%s%s", err, out, errOut)
	}
	t.Logf("rolling deploy: %d requests succeeded, %d failed", ok.Load(), failed.Load())
	if n := failed.Load(); n > 0 {
		t.Errorf("%d requests failed during the deployment; first: %v", n, firstErr.Load())
	}
	if ok.Load() < 10 {
		t.Errorf("only %d requests made: no real load", ok.Load())
	}
}

// TestImageContainersAfterKill9: `portway up` killed with SIGKILL cannot
// remove its containers; its watchdog (`portway docker-reaper`) does. And
// when the watchdog is gone too, the next `up` of the same state dir
// removes them before it starts its own.
func TestImageContainersAfterKill9(t *testing.T) {
	img := buildTestImage(t)
	stateDir := t.TempDir()
	removeStackContainers(t, stateDir)
	cfg := writeConfig(t, imageStack(23, img))
	restart := func() *upProcess {
		t.Helper()
		// endpoints.json of a killed run would make startUp return at once.
		if err := os.Remove(filepath.Join(stateDir, stack.EndpointsFile)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		return startUp(t, stateDir, "--config", cfg)
	}
	kill9 := func(pid int) {
		t.Helper()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}

	// up killed: its watchdog removes the containers.
	up := restart()
	if n := len(dockerPS(t, "io.portway.stack="+stateDir)); n != 4 { // 2 tasks: app and pause each
		t.Fatalf("containers of the first run: %d, want 4", n)
	}
	kill9(up.cmd.Process.Pid)
	<-up.done
	testutil.WaitFor(t, 60*time.Second, "the watchdog removing the killed run's containers", func() bool {
		return len(dockerPS(t, "io.portway.stack="+stateDir)) == 0
	})

	// up and its watchdog killed: the containers stay, until the next up.
	up = restart()
	reaper := childWithArg(t, up.cmd.Process.Pid, "docker-reaper")
	first := dockerPS(t, "io.portway.stack="+stateDir)
	if len(first) != 4 {
		t.Fatalf("containers of the second run: %v, want 4", first)
	}
	kill9(reaper)
	kill9(up.cmd.Process.Pid)
	<-up.done
	if left := dockerPS(t, "io.portway.stack="+stateDir); len(left) != 4 {
		t.Fatalf("after kill -9 of up and its watchdog: containers %v, want the 4 of the killed run", left)
	}
	up = restart()
	now := dockerPS(t, "io.portway.stack="+stateDir)
	for _, id := range first {
		for _, n := range now {
			if n == id {
				t.Errorf("container %s of the killed run is still there", id)
			}
		}
	}
	if len(now) != 4 {
		t.Errorf("containers of the third run: %v, want 4", now)
	}
	up.stop(t)
	if left := dockerPS(t, "io.portway.stack="+stateDir); len(left) != 0 {
		t.Errorf("containers left after portway up exited: %v", left)
	}
}

// childWithArg is the pid of parent's child process whose command line has
// arg.
func childWithArg(t *testing.T, parent int, arg string) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces: cut after ")".
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(parent) {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.Contains(string(cmdline), "\x00"+arg+"\x00") {
			return pid
		}
	}
	t.Fatalf("no child of %d runs %s", parent, arg)
	return 0
}
