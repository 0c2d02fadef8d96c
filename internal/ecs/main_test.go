package ecs

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestMain doubles as a tiny container when ECS_TEST_CONTAINER is set, so the
// supervisor tests spawn real processes: the test binary itself.
func TestMain(m *testing.M) {
	if os.Getenv("ECS_TEST_CONTAINER") != "" {
		os.Exit(testContainer(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// testContainer modes:
//
//	-mode=serve -listen=ADDR [-health=200]  HTTP server; /management/healthcheck answers -health
//	                                        (500 after POST /management/fail); / answers "task=ID"
//	-mode=sleep                             block until SIGTERM
//	-mode=exit -code=N                      exit at once
//	-mode=spawn                             start a -mode=sleep grandchild (same process group), then sleep
//	-mode=nginx-parent -listen=ADDR -dir=D  run nginx (engine nginx) as a container in its own PID namespace; print its pid; sleep
//
// -ignore-term makes SIGTERM a no-op (logged), so only SIGKILL stops it.
func testContainer(args []string) int {
	fs := flag.NewFlagSet("container", flag.ContinueOnError)
	mode := fs.String("mode", "serve", "serve|sleep|exit")
	listen := fs.String("listen", "", "address for -mode=serve")
	health := fs.Int("health", http.StatusOK, "healthcheck status")
	code := fs.Int("code", 0, "exit code for -mode=exit")
	ignoreTerm := fs.Bool("ignore-term", false, "ignore SIGTERM")
	dir := fs.String("dir", "", "task dir for -mode=nginx-parent")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fmt.Printf("container=%s task=%s ip=%s args=%q\n",
		os.Getenv("PORTWAY_CONTAINER"), os.Getenv("PORTWAY_TASK_ID"), os.Getenv("PORTWAY_TASK_IP"), args)
	fmt.Fprintf(os.Stderr, "EXTRA=%s\n", os.Getenv("EXTRA"))
	if *mode == "exit" {
		return *code
	}
	if *mode == "nginx-parent" {
		return nginxParent(*listen, *dir)
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	if *mode == "spawn" {
		gc := exec.Command(os.Args[0], "-mode=sleep")
		gc.Stdout, gc.Stderr = os.Stdout, os.Stderr
		if err := gc.Start(); err != nil {
			fmt.Println("spawn:", err)
			return 4
		}
		fmt.Printf("grandchild=%d\n", gc.Process.Pid)
	}
	var srv *http.Server
	if *mode == "serve" {
		mux := http.NewServeMux()
		var status atomic.Int64
		status.Store(int64(*health))
		mux.HandleFunc("/management/healthcheck", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(int(status.Load()))
		})
		// POST /management/fail makes the health check answer 500 from now on.
		mux.HandleFunc("POST /management/fail", func(w http.ResponseWriter, r *http.Request) {
			status.Store(http.StatusInternalServerError)
		})
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "task=%s\n", os.Getenv("PORTWAY_TASK_ID"))
		})
		srv = &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				fmt.Println("listen:", err)
				os.Exit(3)
			}
		}()
	}
	for range term {
		fmt.Println("got SIGTERM")
		if *ignoreTerm {
			fmt.Println("ignoring SIGTERM")
			continue
		}
		if srv != nil {
			srv.Close()
		}
		return 0
	}
	return 0
}

// ---- helpers ----------------------------------------------------------------

const (
	webPort  = 19000
	health   = "/management/healthcheck"
	waitLong = 20 * time.Second
)

// testSubnet picks a random /24 in 127.100-199.x.0 so parallel tests (and
// other packages' tests) do not share task addresses.
func testSubnet() string {
	return fmt.Sprintf("127.%d.%d.0/24", 100+rand.IntN(100), rand.IntN(256))
}

func containerEnv(extra ...string) []string {
	return append([]string{"ECS_TEST_CONTAINER=1"}, extra...)
}

func webContainer(name string, extra ...string) ContainerConfig {
	return ContainerConfig{
		Name:      name,
		Command:   append([]string{"-mode=serve", fmt.Sprintf("-listen=${TASK_IP}:%d", webPort)}, extra...),
		Env:       containerEnv("EXTRA=task-${TASK_ID}"),
		Essential: true,
	}
}

func sleepContainer(name string, extra ...string) ContainerConfig {
	return ContainerConfig{Name: name, Command: append([]string{"-mode=sleep"}, extra...), Env: containerEnv(), Essential: true}
}

// testService returns a one-service config: "app" (sleeping) then "nginx" (web).
func testService(name string, desired int) ServiceConfig {
	return ServiceConfig{
		Name: name, DesiredCount: desired, TargetGroup: name,
		ContainerName: "nginx", ContainerPort: webPort, ReadinessPath: health,
		StopTimeout:       5 * time.Second,
		ReadinessTimeout:  waitLong,
		ReadinessInterval: 20 * time.Millisecond,
		BackoffInitial:    20 * time.Millisecond,
		BackoffMax:        100 * time.Millisecond,
		Containers:        []ContainerConfig{sleepContainer("app"), webContainer("nginx")},
	}
}

func executable(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// start builds and starts a supervisor; cleanup stops it and checks that no
// container process is left.
func start(t *testing.T, reg Registrar, services ...ServiceConfig) *Supervisor {
	t.Helper()
	s, err := New(Config{
		StateDir:   t.TempDir(),
		Executable: executable(t),
		Subnet:     testSubnet(),
		Services:   services,
		Registrar:  reg,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
		assertNoProcesses(t, s)
	})
	return s
}

func allPIDs(s *Supervisor) []int {
	var pids []int
	for _, ts := range s.Tasks() {
		for _, c := range ts.Containers {
			if c.PID > 0 {
				pids = append(pids, c.PID)
			}
		}
	}
	return pids
}

func assertNoProcesses(t *testing.T, s *Supervisor) {
	t.Helper()
	for _, ts := range s.Tasks() {
		if ts.LastStatus != StatusStopped {
			t.Errorf("task %s is %s after Stop", ts.TaskID, ts.LastStatus)
		}
	}
	for _, pid := range allPIDs(s) {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process %d still exists after Stop (kill 0: %v)", pid, err)
		}
	}
}

func tasksWhere(s *Supervisor, pred func(TaskStatus) bool) []TaskStatus {
	var out []TaskStatus
	for _, ts := range s.Tasks() {
		if pred(ts) {
			out = append(out, ts)
		}
	}
	return out
}

func taskByID(t *testing.T, s *Supervisor, id string) TaskStatus {
	t.Helper()
	for _, ts := range s.Tasks() {
		if ts.TaskID == id {
			return ts
		}
	}
	t.Fatalf("task %s not found", id)
	return TaskStatus{}
}

func containerOf(ts TaskStatus, name string) ContainerStatus {
	for _, c := range ts.Containers {
		if c.Name == name {
			return c
		}
	}
	return ContainerStatus{}
}

func readLog(t *testing.T, s *Supervisor, taskID, container string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.cfg.StateDir, "tasks", taskID, container+".log"))
	if err != nil {
		t.Fatalf("container log: %v", err)
	}
	return string(b)
}

// checkHealth reports whether ip answers the readiness path with 200.
func checkHealth(ip string, port int) bool {
	c := http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(fmt.Sprintf("http://%s:%d%s", ip, port, health))
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// scaledBy is the stoppedReason ECS gives a task its service stopped
// (scale-in, or a deployment replacing it): the task's own deployment.
func scaledBy(ts TaskStatus) string {
	return "Scaling activity initiated by (deployment " + ts.DeploymentID + ")"
}

// elbReason is the stoppedReason of a task whose target failed the ELB
// health checks of group (a registrar that cannot tell the group's ARN).
func elbReason(group string) string {
	return "Task failed ELB health checks in (target-group " + group + ")"
}

// ---- fake registrar ---------------------------------------------------------

type regEvent struct {
	op, group, ip string
	port          int
	healthy       bool // target answered its readiness path at the time of the call
}

type fakeRegistrar struct {
	mu     sync.Mutex
	events []regEvent
	// deregisterHook, when set, runs inside Deregister (e.g. to block: drain).
	deregisterHook func(ctx context.Context, ip string) error
}

func (f *fakeRegistrar) record(op, group, ip string, port int) {
	ev := regEvent{op, group, ip, port, checkHealth(ip, port)}
	f.mu.Lock()
	f.events = append(f.events, ev)
	f.mu.Unlock()
}

func (f *fakeRegistrar) Register(ctx context.Context, group, ip string, port int) error {
	f.record("register", group, ip, port)
	return nil
}

func (f *fakeRegistrar) Deregister(ctx context.Context, group, ip string, port int) error {
	f.record("deregister", group, ip, port)
	f.mu.Lock()
	hook := f.deregisterHook
	f.mu.Unlock()
	if hook != nil {
		return hook(ctx, ip)
	}
	return nil
}

func (f *fakeRegistrar) list(op string) []regEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []regEvent
	for _, e := range f.events {
		if op == "" || e.op == op {
			out = append(out, e)
		}
	}
	return out
}

func (f *fakeRegistrar) opsFor(ip string) []string {
	var ops []string
	for _, e := range f.list("") {
		if e.ip == ip {
			ops = append(ops, e.op)
		}
	}
	return ops
}

// processGone reports whether pid no longer runs (absent, or a zombie
// waiting for init to reap it).
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return os.IsNotExist(err)
	}
	// "pid (comm) S ...": the state follows the last ')'.
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && (b[i+2] == 'Z' || b[i+2] == 'X')
}

// stateRegistrar is a fakeRegistrar that is also a TargetStateReader: a
// registered target is healthy when it answers its health check with 200.
type stateRegistrar struct {
	fakeRegistrar
}

func (f *stateRegistrar) TargetState(ctx context.Context, group, ip string, port int) (string, error) {
	registered := false
	for _, e := range f.list("") {
		if e.ip == ip && e.port == port {
			registered = e.op == "register"
		}
	}
	switch {
	case !registered:
		return TargetUnused, nil
	case checkHealth(ip, port):
		return TargetHealthy, nil
	default:
		return TargetUnhealthy, nil
	}
}

// nginxParent starts nginx the way the supervisor does, prints
// "nginx=PID", and blocks: a stand-in for portway in kill -9 tests.
func nginxParent(listen, dir string) int {
	repl := strings.NewReplacer()
	path, args, err := nginxCommand("p", dir, ContainerConfig{Name: "nginx", Engine: EngineNginx,
		Command: []string{"--listen", listen, "--upstream", "http://127.0.0.1:1"}}, repl)
	if err != nil {
		fmt.Println(err)
		return 4
	}
	p, err := ProcessRuntime{}.Start(ContainerSpec{Name: "nginx", Path: path, Args: args, Env: os.Environ(), Output: os.Stderr, OwnPIDNamespace: true})
	if err != nil {
		fmt.Println(err)
		return 4
	}
	fmt.Printf("nginx=%d\n", p.PID())
	select {}
}
