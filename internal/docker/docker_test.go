package docker

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/portway/portway/internal/ecs"
	"github.com/portway/portway/internal/testutil"
)

func TestPauseELFIsAStaticExecutable(t *testing.T) {
	for arch, machine := range map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64} {
		b, err := pauseELF(arch)
		if err != nil {
			t.Fatal(err)
		}
		f, err := elf.NewFile(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", arch, err)
		}
		if f.Machine != machine || f.Type != elf.ET_EXEC || f.Class != elf.ELFCLASS64 {
			t.Errorf("%s: machine %v type %v class %v", arch, f.Machine, f.Type, f.Class)
		}
		if len(f.Progs) != 1 || f.Progs[0].Type != elf.PT_LOAD || f.Progs[0].Flags != elf.PF_R|elf.PF_X {
			t.Fatalf("%s: program headers %+v", arch, f.Progs)
		}
		p := f.Progs[0]
		if f.Entry < p.Vaddr || f.Entry >= p.Vaddr+p.Filesz || p.Filesz != uint64(len(b)) {
			t.Errorf("%s: entry %#x outside the loaded %#x+%d", arch, f.Entry, p.Vaddr, p.Filesz)
		}
	}
	if _, err := pauseELF("mips"); err == nil {
		t.Error("mips: no error")
	}
}

func TestReadJSONStreamReportsTheError(t *testing.T) {
	in := `{"status":"Pulling"}` + "\n" + `{"errorDetail":{"message":"pull access denied"},"error":"pull access denied"}`
	if err := readJSONStream(strings.NewReader(in), io.Discard); err == nil || err.Error() != "pull access denied" {
		t.Errorf("err = %v", err)
	}
	if err := readJSONStream(strings.NewReader(`{"status":"done"}`), io.Discard); err != nil {
		t.Errorf("err = %v", err)
	}
}

// The component tests' task addresses: testStack(27)'s task subnet,
// assigned to these tests.
const testSubnet = "127.77.155."

// testImage builds the e2e test app's image once per test binary.
func testImage(t *testing.T) string {
	t.Helper()
	testutil.RequireDocker(t)
	tag := fmt.Sprintf("portway-test/dockerpkg-app:%d", time.Now().UnixNano())
	testutil.BuildImage(t, "../../e2e/testdata/imageapp", tag)
	return tag
}

func newTestEngine(t *testing.T, stateDir string) *Engine {
	t.Helper()
	e, err := New(Config{StateDir: stateDir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop(context.Background()) })
	return e
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func get(url string) (string, error) {
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	return string(b), err
}

func (e *Engine) countContainers(t *testing.T) int {
	t.Helper()
	list, err := e.cli.ContainerList(context.Background(), container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", LabelStack+"="+e.cfg.StateDir))})
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

// Two tasks of one image: each has its own network namespace, so both
// apps bind :9001, published on their task's own address; each sees only
// the environment it was given; output reaches the log writer; exec runs
// inside; SIGTERM stops one gracefully, SIGKILL the other with 137; and
// nothing is left after Close.
func TestTwoTasksShareAContainerPort(t *testing.T) {
	img := testImage(t)
	e := newTestEngine(t, t.TempDir())
	ctx := context.Background()
	type run struct {
		sb   ecs.TaskSandbox
		proc ecs.Process
		out  *syncBuf
		ip   string
	}
	var runs []run
	for i, id := range []string{"task0aaaaaaaaaaaaaaaaaaaaaaaaaaa", "task1bbbbbbbbbbbbbbbbbbbbbbbbbbb"} {
		ip := fmt.Sprintf("%s%d", testSubnet, 201+i)
		sb, err := e.CreateTask(ctx, ecs.TaskSpec{TaskID: id, Service: "web", IP: netip.MustParseAddr(ip),
			Images: []string{img}, Ports: []ecs.PortMapping{{ContainerPort: 9001}}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sb.Close(context.Background()) })
		out := &syncBuf{}
		proc, err := sb.Start(ecs.ContainerSpec{TaskID: id, Name: "app", Output: out,
			Env:   []string{"PORTWAY_TASK_ID=" + id, "GREETING=hello"},
			Image: &ecs.ImageSpec{Service: "web", Image: img, StopTimeout: 10 * time.Second, MemoryMiB: 64, CPUUnits: 256}})
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, run{sb, proc, out, ip})
	}
	for _, r := range runs {
		url := "http://" + r.ip + ":9001/"
		testutil.WaitFor(t, 30*time.Second, url, func() bool { _, err := get(url); return err == nil })
		body, _ := get(url)
		if !strings.Contains(body, r.sb.(*sandbox).spec.TaskID) {
			t.Errorf("%s answered %s", url, body)
		}
		env, err := get("http://" + r.ip + ":9001/env")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(env, `"GREETING":"hello"`) || strings.Contains(env, "HOME\":\"/root") {
			t.Errorf("env = %s", env)
		}
		code, out, err := r.proc.(ecs.Execer).Exec(ctx, []string{"/app", "healthcheck"})
		if err != nil || code != 0 {
			t.Errorf("exec healthcheck: %d %q %v", code, out, err)
		}
		code, _, err = r.proc.(ecs.Execer).Exec(ctx, []string{"/nope"})
		if err == nil && code == 0 {
			t.Error("exec of a missing program succeeded")
		}
	}
	if r := runs[0]; r.proc.PID() <= 0 || r.sb.(*sandbox).PID() <= 0 {
		t.Errorf("pids %d %d", r.proc.PID(), r.sb.(*sandbox).PID())
	}

	if err := runs[0].proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, err := runs[0].proc.Wait(); code != 0 || err != nil {
		t.Errorf("after SIGTERM: exit %d, %v", code, err)
	}
	if out := runs[0].out.String(); !strings.Contains(out, "listening on :9001") || !strings.Contains(out, "got terminated") {
		t.Errorf("output %q", out)
	}
	if err := runs[0].proc.Signal(syscall.SIGTERM); !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("signal after exit: %v", err)
	}
	if err := runs[1].proc.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code, _ := runs[1].proc.Wait(); code != 137 {
		t.Errorf("after SIGKILL: exit %d, want 137", code)
	}
	for _, r := range runs {
		if err := r.sb.Close(ctx); err != nil {
			t.Error(err)
		}
	}
	if n := e.countContainers(t); n != 0 {
		t.Errorf("%d containers left", n)
	}
}

func TestMissingImageIsCannotPull(t *testing.T) {
	testutil.RequireDocker(t)
	e := newTestEngine(t, t.TempDir())
	_, err := e.CreateTask(context.Background(), ecs.TaskSpec{TaskID: "x", Service: "web", IP: netip.MustParseAddr(testSubnet + "210"),
		Images: []string{"portway-test/does-not-exist:nope"}})
	if !errors.Is(err, ecs.ErrCannotPull) || !strings.HasPrefix(err.Error(), "CannotPullContainerError: ") {
		t.Fatalf("err = %v", err)
	}
	if n := e.countContainers(t); n != 0 {
		t.Errorf("%d containers left", n)
	}
}

// A stack that died without stopping (kill -9) leaves its containers; the
// next Start of the same state dir removes them, and Stop removes all.
func TestStartRemovesLeftoversAndStopRemovesAll(t *testing.T) {
	img := testImage(t)
	dir := t.TempDir()
	e := newTestEngine(t, dir)
	sb, err := e.CreateTask(context.Background(), ecs.TaskSpec{TaskID: "leftover", Service: "web", IP: netip.MustParseAddr(testSubnet + "211"),
		Images: []string{img}, Ports: []ecs.PortMapping{{ContainerPort: 9001}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Start(ecs.ContainerSpec{TaskID: "leftover", Name: "app", Image: &ecs.ImageSpec{Service: "web", Image: img}}); err != nil {
		t.Fatal(err)
	}
	if n := e.countContainers(t); n != 2 {
		t.Fatalf("%d containers, want app and pause", n)
	}
	// Another engine of the same state dir: as `portway up` after a crash.
	e2 := newTestEngine(t, dir)
	if n := e2.countContainers(t); n != 0 {
		t.Errorf("after a restart: %d containers left", n)
	}
	sb2, err := e2.CreateTask(context.Background(), ecs.TaskSpec{TaskID: "other", Service: "web", IP: netip.MustParseAddr(testSubnet + "211"),
		Images: []string{img}, Ports: []ecs.PortMapping{{ContainerPort: 9001}}})
	if err != nil {
		t.Fatalf("the address is free again: %v", err)
	}
	_ = sb2
	if err := e2.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := e.countContainers(t); n != 0 {
		t.Errorf("after Stop: %d containers left", n)
	}

}

// A sidecar image in the task, as a user's own nginx would be: it listens
// on :9000 and proxies to localhost:9001, the app container of the same
// task, both published on the task's address.
func TestContainersOfATaskShareLocalhost(t *testing.T) {
	img := testImage(t)
	e := newTestEngine(t, t.TempDir())
	ip := testSubnet + "220"
	sb, err := e.CreateTask(context.Background(), ecs.TaskSpec{TaskID: "shared", Service: "web", IP: netip.MustParseAddr(ip),
		Images: []string{img}, Ports: []ecs.PortMapping{{ContainerPort: 9000}, {ContainerPort: 9001}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close(context.Background()) })
	var front ecs.Process
	frontOut := &syncBuf{}
	for _, c := range []struct{ name, listen, upstream string }{{"app", ":9001", ""}, {"nginx", ":9000", "http://localhost:9001"}} {
		env := []string{"LISTEN=" + c.listen, "PORTWAY_TASK_ID=shared"}
		if c.upstream != "" {
			env = append(env, "UPSTREAM="+c.upstream)
		}
		// The front's stop signal is SIGINT (as nginx's image says
		// STOPSIGNAL SIGQUIT): the supervisor's SIGTERM becomes it.
		p, err := sb.Start(ecs.ContainerSpec{TaskID: "shared", Name: c.name, Env: env, Output: frontOut,
			Image: &ecs.ImageSpec{Service: "web", Image: img, StopSignal: syscall.SIGINT}})
		if err != nil {
			t.Fatal(err)
		}
		front = p
	}
	url := "http://" + ip + ":9000/through"
	testutil.WaitFor(t, 30*time.Second, url, func() bool { _, err := get(url); return err == nil })
	if body, _ := get(url); !strings.Contains(body, `"path":"/through"`) || !strings.Contains(body, `"task":"shared"`) {
		t.Errorf("through the sidecar: %s", body)
	}
	if err := front.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, err := front.Wait(); code != 0 || err != nil || !strings.Contains(frontOut.String(), "got interrupt") {
		t.Errorf("stopped with its stop signal: exit %d, %v, output %q", code, err, frontOut.String())
	}
}

// A listener portway opens inside a task's network namespace (as for a
// metadata endpoint) is reached by the task's containers on localhost.
func TestListenInTaskNamespace(t *testing.T) {
	img := testImage(t)
	if os.Geteuid() != 0 {
		t.Skip("entering a network namespace needs root")
	}
	e := newTestEngine(t, t.TempDir())
	ip := testSubnet + "221"
	sb, err := e.CreateTask(context.Background(), ecs.TaskSpec{TaskID: "ns", Service: "web", IP: netip.MustParseAddr(ip),
		Images: []string{img}, Ports: []ecs.PortMapping{{ContainerPort: 9000}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close(context.Background()) })
	ln, err := sb.(interface {
		Listen(network, addr string) (net.Listener, error)
	}).Listen("tcp", "127.0.0.1:9003")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "from portway") })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	// Not in portway's own namespace.
	if c, err := net.DialTimeout("tcp", "127.0.0.1:9003", time.Second); err == nil {
		c.Close()
		t.Log("something else listens on 127.0.0.1:9003 here; not conclusive")
	}
	if _, err := sb.Start(ecs.ContainerSpec{TaskID: "ns", Name: "proxy", Env: []string{"LISTEN=:9000", "UPSTREAM=http://127.0.0.1:9003"},
		Image: &ecs.ImageSpec{Service: "web", Image: img}}); err != nil {
		t.Fatal(err)
	}
	url := "http://" + ip + ":9000/"
	testutil.WaitFor(t, 30*time.Second, url, func() bool { _, err := get(url); return err == nil })
	if body, _ := get(url); body != "from portway" {
		t.Errorf("the container reached %q", body)
	}
}
