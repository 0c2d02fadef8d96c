package stack

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portway/portway/internal/awsapi"
	"github.com/portway/portway/internal/controlauth"
)

// TestMain doubles as a tiny task container when
// PORTWAY_STACK_TEST_CONTAINER is set, so the stack tests run real tasks
// without the portway binary: an HTTP server on -listen whose health check
// answers 200, until SIGTERM.
func TestMain(m *testing.M) {
	if os.Getenv("PORTWAY_STACK_TEST_CONTAINER") != "" {
		os.Exit(testContainer(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func testContainer(args []string) int {
	fs := flag.NewFlagSet("container", flag.ContinueOnError)
	listen := fs.String("listen", "", "address to serve on")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	srv := &http.Server{Addr: *listen, ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })}
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Println("listen:", err)
			os.Exit(3)
		}
	}()
	<-term
	srv.Close()
	return 0
}

// testConfig is a small stack on addresses of its own (127.76.0.0/16, used
// by no other package's tests) and free ports: one service "bags" of one
// task, the test binary as its only container.
func testConfig() Config {
	cfg := Default()
	cfg.Gateway.Listen = "127.0.0.1:0"
	cfg.Auth.Listen = "127.0.0.1:0"
	cfg.Control.Listen = "127.0.0.1:0"
	cfg.NLB.Address = "127.76.0.10"
	cfg.Gateway.StageVariables["nlb_host"] = cfg.NLB.Address
	cfg.Tasks.Subnet = "127.76.1.0/24"
	cfg.Services = []ServiceConfig{{
		Name: "bags", DesiredCount: 1, TargetGroup: "bags", ContainerName: "web", ContainerPort: 9000,
		ReadinessPath: "/management/healthcheck", StopTimeout: 5 * time.Second,
		Containers: []ContainerConfig{{Name: "web", Command: []string{"-listen", "${TASK_IP}:9000"},
			Env: []string{"PORTWAY_STACK_TEST_CONTAINER=1"}}},
	}}
	return cfg
}

// startTestStack runs testConfig until the test ends.
func startTestStack(t *testing.T) *Stack {
	t.Helper()
	return startTestStackIn(t, t.TempDir())
}

func startTestStackIn(t *testing.T, stateDir string) *Stack {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The block is left to Start, among 127.76.40.0/23 … 127.76.58.0/23:
	// the tests of another checkout may run at the same moment.
	cfg := testConfig()
	cfg.UnsetBlock()
	cfg.Gateway.StageVariables["nlb_host"] = DefaultNLBAddress // follows the block
	var blocks []Block
	for i := range 10 {
		b, err := ParseSubnet(fmt.Sprintf("127.76.%d.0/23", 40+2*i))
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, b)
	}
	st, err := Start(ctx, cfg, Options{StateDir: stateDir, Executable: exe, ReadyTimeout: 30 * time.Second, blocks: blocks})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopStack(t, st) })
	return st
}

// stopStack stops st; a second call does nothing.
func stopStack(t *testing.T, st *Stack) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := st.Stop(ctx); err != nil {
		t.Error(err)
	}
}

func desiredCount(t *testing.T, st *Stack, service string) int {
	t.Helper()
	for _, s := range st.tasks.Services() {
		if s.Name == service {
			return s.DesiredCount
		}
	}
	t.Fatalf("no service %q", service)
	return -1
}

// TestControlAPICrossSiteScale is the attack of security issue 12: a web
// page POSTs a "simple" request (text/plain, no custom headers, so no CORS
// preflight) to the control API, through a foreign Host name as DNS
// rebinding gives it. It must not scale the service.
func TestControlAPICrossSiteScale(t *testing.T) {
	st := startTestStack(t)
	req, err := http.NewRequest(http.MethodPost, st.Endpoint.ControlURL+"/ecs/services/bags/scale",
		strings.NewReader(`{"desiredCount": 0}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "attacker.example:8082"
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Origin", "http://attacker.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode < 400 || resp.StatusCode > 499 {
		t.Errorf("cross-site scale: %d %s, want a 4xx refusal", resp.StatusCode, body)
	}
	if n := desiredCount(t, st, "bags"); n != 1 {
		t.Errorf("desiredCount after the cross-site request = %d, want 1", n)
	}
}

// TestControlAPIRegisterForeignTarget: a target outside the task subnet
// (here a server of the attacker's on 127.0.0.1) is refused, even with the
// control token.
func TestControlAPIRegisterForeignTarget(t *testing.T) {
	st := startTestStack(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	body := fmt.Sprintf(`{"TargetGroupName": "bags", "Targets": [{"Id": "127.0.0.1", "Port": %d}]}`, port)
	req, err := http.NewRequest(http.MethodPost, st.Endpoint.ControlURL+"/elbv2/RegisterTargets", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+st.controlToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct {
		Error struct{ Code, Message string }
	}
	_ = json.NewDecoder(resp.Body).Decode(&e)
	if resp.StatusCode != http.StatusBadRequest || e.Error.Code != "ValidationError" || !strings.Contains(e.Error.Message, "127.0.0.1") {
		t.Errorf("RegisterTargets 127.0.0.1:%d: %d %+v, want 400 ValidationError naming the address", port, resp.StatusCode, e)
	}
	ths, err := st.lb.DescribeTargetHealth("bags")
	if err != nil {
		t.Fatal(err)
	}
	for _, th := range ths {
		if th.Target.ID == "127.0.0.1" {
			t.Errorf("the foreign target was registered: %+v", th)
		}
	}
}

// TestControlAPIToken: the control API wants the token of
// <state>/control-token (mode 0600, the same across restarts); the summary
// prints the console login URL, endpoints.json (0644) does not hold it.
func TestControlAPIToken(t *testing.T) {
	dir := t.TempDir()
	st := startTestStackIn(t, dir)
	tokenPath := filepath.Join(dir, controlauth.TokenFile)
	fi, err := os.Stat(tokenPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %04o, want 0600", tokenPath, fi.Mode().Perm())
	}
	tok, err := controlauth.ReadToken(tokenPath)
	if err != nil || tok != st.controlToken {
		t.Fatalf("token file %q %v, stack uses another", tok, err)
	}

	get := func(auth string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, st.Endpoint.ControlURL+"/ecs/services", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(""); code != http.StatusUnauthorized {
		t.Errorf("no token: %d", code)
	}
	if code := get("Bearer " + tok); code != http.StatusOK {
		t.Errorf("the token: %d", code)
	}
	// An authorized mutation still works (scale to the count it has).
	req, _ := http.NewRequest(http.MethodPost, st.Endpoint.ControlURL+"/ecs/services/bags/scale", strings.NewReader(`{"desiredCount": 1}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("authorized scale: %d", resp.StatusCode)
	}

	var sum strings.Builder
	st.Summary(&sum)
	if login := controlauth.LoginURL(st.Endpoint.ControlURL, tok); !strings.Contains(sum.String(), "console  "+login+"\n") {
		t.Errorf("summary lacks the console login URL %s:\n%s", login, sum.String())
	}
	awsLine := "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, awsapi.CredentialsFile) + " AWS_CONFIG_FILE=" + filepath.Join(dir, awsapi.ConfigFile) +
		" AWS_PROFILE=portway aws --endpoint-url " + st.Endpoint.ControlURL + " ecs list-services --cluster portway\n"
	if !strings.Contains(sum.String(), awsLine) {
		t.Errorf("summary lacks the AWS CLI line %q:\n%s", awsLine, sum.String())
	}
	awsCreds, err := os.ReadFile(filepath.Join(dir, awsapi.CredentialsFile))
	if err != nil {
		t.Fatal(err)
	}
	ep, err := os.ReadFile(filepath.Join(dir, EndpointsFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(ep), tok) {
		t.Errorf("endpoints.json holds the token:\n%s", ep)
	}

	// The next start in the same state dir keeps the token.
	stopStack(t, st)
	st2 := startTestStackIn(t, dir)
	if st2.controlToken != tok {
		t.Errorf("token changed across a restart")
	}
	if again, _ := os.ReadFile(filepath.Join(dir, awsapi.CredentialsFile)); string(again) != string(awsCreds) {
		t.Errorf("aws-credentials changed across a restart")
	}
}

// TestControlListenNeedsLoopback: a control API on a network address
// without TLS is refused before anything starts.
func TestControlListenNeedsLoopback(t *testing.T) {
	cfg := testConfig()
	cfg.Control.Listen = "10.0.0.6:8082"
	dir := t.TempDir()
	_, err := Start(context.Background(), cfg, Options{StateDir: dir, Executable: "/bin/true"})
	want := "control.listen 10.0.0.6:8082 is not a loopback address: the control API carries its token in every request, so it needs TLS"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Start = %v, want %q", err, want)
	}
	if _, err := os.Stat(filepath.Join(dir, controlauth.TokenFile)); err == nil {
		t.Error("a refused start made a token file")
	}
}
