package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/portway/portway/internal/controlauth"
)

// killWorkers is how many clients keep requesting during the kill test,
// each over a new connection per request.
const killWorkers = 4

// outcome is one request of the kill test: when it was sent, and whether
// it got a 200.
type outcome struct {
	at time.Time
	ok bool
}

// observeKill keeps killWorkers clients requesting u (new connection each
// time), checks they succeed, calls kill, and then watches for window: when
// requests stop failing and when markedDown first reports true.
// With -tls each request is a full TLS handshake as well (the client keeps
// no session cache).
func observeKill(ctx context.Context, c chain, kill func() error, markedDown func() bool, window time.Duration) (KillResult, error) {
	u, headers := c.getURL, c.headers
	client := newClient(c.clientTLS, 2*time.Second, false)
	defer client.CloseIdleConnections()
	var mu sync.Mutex
	var outcomes []outcome
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range killWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for wctx.Err() == nil {
				// A request counts at the moment it was sent: that is when
				// the load balancer chose (or not) the dead target.
				sent := time.Now()
				ok := requestOK(wctx, client, u, headers)
				if wctx.Err() != nil {
					return
				}
				mu.Lock()
				outcomes = append(outcomes, outcome{sent, ok})
				mu.Unlock()
			}
		}()
	}
	// A second of traffic to see the chain serving before the kill.
	select {
	case <-ctx.Done():
		return KillResult{}, ctx.Err()
	case <-time.After(time.Second):
	}
	mu.Lock()
	okBefore, failBefore := 0, 0
	for _, o := range outcomes {
		if o.ok {
			okBefore++
		} else {
			failBefore++
		}
	}
	mu.Unlock()
	if okBefore == 0 || failBefore > 0 {
		cancel()
		wg.Wait()
		return KillResult{}, fmt.Errorf("before the kill: %d requests ok, %d failed; want all ok", okBefore, failBefore)
	}

	t0 := time.Now()
	if err := kill(); err != nil {
		cancel()
		wg.Wait()
		return KillResult{}, err
	}
	downAt := time.Duration(-1)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	end := time.After(window)
loop:
	for {
		if downAt < 0 && markedDown() {
			downAt = time.Since(t0)
		}
		select {
		case <-ctx.Done():
			cancel()
			wg.Wait()
			return KillResult{}, ctx.Err()
		case <-end:
			break loop
		case <-tick.C:
		}
	}
	cancel()
	wg.Wait()
	return summarizeKill(outcomes, t0, window, downAt), nil
}

// summarizeKill finds the last failure after t0. If failures continue into
// the last 10% of the window, the target is taken to still get traffic.
func summarizeKill(outcomes []outcome, t0 time.Time, window, downAt time.Duration) KillResult {
	r := KillResult{WindowMS: ms(window), MarkedDownMS: -1}
	if downAt >= 0 {
		r.MarkedDownMS = ms(downAt)
	}
	var last time.Duration
	for _, o := range outcomes {
		if o.at.Before(t0) {
			continue
		}
		r.Requests++
		if !o.ok {
			r.FailedRequests++
			last = max(last, o.at.Sub(t0))
		}
	}
	r.ClientErrorsMS = ms(last)
	if r.FailedRequests > 0 && last > window*9/10 {
		r.ClientErrorsMS = -1
	}
	return r
}

func requestOK(ctx context.Context, client *http.Client, u string, headers [][2]string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false
	}
	for _, h := range headers {
		req.Header.Set(h[0], h[1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err == nil && resp.StatusCode == http.StatusOK
}

// killPortwayTarget kill -9s the sidecar of one ingests task, found with
// `portway tasks --json`.
func killPortwayTarget(ctx context.Context, bin string, pw *portwayStack, c chain, window time.Duration) (KillResult, error) {
	out, err := exec.CommandContext(ctx, bin, "tasks", "--json", "--state-dir", pw.stateDir).Output()
	if err != nil {
		return KillResult{}, fmt.Errorf("portway tasks --json: %w", err)
	}
	ip, pid, err := runningSidecar(out, "ingests", "nginx")
	if err != nil {
		return KillResult{}, err
	}
	token, err := controlauth.ReadToken(filepath.Join(pw.stateDir, controlauth.TokenFile))
	if err != nil {
		return KillResult{}, err
	}
	// The control API is https under -tls, with the same local CA.
	client := newClient(pw.clientTLS, time.Second, true)
	defer client.CloseIdleConnections()
	healthURL := pw.endpoints.ControlURL + "/elbv2/DescribeTargetHealth?TargetGroupName=" + url.QueryEscape("ingests")
	markedDown := func() bool {
		down, err := portwayTargetDown(client, healthURL, token, ip)
		return err == nil && down
	}
	kill := func() error { return syscall.Kill(pid, syscall.SIGKILL) }
	r, err := observeKill(ctx, c, kill, markedDown, window)
	r.Chain, r.Target = chainPortway, fmt.Sprintf("sidecar of task %s (pid %d)", ip, pid)
	return r, err
}

// portwayTargetDown reports whether target ip is no longer healthy (or no
// longer registered) according to the control API.
func portwayTargetDown(client *http.Client, healthURL, token, ip string) (bool, error) {
	req, err := http.NewRequest(http.MethodGet, healthURL, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return false, err
	}
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("%s: %s", healthURL, resp.Status)
	}
	return targetDownIn(body, ip)
}

func targetDownIn(body []byte, ip string) (bool, error) {
	var th struct {
		TargetHealthDescriptions []struct {
			Target struct {
				ID string `json:"Id"`
			} `json:"Target"`
			TargetHealth struct {
				State string `json:"State"`
			} `json:"TargetHealth"`
		} `json:"TargetHealthDescriptions"`
	}
	if err := json.Unmarshal(body, &th); err != nil {
		return false, err
	}
	for _, d := range th.TargetHealthDescriptions {
		if d.Target.ID == ip {
			return d.TargetHealth.State != "healthy", nil
		}
	}
	return true, nil
}

// killChainTarget kill -9s the second nginx sidecar (master and workers).
func killChainTarget(ctx context.Context, ots *offTheShelf, c chain, window time.Duration) (KillResult, error) {
	victim := ots.sidecars[len(ots.sidecars)-1]
	server := fmt.Sprintf("t%d", len(ots.sidecars)-1)
	markedDown := func() bool {
		st, err := haproxyServerStatus(ots.sockPath)
		return err == nil && strings.HasPrefix(st[server], "DOWN")
	}
	kill := func() error { return syscall.Kill(-victim.PID(), syscall.SIGKILL) }
	r, err := observeKill(ctx, c, kill, markedDown, window)
	r.Chain, r.Target = chainNginx, fmt.Sprintf("nginx sidecar %s (pid %d)", server, victim.PID())
	return r, err
}
