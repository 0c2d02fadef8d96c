package stack

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portway/portway/internal/ecs"
	"github.com/portway/portway/internal/testutil"
)

// imageServiceYAML replaces the built-in stack's bags service's app with an
// image container written as in an ECS task definition.
func imageStackYAML(t *testing.T, app string) string {
	t.Helper()
	data, err := Default().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	base := string(data)
	i := strings.Index(base, "      - name: app\n")
	j := strings.Index(base[i:], "  - name: ingests\n")
	if i < 0 || j < 0 {
		t.Fatalf("the built-in stack's YAML changed:\n%s", base)
	}
	// The sidecar declares its port too: with port mappings, the load
	// balanced port must be one of containerName's.
	head := strings.Replace(base[:i], "      - name: nginx\n", "      - name: nginx\n        portMappings: [{containerPort: 9000}]\n", 1)
	return head + app + base[i+j:]
}

const imageApp = `      - name: app
        image: example.com/team/hello:1.2
        entryPoint: ["/app", "--serve"]
        command: ["--port", "9001"]
        environment:
          - name: GREETING
            value: hello
        env: [MODE=local]
        portMappings:
          - containerPort: 9001
            hostPort: 9001
            protocol: tcp
        essential: true
        workingDirectory: /srv
        user: "1000:1000"
        readonlyRootFilesystem: true
        ulimits:
          - name: nofile
            softLimit: 1024
            hardLimit: 4096
        memory: 256
        memoryReservation: 128
        cpu: 512
        stopTimeout: 20s
        healthCheck:
          command: ["CMD-SHELL", "wget -qO- localhost:9001/healthz"]
          interval: 5s
        logConfiguration:
          logDriver: awslogs
          options:
            awslogs-group: /ecs/hello
`

func TestImageContainerYAML(t *testing.T) {
	cfg, err := Parse([]byte(imageStackYAML(t, imageApp)))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Storage.Store = "postgres://u:secret@127.0.0.1/db"
	ec := cfg.ECSComponent("/state", "/portway", noRegistrar{}, nil)
	var app ecs.ContainerConfig
	for _, c := range ec.Services[0].Containers {
		if c.Name == "app" {
			app = c
		}
	}
	if app.Image != "example.com/team/hello:1.2" || !slices.Equal(app.EntryPoint, []string{"/app", "--serve"}) ||
		!slices.Equal(app.Command, []string{"--port", "9001"}) || app.WorkingDirectory != "/srv" || app.User != "1000:1000" ||
		!app.ReadonlyRootFilesystem || app.Memory != 256 || app.MemoryReservation != 128 || app.CPU != 512 ||
		len(app.Ulimits) != 1 || app.Ulimits[0] != (ecs.Ulimit{Name: "nofile", SoftLimit: 1024, HardLimit: 4096}) ||
		len(app.PortMappings) != 1 || app.PortMappings[0].HostPort != 9001 || app.HealthCheck == nil || !app.Essential {
		t.Errorf("app = %+v", app)
	}
	// The image container gets its definition's variables, not the
	// storage apps' DSN.
	if !slices.Equal(app.Env, []string{"MODE=local", "GREETING=hello"}) {
		t.Errorf("env = %q", app.Env)
	}
	if w := cfg.Warnings(); !slices.ContainsFunc(w, func(s string) bool {
		return strings.HasPrefix(s, "services[0].containers[1].logConfiguration: ignored")
	}) {
		t.Errorf("warnings %q lack the ignored logConfiguration", w)
	}
	if cfg.imageField() != "services[0].containers[1].image" {
		t.Errorf("imageField = %q", cfg.imageField())
	}
	// It writes back as read.
	out, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"image: example.com/team/hello:1.2", "awslogs-group: /ecs/hello", "readonlyRootFilesystem: true", "hostPort: 9001"} {
		if !strings.Contains(string(out), s) {
			t.Errorf("marshalled config lacks %q", s)
		}
	}
}

func TestImageContainerYAMLErrors(t *testing.T) {
	for _, tc := range []struct{ old, new, want string }{
		{"        image: example.com/team/hello:1.2\n", "        image: example.com/team/hello:1.2\n        executable: /bin/true\n",
			"services[0].containers[1].executable: not allowed with image"},
		{"            hostPort: 9001\n", "            hostPort: 8080\n",
			"services[0].containers[1].portMappings[0].hostPort: must be omitted or equal containerPort (9001) in awsvpc mode, got 8080"},
		{"        memoryReservation: 128\n", "        memoryReservation: 512\n",
			"services[0].containers[1].memoryReservation: 512 MiB is above memory (256 MiB)"},
		{"        memory: 256\n", "        memory: 256MiB\n", `services[0].containers[1].memory: "256MiB" is not a whole number`},
		{"          - name: GREETING\n", "          - name: \"\"\n", "services[0].containers[1].environment[0].name"},
		{"        stopTimeout: 20s\n", "        stopTimeout: 20\n",
			"services[0].containers[1].stopTimeout: 20 is not a duration: a number needs a unit (write it like 20s, 500ms or 5m)"},
		{"          interval: 5s\n", "          interval: 5\n", "services[0].containers[1].healthCheck.interval: 5 is not a duration"},
		{"        entryPoint: [\"/app\", \"--serve\"]\n", "        entrypoint: [\"/app\"]\n",
			"services[0].containers[1].entrypoint: unknown field; did you mean entryPoint?"},
	} {
		y := imageStackYAML(t, imageApp)
		if !strings.Contains(y, tc.old) {
			t.Fatalf("no %q", tc.old)
		}
		_, err := Parse([]byte(strings.Replace(y, tc.old, tc.new, 1)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v, want %q", tc.new, err, tc.want)
		}
	}
	// Without command, executable or image a container has nothing to run.
	y := imageStackYAML(t, "      - name: app\n        essential: true\n")
	if _, err := Parse([]byte(y)); err == nil || !strings.Contains(err.Error(), "services[0].containers[1].command: must be set (or image, or executable)") {
		t.Errorf("err %v", err)
	}
}

// ownAddresses moves testConfig to the addresses of e2e testStack(26),
// which these tests may use (other helpers' tests use 127.76.0.10).
func ownAddresses(cfg Config) Config {
	cfg.NLB.Address = "127.77.152.10"
	cfg.Gateway.StageVariables["nlb_host"] = cfg.NLB.Address
	cfg.Tasks.Subnet = "127.77.153.0/24"
	return cfg
}

// A stack with an image container needs Docker: without one the start
// fails naming the field and where it looked.
func TestStartWithImagesNeedsDocker(t *testing.T) {
	cfg := ownAddresses(testConfig())
	cfg.Tasks.Docker.Host = "unix://" + t.TempDir() + "/no-docker.sock"
	cfg.Services[0].Containers[0] = ContainerConfig{Name: "web", Image: "example/web:1",
		PortMappings: []ecs.PortMapping{{ContainerPort: 9000}}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := Start(ctx, cfg, Options{StateDir: t.TempDir(), ReadyTimeout: 5 * time.Second})
	if err == nil {
		stopStack(t, st)
		t.Fatal("started")
	}
	if !strings.Contains(err.Error(), "services[0].containers[0].image needs Docker") || !strings.Contains(err.Error(), "no-docker.sock does not answer") {
		t.Errorf("err = %v", err)
	}
	if w := cfg.ImageWarnings(ctx); len(w) != 1 || !strings.HasPrefix(w[0], "services[0].containers[0].image: needs Docker") {
		t.Errorf("ImageWarnings = %q", w)
	}
}

// When the services do not get ready, the error says why their tasks
// failed.
func TestNotReadyNamesTheLastFailure(t *testing.T) {
	cfg := ownAddresses(testConfig())
	cfg.Services[0].Containers[0].Command = []string{"-listen", "not-an-address"} // exits at once
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := Start(ctx, cfg, Options{StateDir: t.TempDir(), Executable: exe, ReadyTimeout: 2 * time.Second})
	if err == nil {
		stopStack(t, st)
		t.Fatal("started")
	}
	if !strings.Contains(err.Error(), "last task failure: Essential container in task exited") {
		t.Errorf("err = %v", err)
	}
}

// `portway config check` says when Docker lacks an image.
func TestImageWarningsNameAMissingImage(t *testing.T) {
	testutil.RequireDocker(t)
	cfg := testConfig()
	cfg.Services[0].Containers[0] = ContainerConfig{Name: "web", Image: "portway-test/not-here:never"}
	w := cfg.ImageWarnings(context.Background())
	want := "services[0].containers[0].image: portway-test/not-here:never is not present in the Docker engine; `portway up` will try to pull it"
	if len(w) != 1 || w[0] != want {
		t.Errorf("ImageWarnings = %q, want %q", w, want)
	}
}
