package e2e

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// buildProbe builds e2e/testdata/metaprobe, a host-executable task
// container that reports its environment and its task metadata.
func buildProbe(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "metaprobe")
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/metaprobe").CombinedOutput(); err != nil {
		t.Fatalf("build metaprobe: %v\n%s", err, out)
	}
	return bin
}

type probeReport struct {
	Env       []string `json:"env"`
	Container struct {
		Name     string
		DockerId string
		Networks []struct {
			NetworkMode   string
			IPv4Addresses []string
		}
	} `json:"container"`
	Task struct {
		TaskARN    string
		Family     string
		Revision   string
		Containers []struct{ Name string }
	} `json:"task"`
}

// TestTaskMetadataAndCleanEnv: a task container (a host executable) reads
// its ECS_CONTAINER_METADATA_URI_V4 and finds its task's ARN, its address
// in Networks and its task's containers; and the credentials in the
// environment of `portway up` do not reach it.
func TestTaskMetadataAndCleanEnv(t *testing.T) {
	probe := buildProbe(t)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "canary-secret")
	t.Setenv("PORTWAY_E2E_CANARY", "canary")

	cfg := testStack(5)
	found := false
	for i := range cfg.Services {
		sv := &cfg.Services[i]
		if sv.Name != "ingests" {
			continue
		}
		found = true
		sv.DesiredCount = 1
		for j := range sv.Containers {
			if sv.Containers[j].Name == "app" {
				sv.Containers[j].Executable = probe
				sv.Containers[j].Command = []string{"-listen", "${TASK_IP}:9001"}
				sv.Containers[j].Env = []string{"DEFINED=yes"}
			}
		}
	}
	if !found {
		t.Fatal("the built-in stack has no ingests service")
	}
	stateDir := t.TempDir()
	up := startUp(t, stateDir, "--config", writeConfig(t, cfg))

	tasks := waitTasks(t, stateDir, "an ingests task RUNNING", 60*time.Second, func(ts []ecsTask) bool {
		return len(tasksOf(ts, "ingests", "RUNNING")) == 1
	})
	tk := tasksOf(tasks, "ingests", "RUNNING")[0]
	client := &http.Client{Timeout: 10 * time.Second}
	var rep probeReport
	if resp := getJSON(t, client, "http://"+tk.IP+":9001/probe", &rep); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /probe: %s", resp.Status)
	}

	if want := "arn:aws:ecs:eu-west-1:000000000000:task/portway/" + tk.TaskID; rep.Task.TaskARN != want {
		t.Errorf("TaskARN %q, want %q", rep.Task.TaskARN, want)
	}
	if rep.Task.Family != "ingests" || rep.Task.Revision != "1" {
		t.Errorf("family %q revision %q, want ingests 1", rep.Task.Family, rep.Task.Revision)
	}
	var names []string
	for _, c := range rep.Task.Containers {
		names = append(names, c.Name)
	}
	if !slices.Equal(names, []string{"nginx", "app"}) {
		t.Errorf("task containers %q, want [nginx app]", names)
	}
	if rep.Container.Name != "app" || len(rep.Container.Networks) != 1 || rep.Container.Networks[0].NetworkMode != "awsvpc" ||
		!slices.Equal(rep.Container.Networks[0].IPv4Addresses, []string{tk.IP}) {
		t.Errorf("container metadata %+v, want app on awsvpc %s", rep.Container, tk.IP)
	}

	env := map[string]string{}
	for _, e := range rep.Env {
		k, v, _ := strings.Cut(e, "=")
		env[k] = v
		if strings.Contains(v, "canary") {
			t.Errorf("the environment of portway up leaked into the task: %s", e)
		}
	}
	for _, k := range []string{"PATH", "PORTWAY_TASK_ID", "PORTWAY_TASK_IP", "PORTWAY_CONTAINER",
		"ECS_CONTAINER_METADATA_URI_V4", "PORTWAY_CALLBACK_ALLOW", "PORTWAY_CALLBACK_DENY", "DEFINED"} {
		if _, ok := env[k]; !ok {
			t.Errorf("task environment lacks %s: %q", k, rep.Env)
		}
	}
	if env["PORTWAY_TASK_ID"] != tk.TaskID || env["PORTWAY_TASK_IP"] != tk.IP {
		t.Errorf("PORTWAY_TASK_ID/IP %q %q, want %q %q", env["PORTWAY_TASK_ID"], env["PORTWAY_TASK_IP"], tk.TaskID, tk.IP)
	}
	b, _ := json.Marshal(rep.Env)
	t.Logf("task environment: %s", b)
	up.stop(t)
}
