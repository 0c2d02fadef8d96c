package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/portway/portway/internal/stack"
)

// ingestsTask is a running ingests task: its IP and its nginx (sidecar) pid.
type ingestsTask struct {
	ip       string
	nginxPID int
}

func ingestsTasks(t *testing.T, stateDir string) map[string]ingestsTask {
	t.Helper()
	out, errOut, err := runPortway(t, "tasks", "--json", "--state-dir", stateDir)
	if err != nil {
		t.Fatalf("portway tasks: %v: %s", err, errOut)
	}
	var v struct {
		Tasks []struct {
			Service    string `json:"service"`
			LastStatus string `json:"lastStatus"`
			IP         string `json:"ip"`
			Containers []struct {
				Name string `json:"name"`
				PID  int    `json:"pid"`
			} `json:"containers"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("portway tasks --json: %v\n%s", err, out)
	}
	m := map[string]ingestsTask{}
	for _, task := range v.Tasks {
		if task.Service != "ingests" || task.LastStatus != "RUNNING" {
			continue
		}
		for _, c := range task.Containers {
			if c.Name == "nginx" && c.PID > 0 {
				m[task.IP] = ingestsTask{ip: task.IP, nginxPID: c.PID}
			}
		}
	}
	return m
}

// TestNLBKillTargetUnderLoad kills -9 the nginx container of the ingests
// task that carries traffic while 4 clients each open a new connection per
// request through the gateway. Within 2 s the killed target is out of
// service (unhealthy, draining or gone) and gets no new connection; new
// connections keep succeeding (retry on dial failure), so only requests in
// flight on the killed target's connections may fail.
func TestNLBKillTargetUnderLoad(t *testing.T) {
	stateDir := t.TempDir()
	startUp(t, stateDir, "--config", writeConfig(t, testStack(20)))
	var creds map[string]string
	readJSONFile(t, filepath.Join(stateDir, stack.CredentialsFile), &creds)
	var ep stack.Endpoints
	readJSONFile(t, filepath.Join(stateDir, stack.EndpointsFile), &ep)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cc := clientcredentials.Config{ClientID: creds["client_id"], ClientSecret: creds["client_secret"], TokenURL: creds["token_url"]}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	auth := "Bearer " + tok.AccessToken

	// One ingest to read back under load.
	req, _ := http.NewRequest(http.MethodPost, ep.APIURL+"/ingests", strings.NewReader(ingestBody))
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusCreated || loc == "" {
		t.Fatalf("POST /ingests: %d, Location %q", resp.StatusCode, loc)
	}
	waitHealthy(t, stateDir, "ingests", 2)

	// The load: 4 workers, a new TCP connection per request, for at most 10 s.
	type failure struct {
		at  time.Time
		err string
	}
	var (
		ok       atomic.Int64
		mu       sync.Mutex
		failures []failure
		wg       sync.WaitGroup
	)
	stop := make(chan struct{})
	loadStart := time.Now()
	loadEnd := loadStart.Add(10 * time.Second)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			for time.Now().Before(loadEnd) {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodGet, loc, nil)
				req.Header.Set("Authorization", auth)
				resp, err := client.Do(req)
				msg := ""
				if err != nil {
					msg = err.Error()
				} else {
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						msg = fmt.Sprintf("%d %s", resp.StatusCode, body)
					}
				}
				if msg == "" {
					ok.Add(1)
					continue
				}
				mu.Lock()
				failures = append(failures, failure{time.Now(), msg})
				mu.Unlock()
			}
		}()
	}
	stopLoad := func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}
	t.Cleanup(stopLoad)

	// Kill the target that carries the gateway's connections.
	tasks := ingestsTasks(t, stateDir)
	var victim targetDesc
	deadline := time.Now().Add(5 * time.Second)
	for victim.Target.ID == "" {
		if time.Now().After(deadline) {
			t.Fatal("no ingests target got connections under load")
		}
		time.Sleep(200 * time.Millisecond)
		for _, d := range describeTargets(t, stateDir, "ingests") {
			if _, isTask := tasks[d.Target.ID]; isTask && d.Connections > 0 && d.Connections > victim.Connections {
				victim = d
			}
		}
	}
	pid := tasks[victim.Target.ID].nginxPID
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	t.Logf("killed nginx pid %d of target %s (%d connections so far)", pid, victim.Target.ID, victim.Connections)

	// Within 2 s the target is out of service.
	var outAt time.Duration
	var connsWhenOut int64 = -1
	for outAt == 0 {
		var cur *targetDesc
		for _, d := range describeTargets(t, stateDir, "ingests") {
			if d.Target.ID == victim.Target.ID && d.Target.Port == victim.Target.Port {
				cur = &d
			}
		}
		switch {
		case cur == nil:
			outAt = time.Since(killedAt)
		case cur.TargetHealth.State != "healthy" && cur.TargetHealth.State != "initial":
			outAt = time.Since(killedAt)
			connsWhenOut = cur.Connections
			t.Logf("killed target is %s (%s)", cur.TargetHealth.State, cur.TargetHealth.Reason)
		case time.Since(killedAt) > 5*time.Second:
			t.Fatalf("killed target still %s after 5s", cur.TargetHealth.State)
		default:
			time.Sleep(50 * time.Millisecond)
		}
	}
	if outAt > 2*time.Second {
		t.Errorf("killed target out of service after %s, want within 2s", outAt)
	}

	<-time.After(time.Until(loadEnd))
	stopLoad()
	// No new connection went to it once it was out of service.
	for _, d := range describeTargets(t, stateDir, "ingests") {
		if d.Target.ID == victim.Target.ID && connsWhenOut >= 0 && d.Connections > connsWhenOut && d.TargetHealth.State != "healthy" {
			t.Errorf("killed target got %d new connections after going %s", d.Connections-connsWhenOut, d.TargetHealth.State)
		}
	}

	mu.Lock()
	defer mu.Unlock()
	var before int
	for _, f := range failures {
		if f.at.Before(killedAt) {
			before++
		}
		t.Logf("failed request %+.3fs after the kill: %s", f.at.Sub(killedAt).Seconds(), f.err)
	}
	t.Logf("load: %d requests succeeded, %d failed (%d before the kill); target out of service %s after the kill",
		ok.Load(), len(failures), before, outAt.Round(time.Millisecond))
	if before > 0 {
		t.Errorf("%d requests failed before the kill", before)
	}
	// At most the requests in flight on the killed target's connections: one
	// per worker.
	if len(failures) > 4 {
		t.Errorf("%d requests failed; only those in flight on the killed target (at most 4) may", len(failures))
	}
	if ok.Load() < 50 {
		t.Errorf("only %d requests succeeded in 10s", ok.Load())
	}
}

// waitHealthy waits until group has n healthy targets.
func waitHealthy(t *testing.T, stateDir, group string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		healthy := 0
		for _, d := range describeTargets(t, stateDir, group) {
			if d.TargetHealth.State == "healthy" {
				healthy++
			}
		}
		if healthy >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d healthy targets after 30s, want %d", group, healthy, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestNLBTargetsJSON checks `portway targets --json` against the shape the
// issue gives: TargetGroups[].TargetGroupName, Port, HealthCheck{…},
// TargetHealthDescriptions[].Target{Id,Port}, HealthCheckPort,
// TargetHealth{State,Reason,Description}, Connections, ActiveConnections.
func TestNLBTargetsJSON(t *testing.T) {
	stateDir := t.TempDir()
	startUp(t, stateDir, "--config", writeConfig(t, testStack(21)))
	waitHealthy(t, stateDir, "bags", 2)
	waitHealthy(t, stateDir, "ingests", 2)
	out, errOut, err := runPortway(t, "targets", "--json", "--state-dir", stateDir)
	if err != nil {
		t.Fatalf("portway targets --json: %v: %s", err, errOut)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	groups, _ := v["TargetGroups"].([]any)
	if len(groups) != 2 {
		t.Fatalf("want the bags and ingests groups:\n%s", out)
	}
	for i, g := range groups {
		g, _ := g.(map[string]any)
		name, _ := g["TargetGroupName"].(string)
		if want := []string{"bags", "ingests"}[i]; name != want {
			t.Errorf("TargetGroups[%d].TargetGroupName = %q, want %q", i, name, want)
		}
		if g["Port"] != 9000.0 {
			t.Errorf("%s: Port = %v, want 9000", name, g["Port"])
		}
		if hc, ok := g["HealthCheck"].(map[string]any); !ok {
			t.Errorf("%s: no HealthCheck object", name)
		} else if hc["Protocol"] != "HTTP" || hc["Path"] != "/management/healthcheck" || hc["Port"] != "traffic-port" ||
			hc["HealthyThresholdCount"] != 2.0 || hc["UnhealthyThresholdCount"] != 2.0 {
			t.Errorf("%s: HealthCheck = %v", name, hc)
		}
		ths, _ := g["TargetHealthDescriptions"].([]any)
		if len(ths) != 2 {
			t.Fatalf("%s: %d targets, want 2:\n%s", name, len(ths), out)
		}
		for _, th := range ths {
			th, _ := th.(map[string]any)
			target, _ := th["Target"].(map[string]any)
			health, _ := th["TargetHealth"].(map[string]any)
			id, _ := target["Id"].(string)
			if !strings.HasPrefix(id, "127.77.") || target["Port"] != 9000.0 || th["HealthCheckPort"] != "9000" {
				t.Errorf("%s: target %v, HealthCheckPort %v", name, target, th["HealthCheckPort"])
			}
			if health["State"] != "healthy" {
				t.Errorf("%s %s: TargetHealth %v", name, id, health)
			}
			for _, k := range []string{"Connections", "ActiveConnections"} {
				if _, ok := th[k].(float64); !ok {
					t.Errorf("%s %s: %s missing or not a number: %v", name, id, k, th[k])
				}
			}
		}
	}

	// One group by name, the table, and an unknown group.
	out, errOut, err = runPortway(t, "targets", "bags", "--json", "--state-dir", stateDir)
	if err != nil || strings.Count(out, `"TargetGroupName"`) != 1 || !strings.Contains(out, `"TargetGroupName": "bags"`) {
		t.Errorf("portway targets bags --json: %v %s\n%s", err, errOut, out)
	}
	out, _, err = runPortway(t, "targets", "--state-dir", stateDir)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); err != nil || len(lines) != 5 || !strings.HasPrefix(lines[0], "GROUP") {
		t.Errorf("portway targets table: %v\n%s", err, out)
	}
	if _, errOut, err = runPortway(t, "targets", "nope", "--state-dir", stateDir); err == nil || !strings.Contains(errOut, `no target group named "nope"`) {
		t.Errorf("portway targets nope: %v %s", err, errOut)
	}
}
