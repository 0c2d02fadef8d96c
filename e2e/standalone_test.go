package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestStandaloneNLB runs `portway nlb` alone, as on a host of its own:
// a target is registered through the control API from outside, becomes
// healthy, and gets the listener's traffic.
func TestStandaloneNLB(t *testing.T) {
	cfg := testStack(60)
	cfgPath := writeConfig(t, cfg)

	// The target: an app on an address of its own.
	ln, err := net.Listen("tcp", "127.77.250.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "target saw %s", r.URL.Path)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = target.Serve(ln) }()
	t.Cleanup(func() { target.Close() })
	port := ln.Addr().(*net.TCPAddr).Port

	stateDir := t.TempDir()
	control, stderr := startComponent(t, regexp.MustCompile(`control API listening" url=(\S+)`),
		"nlb", "--config", cfgPath, "--control-listen", "127.0.0.1:0", "--state-dir", stateDir)
	deadline := time.Now().Add(30 * time.Second)

	// The control token was made in the state dir; nothing is registered
	// without it.
	token := controlToken(t, stateDir)
	if strings.Contains(stderr.String(), token) {
		t.Errorf("portway nlb logged its control token:\n%s", stderr)
	}
	registerTargets := func(auth, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, control+"/elbv2/RegisterTargets", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(data)
	}
	reg := fmt.Sprintf(`{"TargetGroupName": "bags", "Targets": [{"Id": "127.77.250.1", "Port": %d}]}`, port)
	if code, body := registerTargets("", reg); code != http.StatusUnauthorized {
		t.Fatalf("RegisterTargets without the token: %d %s", code, body)
	}
	// Outside nlb.targetCIDRs (default loopback): refused.
	if code, body := registerTargets("Bearer "+token, `{"TargetGroupName": "bags", "Targets": [{"Id": "10.0.1.1", "Port": 9000}]}`); code != http.StatusBadRequest || !strings.Contains(body, "ValidationError") {
		t.Fatalf("RegisterTargets 10.0.1.1: %d %s", code, body)
	}
	if code, body := registerTargets("Bearer "+token, reg); code != http.StatusOK {
		t.Fatalf("RegisterTargets: %d %s", code, body)
	}

	for {
		var th struct {
			TargetHealthDescriptions []struct {
				TargetHealth struct{ State string } `json:"TargetHealth"`
			} `json:"TargetHealthDescriptions"`
		}
		req, _ := http.NewRequest(http.MethodGet, control+"/elbv2/DescribeTargetHealth?TargetGroupName=bags", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err := json.NewDecoder(bytes.NewReader(data)).Decode(&th); err != nil {
			t.Fatalf("DescribeTargetHealth: %v %s", err, data)
		}
		if len(th.TargetHealthDescriptions) == 1 && th.TargetHealthDescriptions[0].TargetHealth.State == "healthy" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("target not healthy: %s", data)
		}
		time.Sleep(50 * time.Millisecond)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+cfg.NLB.Address+":65534/bags/b1", nil)
	req.Close = true // an idle kept-alive connection would hold the load balancer's stop
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "target saw /bags/b1" {
		t.Errorf("through the listener: %d %q", resp.StatusCode, body)
	}
}
