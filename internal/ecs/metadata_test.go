package ecs

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portway/portway/internal/awsid"
	"github.com/portway/portway/internal/taskmeta"
	"github.com/portway/portway/internal/testutil"
)

// TestContainerEnvIsClean: a container gets its definition's variables,
// the stack's extra ones, its secrets and portway's own, on a base of
// PATH/HOME/TMPDIR only: nothing else of portway's environment (the
// shell's AWS credentials) reaches it, nor its health check.
func TestContainerEnvIsClean(t *testing.T) {
	t.Setenv("AWS_SECRET_ACCESS_KEY", "canary")
	t.Setenv("PORTWAY_LEAK_CANARY", "canary")
	t.Setenv("PATH", "/canary/bin:/usr/bin:/bin")
	svc := ServiceConfig{Name: "svc", DesiredCount: 1, ContainerName: "app", ContainerPort: fakePort,
		Containers: []ContainerConfig{fakeContainer("app", "DEF=${TASK_IP}", fakeListen)}}
	h := newClockHarness(t, svc, TargetHealthy)
	id := h.first()
	ts := h.waitStatus(id, StatusRunning)
	env := h.rt.spec(t, id, "app").Env
	for _, e := range env {
		if strings.Contains(e, "canary") && !strings.HasPrefix(e, "PATH=") {
			t.Errorf("portway's environment leaked into the container: %s", e)
		}
	}
	for k, want := range map[string]string{
		"PATH": "/canary/bin:/usr/bin:/bin", "DEF": ts.IP,
		EnvTaskID: id, EnvTaskIP: ts.IP, EnvContainer: "app",
	} {
		if got := envValue(env, k); got != want {
			t.Errorf("%s=%q, want %q (env %q)", k, got, want, env)
		}
	}
	if v := envValue(env, EnvMetadataURIV4); !strings.HasPrefix(v, "http://127.0.0.1:") || !strings.Contains(v, "/v4/") {
		t.Errorf("%s=%q, want a loopback v4 URI", EnvMetadataURIV4, v)
	}
	if v := envValue(env, EnvMetadataURI); v != strings.Replace(envValue(env, EnvMetadataURIV4), "/v4/", "/v3/", 1) {
		t.Errorf("%s=%q", EnvMetadataURI, v)
	}
}

func TestTaskEnvPrecedence(t *testing.T) {
	repl := strings.NewReplacer("${TASK_IP}", "127.1.1.1", "${TASK_ID}", "abc")
	env := taskEnv(taskEnvInput{
		base: []string{"PATH=/bin", "HOME=/h"}, def: []string{"PATH=/def", "A=${TASK_ID}", "PORTWAY_TASK_ID=spoof"},
		extra: []string{"X=1"}, secrets: []string{"S=s"}, taskID: "abc", taskIP: "127.1.1.1", name: "app",
		metaURIV4: "http://127.0.0.1:1/v4/t", metaURIV3: "http://127.0.0.1:1/v3/t",
	}, repl)
	for k, want := range map[string]string{"PATH": "/def", "HOME": "/h", "A": "abc", "X": "1", "S": "s",
		EnvTaskID: "abc", EnvTaskIP: "127.1.1.1", EnvContainer: "app", EnvMetadataURIV4: "http://127.0.0.1:1/v4/t", EnvMetadataURI: "http://127.0.0.1:1/v3/t"} {
		if got := envValue(env, k); got != want {
			t.Errorf("%s=%q, want %q", k, got, want)
		}
	}
	env = taskEnv(taskEnvInput{taskID: "abc"}, repl)
	if slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, "ECS_CONTAINER_METADATA_URI") }) {
		t.Errorf("metadata URI without an endpoint: %q", env)
	}
}

func TestHostBaseEnv(t *testing.T) {
	t.Setenv("PATH", "")
	t.Setenv("HOME", "/home/x")
	t.Setenv("AWS_ACCESS_KEY_ID", "canary")
	env := HostBaseEnv()
	if envValue(env, "PATH") != DefaultPath || envValue(env, "HOME") != "/home/x" || envValue(env, "AWS_ACCESS_KEY_ID") != "" {
		t.Errorf("HostBaseEnv() = %q", env)
	}
}

func getMeta(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// TestTaskMetadata: each container's ECS_CONTAINER_METADATA_URI_V4 serves
// its own document and its task's (ARN, family, revision, containers, the
// task's address in Networks); a new task definition is revision 2; a
// stopped task's URI is gone.
func TestTaskMetadata(t *testing.T) {
	app := fakeContainer("app", fakeListen)
	app.PortMappings = []PortMapping{{ContainerPort: fakePort}}
	svc := ServiceConfig{Name: "svc", DesiredCount: 1, ContainerName: "app", ContainerPort: fakePort,
		Containers: []ContainerConfig{
			app,
			{Name: "side", Env: []string{"V=1"}, PortMappings: []PortMapping{{ContainerPort: 9000}}},
		}}
	h := newClockHarness(t, svc, TargetHealthy)
	id := h.first()
	ts := h.waitStatus(id, StatusRunning)
	uri := envValue(h.rt.spec(t, id, "side").Env, EnvMetadataURIV4)
	appURI := envValue(h.rt.spec(t, id, "app").Env, EnvMetadataURIV4)
	if uri == appURI {
		t.Fatalf("two containers share the URI %s", uri)
	}

	var c taskmeta.Container
	if code := getMeta(t, uri, &c); code != http.StatusOK {
		t.Fatalf("GET container metadata: %d", code)
	}
	if c.Name != "side" || c.KnownStatus != StatusRunning || c.DesiredStatus != StatusRunning ||
		c.ContainerARN != taskmeta.ContainerARN(awsid.DefaultRegion, id, c.DockerID) || !strings.HasPrefix(c.DockerID, id+"-") {
		t.Errorf("container metadata %+v", c)
	}
	if len(c.Networks) != 1 || c.Networks[0].NetworkMode != "awsvpc" || !slices.Equal(c.Networks[0].IPv4Addresses, []string{ts.IP}) {
		t.Errorf("networks %+v, want awsvpc with %s", c.Networks, ts.IP)
	}
	if len(c.Ports) != 1 || c.Ports[0] != (taskmeta.Port{ContainerPort: 9000, Protocol: "tcp", HostPort: 9000, HostIP: ts.IP}) {
		t.Errorf("ports %+v", c.Ports)
	}
	if c.Labels["com.amazonaws.ecs.task-arn"] != taskmeta.TaskARN(awsid.DefaultRegion, id) || c.Labels["com.amazonaws.ecs.task-definition-version"] != "1" {
		t.Errorf("labels %v", c.Labels)
	}

	var task taskmeta.Task
	if code := getMeta(t, appURI+"/task", &task); code != http.StatusOK {
		t.Fatalf("GET task metadata: %d", code)
	}
	if task.TaskARN != "arn:aws:ecs:eu-west-1:000000000000:task/portway/"+id || task.Family != "svc" || task.Revision != "1" ||
		task.Cluster != taskmeta.ClusterARN(awsid.DefaultRegion) || task.KnownStatus != StatusRunning || task.LaunchType != "FARGATE" ||
		len(task.Containers) != 2 || task.Containers[0].Name != "app" || task.Containers[1].Name != "side" {
		t.Errorf("task metadata %+v", task)
	}
	if code := getMeta(t, uri+"/task/stats", nil); code != http.StatusNotImplemented {
		t.Errorf("task stats: %d, want 501", code)
	}
	bad := uri[:len(uri)-1] + string("0123456789abcdef"[(strings.IndexByte("0123456789abcdef", uri[len(uri)-1])+1)%16])
	if code := getMeta(t, bad, nil); code != http.StatusNotFound {
		t.Errorf("a token one digit off: %d, want 404", code)
	}

	// A new task definition: revision 2, and the old task's URI is gone.
	next := svc
	app.Env = append(app.Env, "V=2")
	next.Containers = []ContainerConfig{app, svc.Containers[1]}
	if _, err := h.s.UpdateService(next); err != nil {
		t.Fatal(err)
	}
	var second string
	testutil.WaitFor(t, waitLong, "a task of revision 2", func() bool {
		for _, ts := range h.s.Tasks() {
			if ts.TaskID != id && ts.LastStatus == StatusRunning {
				second = ts.TaskID
				return true
			}
		}
		return false
	})
	if code := getMeta(t, envValue(h.rt.spec(t, second, "app").Env, EnvMetadataURIV4)+"/task", &task); code != http.StatusOK || task.Revision != "2" {
		t.Errorf("new task: %d, revision %q, want 2", code, task.Revision)
	}
	if got := h.s.Services()[0].Deployments[0].TaskDefinition; got != taskmeta.TaskDefinitionARN(awsid.DefaultRegion, "svc", 2) {
		t.Errorf("primary deployment's task definition %q", got)
	}
	h.clock.Advance(time.Minute) // the old task's draining
	testutil.WaitFor(t, waitLong, "the old task's URI gone", func() bool { return getMeta(t, appURI, nil) == http.StatusNotFound })
}
