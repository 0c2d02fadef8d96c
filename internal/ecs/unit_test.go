package ecs

import (
	"bytes"
	"context"
	"github.com/portway/portway/internal/testutil"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	ok := func() Config {
		return Config{
			StateDir: "/tmp/x", Subnet: "127.77.1.0/24", Registrar: &fakeRegistrar{},
			Services: []ServiceConfig{{
				Name: "bags", DesiredCount: 1, TargetGroup: "bags", ContainerName: "nginx", ContainerPort: 9000,
				ReadinessPath: "/management/healthcheck",
				Containers:    []ContainerConfig{{Name: "app", Essential: true}, {Name: "nginx", Essential: true, Env: []string{"A=b"}}},
			}},
		}
	}
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{"ok", func(*Config) {}, ""},
		{"no services", func(c *Config) { c.Services = nil }, ""},
		{"no state dir", func(c *Config) { c.StateDir = "" }, "stateDir: required"},
		{"no subnet", func(c *Config) { c.Subnet = "" }, "subnet: required"},
		{"bad subnet", func(c *Config) { c.Subnet = "127.77.1.0" }, "subnet:"},
		{"ipv6 subnet", func(c *Config) { c.Subnet = "::1/128" }, "subnet: must be an IPv4 prefix"},
		{"tiny subnet", func(c *Config) { c.Subnet = "127.77.1.0/31" }, "subnet: prefix /31"},
		{"no name", func(c *Config) { c.Services[0].Name = "" }, "services[0].name: required"},
		{"dup service", func(c *Config) { c.Services = append(c.Services, c.Services[0]) }, `services[1].name: duplicate service "bags"`},
		{"negative count", func(c *Config) { c.Services[0].DesiredCount = -1 }, "services[0].desiredCount: must be >= 0"},
		{"bad port", func(c *Config) { c.Services[0].ContainerPort = 70000 }, "services[0].containerPort: must be 0..65535"},
		{"tg without port", func(c *Config) { c.Services[0].ContainerPort = 0 }, "services[0].containerPort: required with targetGroup"},
		{"tg without registrar", func(c *Config) { c.Registrar = nil }, "registrar: required"},
		{"relative path", func(c *Config) { c.Services[0].ReadinessPath = "health" }, "services[0].readinessPath: must start with /"},
		{"negative stop timeout", func(c *Config) { c.Services[0].StopTimeout = -time.Second }, "services[0].stopTimeout: must be >= 0"},
		{"no containers", func(c *Config) { c.Services[0].Containers = nil }, "services[0].containers: at least one container required"},
		{"container no name", func(c *Config) { c.Services[0].Containers[0].Name = "" }, "services[0].containers[0].name: required"},
		{"container bad name", func(c *Config) { c.Services[0].Containers[0].Name = "../x" }, "services[0].containers[0].name:"},
		{"container dup", func(c *Config) { c.Services[0].Containers[1].Name = "app" }, `services[0].containers[1].name: duplicate container "app"`},
		{"no essential", func(c *Config) {
			c.Services[0].Containers[0].Essential = false
			c.Services[0].Containers[1].Essential = false
		}, "services[0].containers: at least one container must be essential"},
		{"bad env", func(c *Config) { c.Services[0].Containers[1].Env = []string{"NOEQUALS"} }, "services[0].containers[1].env[0]: must be KEY=VALUE"},
		{"unknown container name", func(c *Config) { c.Services[0].ContainerName = "web" }, `services[0].containerName: no container named "web"`},
		{"negative log cap", func(c *Config) { c.LogMaxBytes = -1 }, "logMaxBytes: must be >= 0"},
		{"negative grace", func(c *Config) { c.Services[0].HealthCheckGracePeriod = -time.Second }, "services[0].healthCheckGracePeriod: must be >= 0"},
		{"min healthy > 100", func(c *Config) { v := 101; c.Services[0].MinimumHealthyPercent = &v }, "services[0].minimumHealthyPercent: must be 0..100"},
		{"min healthy 0", func(c *Config) { v := 0; c.Services[0].MinimumHealthyPercent = &v }, ""},
		{"max percent < 100", func(c *Config) { c.Services[0].MaximumPercent = 50 }, "services[0].maximumPercent: must be 100..1000"},
		{"nginx engine", func(c *Config) { c.Services[0].Containers[1].Engine = EngineNginx }, ""},
		{"executable", func(c *Config) { c.Services[0].Containers[0].Executable = "/usr/bin/env" }, ""},
		{"executable with nginx", func(c *Config) {
			c.Services[0].Containers[1].Engine = EngineNginx
			c.Services[0].Containers[1].Executable = "/usr/bin/env"
		}, `services[0].containers[1].executable: not allowed with engine "nginx"`},
		{"negative container stop timeout", func(c *Config) { c.Services[0].Containers[0].StopTimeout = -time.Second },
			"services[0].containers[0].stopTimeout: must be >= 0"},
		{"port mappings", func(c *Config) {
			c.Services[0].Containers[0].PortMappings = []PortMapping{{ContainerPort: 9001}, {ContainerPort: 9001, Protocol: "udp"}}
			c.Services[0].Containers[1].PortMappings = []PortMapping{{ContainerPort: 9000, Protocol: "tcp"}}
		}, ""},
		{"port mapping 0", func(c *Config) {
			c.Services[0].Containers[1].PortMappings = []PortMapping{{ContainerPort: 9000}, {ContainerPort: 0}}
		}, "services[0].containers[1].portMappings[1].containerPort: must be 1..65535"},
		{"port mapping too big", func(c *Config) {
			c.Services[0].Containers[1].PortMappings = []PortMapping{{ContainerPort: 9000}, {ContainerPort: 65536}}
		}, "services[0].containers[1].portMappings[1].containerPort: must be 1..65535"},
		{"port mapping protocol", func(c *Config) {
			c.Services[0].Containers[1].PortMappings = []PortMapping{{ContainerPort: 9000, Protocol: "sctp"}}
		}, `services[0].containers[1].portMappings[0].protocol: "sctp" is not`},
		{"port mapped twice in a task", func(c *Config) {
			c.Services[0].Containers[0].PortMappings = []PortMapping{{ContainerPort: 9000}}
			c.Services[0].Containers[1].PortMappings = []PortMapping{{ContainerPort: 9000}}
		}, `services[0].containers[1].portMappings[0].containerPort: 9000/tcp is already mapped by container "app"`},
		{"service port not mapped", func(c *Config) {
			c.Services[0].Containers[1].PortMappings = []PortMapping{{ContainerPort: 9001}}
		}, `services[0].containerPort: 9000 is not a tcp port mapping of container "nginx"`},
		{"service port mapped by another container", func(c *Config) {
			c.Services[0].Containers[0].PortMappings = []PortMapping{{ContainerPort: 9000}}
		}, `services[0].containerPort: 9000 is a port mapping of container "app", not of containerName "nginx"`},
		{"service port mapped as udp only", func(c *Config) {
			c.Services[0].Containers[1].PortMappings = []PortMapping{{ContainerPort: 9000, Protocol: "udp"}}
		}, `services[0].containerPort: 9000 is not a tcp port mapping of container "nginx"`},
		{"service port without containerName", func(c *Config) {
			c.Services[0].ContainerName = ""
			c.Services[0].Containers[0].PortMappings = []PortMapping{{ContainerPort: 9001}}
		}, "services[0].containerPort: 9000 is not a tcp port mapping of any container"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok()
			tc.mutate(&cfg)
			err := cfg.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want containing %q", err, tc.wantErr)
			}
			if _, nerr := New(cfg); nerr == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}

func TestIPAM(t *testing.T) {
	a := newIPAM(netip.MustParsePrefix("127.77.1.0/24"))
	alloc := func() string {
		t.Helper()
		ip, err := a.allocate()
		if err != nil {
			t.Fatal(err)
		}
		return ip.String()
	}
	for _, want := range []string{"127.77.1.1", "127.77.1.2", "127.77.1.3"} {
		if got := alloc(); got != want {
			t.Fatalf("allocate = %s, want %s", got, want)
		}
	}
	a.release(netip.MustParseAddr("127.77.1.2"))
	if got := alloc(); got != "127.77.1.2" {
		t.Errorf("after release: %s, want the lowest free 127.77.1.2", got)
	}
	if got := alloc(); got != "127.77.1.4" {
		t.Errorf("next: %s, want 127.77.1.4", got)
	}

	small := newIPAM(netip.MustParsePrefix("127.88.0.5/30")) // masked to .4/30: hosts .5 and .6
	for _, want := range []string{"127.88.0.5", "127.88.0.6"} {
		ip, err := small.allocate()
		if err != nil || ip.String() != want {
			t.Fatalf("allocate = %v %v, want %s", ip, err, want)
		}
	}
	if _, err := small.allocate(); err == nil {
		t.Fatal("allocated past the subnet (broadcast address)")
	}
}

func TestBackoff(t *testing.T) {
	s := ServiceConfig{BackoffInitial: time.Second, BackoffMax: 30 * time.Second}
	for n, want := range []time.Duration{0, 1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second} {
		if got := s.backoff(n); got != want {
			t.Errorf("backoff(%d) = %v, want %v", n, got, want)
		}
	}
	if got := s.backoff(1000); got != 30*time.Second {
		t.Errorf("backoff(1000) = %v", got)
	}
	d := ServiceConfig{}.withDefaults()
	if d.StopTimeout != 30*time.Second || d.BackoffInitial != time.Second || d.BackoffMax != 30*time.Second {
		t.Errorf("defaults: %+v", d)
	}
}

func TestCappedLogRotates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	l, err := openCappedLog(path, 100)
	if err != nil {
		t.Fatal(err)
	}
	line := bytes.Repeat([]byte("x"), 39)
	line = append(line, '\n') // 40 bytes
	for i := 0; i < 5; i++ {  // 40, 80, [rotate] 40, 80, [rotate] 40
		if _, err := l.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	cur, _ := os.ReadFile(path)
	old, _ := os.ReadFile(path + ".1")
	if len(cur) != 40 || len(old) != 80 {
		t.Errorf("sizes: current %d, rotated %d; want 40 and 80", len(cur), len(old))
	}
	if _, err := l.Write(line); err == nil {
		t.Error("write after Close succeeded")
	}
	// Reopening appends and counts the existing size.
	l, err = openCappedLog(path, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, _ = l.Write(line)
	_, _ = l.Write(line) // 120 > 100: rotates
	if cur, _ := os.ReadFile(path); len(cur) != 40 {
		t.Errorf("after reopen: current %d bytes, want 40", len(cur))
	}
}

// envRuntime is a fakeRuntime that keeps each started container's
// environment.
type envRuntime struct {
	fakeRuntime
	mu   sync.Mutex
	envs [][]string
}

func (r *envRuntime) Start(spec ContainerSpec) (Process, error) {
	r.mu.Lock()
	r.envs = append(r.envs, spec.Env)
	r.mu.Unlock()
	return r.fakeRuntime.Start(spec)
}

func (r *envRuntime) started() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.envs)
}

// Config.ExtraEnv is read when a container starts, not when the
// supervisor is made, and its entries win over the container's own.
func TestExtraEnvIsReadAtContainerStart(t *testing.T) {
	t.Parallel()
	rt := &envRuntime{}
	var extra atomic.Pointer[[]string]
	set := func(env ...string) { extra.Store(&env) }
	set("LATE=at-new")
	svc := ServiceConfig{Name: "svc", DesiredCount: 1, StopTimeout: time.Second,
		Containers: []ContainerConfig{fakeContainer("main", "LATE=own", "MINE=x")}}
	s, err := New(Config{StateDir: t.TempDir(), Executable: executable(t), Subnet: testSubnet(),
		Services: []ServiceConfig{svc}, Runtime: rt, ExtraEnv: func() []string { return *extra.Load() }})
	if err != nil {
		t.Fatal(err)
	}
	set("LATE=at-start")
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	testutil.WaitFor(t, waitLong, "a container", func() bool { return len(rt.started()) > 0 })
	env := rt.started()[0]
	if envValue(env, "LATE") != "at-start" || envValue(env, "MINE") != "x" {
		t.Fatalf("LATE=%q MINE=%q", envValue(env, "LATE"), envValue(env, "MINE"))
	}
}
