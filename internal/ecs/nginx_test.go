package ecs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portway/portway/internal/testutil"
)

var wantCORS = map[string]string{
	"Access-Control-Allow-Origin":      "*",
	"Access-Control-Allow-Methods":     "GET, POST, OPTIONS",
	"Access-Control-Allow-Headers":     "DNT,X-CustomHeader,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type",
	"Access-Control-Allow-Credentials": "true",
}

func TestParseNginxCommand(t *testing.T) {
	tests := []struct {
		cmd                   []string
		listen, upstream, err string
	}{
		{nil, DefaultNginxListen, DefaultNginxUpstream, ""},
		{[]string{"sidecar", "--listen", "${TASK_IP}:9000", "--upstream", "http://${TASK_IP}:9001"}, "${TASK_IP}:9000", "http://${TASK_IP}:9001", ""},
		{[]string{"--listen=127.0.0.1:80", "--upstream=http://localhost:8000/"}, "127.0.0.1:80", "http://localhost:8000/", ""},
		{[]string{"--listen"}, "", "", "--listen needs a value"},
		{[]string{"--timeout", "5s"}, "", "", `unknown flag "--timeout"`},
		// nginx with server_tokens off sends "Server: nginx", the built-in
		// sidecar's default; nothing else can be asked of it.
		{[]string{"--server-header", "nginx"}, DefaultNginxListen, DefaultNginxUpstream, ""},
		{[]string{"--server-header=nginx/1.25"}, "", "", `--server-header: nginx sends "nginx" only`},
		{[]string{"--server-header", ""}, "", "", `--server-header: nginx sends "nginx" only`},
		{[]string{"serve"}, "", "", `unexpected argument "serve"`},
		{[]string{"--listen", "localhost:9000"}, "", "", "must be IPv4:port"},
		{[]string{"--upstream", "https://${TASK_IP}:9001"}, "", "", "must be http://host:port"},
		{[]string{"--upstream", "http://${TASK_IP}:9001/app"}, "", "", "must be http://host:port"},
		{[]string{"--upstream", "http://a;b:9001"}, "", "", "must be http://host:port"},
	}
	for _, tc := range tests {
		spec, err := parseNginxCommand(tc.cmd)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err = %v, want %q", tc.cmd, err, tc.err)
			}
			continue
		}
		if err != nil || spec.Listen != tc.listen || spec.Upstream != tc.upstream {
			t.Errorf("%q = %+v, %v; want listen %s upstream %s", tc.cmd, spec, err, tc.listen, tc.upstream)
		}
	}
}

func TestRenderNginxConf(t *testing.T) {
	conf, err := renderNginxConf(nginxSpec{TaskID: "abc", Listen: "127.77.1.3:9000", Upstream: "http://127.77.1.3:9001", Dir: "/state/tasks/abc/nginx"})
	if err != nil {
		t.Fatal(err)
	}
	text := string(conf)
	for _, want := range []string{
		"daemon off;\n",
		"master_process on;\n",
		"worker_processes 1;\n",
		"pid /state/tasks/abc/nginx/nginx.pid;\n",
		"error_log stderr notice;\n",
		"access_log /dev/stdout;\n",
		"client_body_temp_path /state/tasks/abc/nginx/client_body_temp;\n",
		"proxy_temp_path /state/tasks/abc/nginx/proxy_temp;\n",
		"fastcgi_temp_path /state/tasks/abc/nginx/fastcgi_temp;\n",
		"uwsgi_temp_path /state/tasks/abc/nginx/uwsgi_temp;\n",
		"scgi_temp_path /state/tasks/abc/nginx/scgi_temp;\n",
		"listen 127.77.1.3:9000;\n",
		"proxy_pass http://127.77.1.3:9001;\n",
		"proxy_set_header Host $http_host;\n",
		"proxy_set_header X-Real-IP $remote_addr;\n",
		"proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n",
		"server_tokens off;\n", // Server: nginx, as the built-in sidecar
		`add_header Access-Control-Allow-Origin "*" always;`,
		`add_header Access-Control-Allow-Methods "GET, POST, OPTIONS" always;`,
		`add_header Access-Control-Allow-Headers "DNT,X-CustomHeader,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type" always;`,
		`add_header Access-Control-Allow-Credentials "true" always;`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("nginx.conf lacks %q:\n%s", want, text)
		}
	}
	// X-Forwarded-Proto/-Host/-Prefix pass through: never overridden.
	if strings.Contains(text, "proxy_set_header X-Forwarded-P") || strings.Contains(text, "proxy_set_header X-Forwarded-Host") {
		t.Errorf("nginx.conf overrides a pass-through header:\n%s", text)
	}
	if strings.Contains(text, "\nuser ") {
		t.Error("user directive without a User")
	}
	// Braces balance.
	if strings.Count(text, "{") != strings.Count(text, "}") {
		t.Errorf("unbalanced braces:\n%s", text)
	}

	conf, err = renderNginxConf(nginxSpec{Listen: "127.0.0.1:1", Upstream: "http://127.0.0.1:2", Dir: "/x", User: "root"})
	if err != nil || !strings.Contains(string(conf), "\nuser root;\n") {
		t.Errorf("with User: %v\n%s", err, conf)
	}
	if _, err := renderNginxConf(nginxSpec{Listen: "127.0.0.1:1", Upstream: "http://127.0.0.1:2", Dir: "/a dir;"}); err == nil {
		t.Error("a dir with a space and ';' was accepted")
	}
}

func requireNginx(t *testing.T) string {
	t.Helper()
	path, err := findNginx()
	if err != nil {
		t.Skip("nginx is not installed (apt-get install nginx); CI installs it. Skipping the real-nginx test.")
	}
	return path
}

func freePort(t *testing.T, ip string) int {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestRealNginxInFrontOfApp runs the system's nginx with the generated
// configuration in front of an httptest app on loopback.
func TestRealNginxInFrontOfApp(t *testing.T) {
	t.Parallel()
	requireNginx(t)

	type seen struct {
		Host, XRealIP, XFF, Proto, FwdHost, Prefix, URI string
	}
	var mu sync.Mutex
	var got []seen
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, seen{r.Host, r.Header.Get("X-Real-IP"), r.Header.Get("X-Forwarded-For"),
			r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Forwarded-Host"), r.Header.Get("X-Forwarded-Prefix"), r.RequestURI})
		mu.Unlock()
		if r.URL.Path == "/missing" {
			http.Error(w, `{"type":"Error"}`, http.StatusNotFound)
			return
		}
		fmt.Fprint(w, "hello from the app")
	}))
	t.Cleanup(app.Close)

	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t, "127.0.0.1"))
	taskDir := t.TempDir()
	repl := strings.NewReplacer("${TASK_IP}", "127.0.0.1")
	path, args, err := nginxCommand("t1", taskDir, ContainerConfig{Name: "nginx", Engine: EngineNginx,
		Command: []string{"sidecar", "--listen", listen, "--upstream", app.URL}}, repl)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	var outMu sync.Mutex
	proc, err := ProcessRuntime{}.Start(ContainerSpec{TaskID: "t1", Name: "nginx", Path: path, Args: args,
		Env: os.Environ(), Output: writerFunc(func(p []byte) (int, error) {
			outMu.Lock()
			defer outMu.Unlock()
			return out.Write(p)
		})})
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan int, 1)
	go func() { code, _ := proc.Wait(); exited <- code }()
	t.Cleanup(func() {
		_ = proc.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = proc.Signal(syscall.SIGKILL)
			<-exited
		}
	})
	logs := func() string { outMu.Lock(); defer outMu.Unlock(); return out.String() }

	client := &http.Client{Timeout: 5 * time.Second}
	testutil.WaitFor(t, waitLong, "nginx answering", func() bool {
		select {
		case code := <-exited:
			t.Fatalf("nginx exited with %d:\n%s", code, logs())
		default:
		}
		resp, err := client.Get("http://" + listen + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})

	req, _ := http.NewRequest(http.MethodGet, "http://"+listen+"/bags/digitised/b1%2F2?x=1", nil)
	req.Host = "api.example.org"
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("X-Forwarded-Host", "api.example.org")
	req.Header.Set("X-Forwarded-Prefix", "/storage/v1")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "hello from the app" {
		t.Fatalf("through nginx: %d %q", resp.StatusCode, body)
	}
	checkCORSHeaders(t, resp.Header)

	// CORS headers also on errors (`always`).
	resp, err = client.Get("http://" + listen + "/missing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/missing: %d", resp.StatusCode)
	}
	checkCORSHeaders(t, resp.Header)

	mu.Lock()
	first := got[len(got)-2]
	mu.Unlock()
	want := seen{Host: "api.example.org", XRealIP: "127.0.0.1", XFF: "203.0.113.7, 127.0.0.1",
		Proto: "https", FwdHost: "api.example.org", Prefix: "/storage/v1", URI: "/bags/digitised/b1%2F2?x=1"}
	if first != want {
		t.Errorf("the app saw %+v\nwant        %+v", first, want)
	}
	testutil.WaitFor(t, waitLong, "access log line on stdout", func() bool {
		return strings.Contains(logs(), `"GET /bags/digitised/b1%2F2?x=1 HTTP/1.1" 200`)
	})
	if _, err := os.Stat(filepath.Join(taskDir, "nginx", "nginx.pid")); err != nil {
		t.Errorf("pid file: %v", err)
	}
}

func checkCORSHeaders(t *testing.T, h http.Header) {
	t.Helper()
	for k, want := range wantCORS {
		if got := h.Values(k); len(got) != 1 || got[0] != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestNginxEngineTask runs a whole task with the nginx engine as its
// sidecar: readiness, registration and traffic go through real nginx.
func TestNginxEngineTask(t *testing.T) {
	t.Parallel()
	requireNginx(t)
	reg := &stateRegistrar{}
	svc := testService("bags", 1)
	svc.Containers = []ContainerConfig{
		{Name: "nginx", Engine: EngineNginx, Essential: true,
			Command: []string{"sidecar", "--listen", fmt.Sprintf("${TASK_IP}:%d", webPort), "--upstream", fmt.Sprintf("http://${TASK_IP}:%d", webPort+1)}},
		{Name: "app", Command: []string{"-mode=serve", fmt.Sprintf("-listen=${TASK_IP}:%d", webPort+1)}, Env: containerEnv(), Essential: true},
	}
	s := start(t, reg, svc)
	testutil.WaitFor(t, waitLong, "RUNNING through nginx", func() bool { return s.RunningCount("bags") == 1 })
	ts := s.Tasks()[0]

	resp, err := http.Get(fmt.Sprintf("http://%s:%d/", ts.IP, webPort))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "task="+ts.TaskID+"\n" {
		t.Errorf("body %q", body)
	}
	checkCORSHeaders(t, resp.Header)
	conf, err := os.ReadFile(filepath.Join(s.cfg.StateDir, "tasks", ts.TaskID, "nginx", "nginx.conf"))
	if err != nil || !strings.Contains(string(conf), fmt.Sprintf("listen %s:%d;", ts.IP, webPort)) {
		t.Errorf("generated config: %v\n%s", err, conf)
	}
	if c := containerOf(ts, "nginx"); c.PID <= 0 {
		t.Errorf("nginx container: %+v", c)
	}
	// The rest (SIGTERM on stop, no process left) is start's cleanup.
}

func TestNginxNotInstalled(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // also keeps this test from running in parallel
	saved := nginxFallbacks
	nginxFallbacks = []string{filepath.Join(t.TempDir(), "nginx")}
	t.Cleanup(func() { nginxFallbacks = saved })
	if _, err := findNginx(); err != ErrNginxNotInstalled {
		t.Fatalf("findNginx: err = %v, want ErrNginxNotInstalled", err)
	}
	s, err := New(Config{StateDir: t.TempDir(), Executable: executable(t), Subnet: testSubnet(),
		Services: []ServiceConfig{{Name: "x", DesiredCount: 1, Containers: []ContainerConfig{{Name: "nginx", Engine: EngineNginx, Essential: true}}}}})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "nginx is not installed (apt-get install nginx)") {
		t.Errorf("Start: %v", err)
	}
	_ = s.Stop(context.Background())
}

func TestEngineValidation(t *testing.T) {
	base := Config{StateDir: "/x", Subnet: "127.77.1.0/24", Services: []ServiceConfig{{Name: "a", DesiredCount: 1,
		Containers: []ContainerConfig{{Name: "c", Essential: true}}}}}
	for _, tc := range []struct {
		engine  string
		command []string
		want    string
	}{
		{"docker", nil, `services[0].containers[0].engine: "docker" is not one of`},
		{EngineNginx, []string{"--bogus", "1"}, `services[0].containers[0].command: engine nginx: unknown flag "--bogus"`},
	} {
		cfg := base
		cfg.Services = []ServiceConfig{base.Services[0]}
		cfg.Services[0].Containers = []ContainerConfig{{Name: "c", Essential: true, Engine: tc.engine, Command: tc.command}}
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("engine %q: err = %v, want %q", tc.engine, err, tc.want)
		}
	}
}
