package stack

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
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
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := Start(ctx, testConfig(), Options{StateDir: t.TempDir(), Executable: exe, ReadyTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := st.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	return st
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
