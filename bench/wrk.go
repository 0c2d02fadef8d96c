package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// wrkResult is what wrk's done hook prints.
type wrkResult struct {
	Requests   int64 `json:"requests"`
	DurationUS int64 `json:"duration_us"`
	Bytes      int64 `json:"bytes"`
	Errors     struct {
		Connect int64 `json:"connect"`
		Read    int64 `json:"read"`
		Write   int64 `json:"write"`
		Status  int64 `json:"status"` // responses not 2xx/3xx
		Timeout int64 `json:"timeout"`
	} `json:"errors"`
	// wrkCPU is the CPU seconds wrk itself used (not from the hook).
	wrkCPU    float64
	LatencyUS struct {
		Mean float64 `json:"mean"`
		P50  int64   `json:"p50"`
		P90  int64   `json:"p90"`
		P99  int64   `json:"p99"`
		Max  int64   `json:"max"`
	} `json:"latency_us"`
}

// RPS is completed requests per second.
func (r wrkResult) RPS() float64 {
	if r.DurationUS <= 0 {
		return 0
	}
	return float64(r.Requests) / (float64(r.DurationUS) / 1e6)
}

// ErrorCount is every failed request: socket errors and non-2xx/3xx answers.
func (r wrkResult) ErrorCount() int64 {
	e := r.Errors
	return e.Connect + e.Read + e.Write + e.Status + e.Timeout
}

const wrkMarker = "BENCHJSON "

// parseWrk finds the done hook's line in wrk's stdout. It also cross-checks
// the "Requests/sec:" line wrk prints itself, when present.
func parseWrk(out string) (wrkResult, error) {
	var res wrkResult
	found := false
	reported := -1.0
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, wrkMarker); ok {
			if err := json.Unmarshal([]byte(rest), &res); err != nil {
				return wrkResult{}, fmt.Errorf("wrk done hook output %q: %w", truncate(rest, 120), err)
			}
			found = true
		}
		if rest, ok := strings.CutPrefix(line, "Requests/sec:"); ok {
			if v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64); err == nil {
				reported = v
			}
		}
	}
	if !found {
		return wrkResult{}, fmt.Errorf("no %q line in wrk output (was the Lua script loaded?):\n%s", strings.TrimSpace(wrkMarker), truncate(out, 2000))
	}
	if res.DurationUS <= 0 {
		return wrkResult{}, errors.New("wrk reported a duration of 0")
	}
	if reported >= 0 {
		mine := res.RPS()
		if d := mine - reported; d > 0.01*reported+1 || -d > 0.01*reported+1 {
			return wrkResult{}, fmt.Errorf("wrk's Requests/sec %.2f disagrees with the done hook's %.2f", reported, mine)
		}
	}
	return res, nil
}

// wrkRun is one load run's settings.
type wrkRun struct {
	URL         string
	Threads     int
	Connections int
	Duration    time.Duration
	Request     wrkRequest
}

// args are wrk's command-line arguments for r, with the script at script.
func (r wrkRun) args(script string) []string {
	return []string{
		"-t", strconv.Itoa(r.Threads),
		"-c", strconv.Itoa(r.Connections),
		// wrk counts whole seconds ("300ms" would read as 300 minutes).
		"-d", fmt.Sprintf("%ds", max(1, int(r.Duration.Round(time.Second)/time.Second))),
		"--timeout", "10s",
		"-s", script,
		r.URL,
	}
}

// runWrk writes the Lua script into dir (0600: it may hold a token) and
// runs wrk to completion.
func runWrk(ctx context.Context, wrk, dir string, r wrkRun) (wrkResult, error) {
	f, err := os.CreateTemp(dir, "wrk-*.lua")
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk script: %w", err)
	}
	script := f.Name()
	defer os.Remove(script)
	if _, err := f.WriteString(r.Request.Lua()); err != nil {
		f.Close()
		return wrkResult{}, fmt.Errorf("wrk script: %w", err)
	}
	if err := f.Close(); err != nil {
		return wrkResult{}, fmt.Errorf("wrk script: %w", err)
	}
	// Generous bound: wrk stops itself after Duration.
	ctx, cancel := context.WithTimeout(ctx, r.Duration+60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, wrk, r.args(filepath.Clean(script))...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return wrkResult{}, fmt.Errorf("wrk %s: %w: %s", r.URL, err, truncate(strings.TrimSpace(stderr.String()+"\n"+stdout.String()), 1000))
	}
	res, err := parseWrk(stdout.String())
	if err != nil {
		if e := strings.TrimSpace(stderr.String()); e != "" {
			err = fmt.Errorf("%w\nwrk stderr: %s", err, truncate(e, 1000))
		}
		return res, err
	}
	if st := cmd.ProcessState; st != nil {
		res.wrkCPU = (st.UserTime() + st.SystemTime()).Seconds()
	}
	return res, nil
}
