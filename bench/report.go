package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
)

// Report is everything one harness run measured; -json prints it.
type Report struct {
	Machine   MachineInfo      `json:"machine"`
	Settings  Settings         `json:"settings"`
	Portway   StackFigures     `json:"portway"`
	Chain     StackFigures     `json:"nginx_haproxy_chain"`
	Scenarios []ScenarioResult `json:"scenarios"`
	Kill      []KillResult     `json:"kill,omitempty"`
	Notes     []string         `json:"notes,omitempty"`
}

// MachineInfo says where and under what load the run happened.
type MachineInfo struct {
	CPUs       int    `json:"cpus"`
	CPUModel   string `json:"cpu_model,omitempty"`
	Kernel     string `json:"kernel,omitempty"`
	GoVersion  string `json:"go_version"`
	Nginx      string `json:"nginx_version,omitempty"`
	HAProxy    string `json:"haproxy_version,omitempty"`
	Wrk        string `json:"wrk_version,omitempty"`
	LoadBefore string `json:"loadavg_before,omitempty"`
	LoadAfter  string `json:"loadavg_after,omitempty"`
	// OtherCPUCores is the average number of cores busy with processes
	// outside the chain under test and wrk during the load runs: the
	// machine's background load while measuring.
	OtherCPUCores float64 `json:"other_cpu_cores_during_runs"`
}

// Settings are the load settings.
type Settings struct {
	Duration    string   `json:"duration"`
	Warmup      string   `json:"warmup"`
	Threads     int      `json:"threads"`
	Connections int      `json:"connections"`
	Rounds      int      `json:"rounds"`
	Order       []string `json:"order"`
	BodyBytes   int      `json:"post_body_bytes"`
	// TLS is whether both gateways served HTTPS (-tls); the load
	// balancers, sidecars, apps and the direct chain are plain HTTP.
	TLS bool `json:"tls"`
}

// StackFigures are a chain's start-up time and memory.
type StackFigures struct {
	ReadyMS   float64 `json:"ready_ms,omitempty"`
	RSSIdleMB float64 `json:"rss_idle_mb"`
	RSSMaxMB  float64 `json:"rss_max_mb"`
	// PSSIdleMB counts pages shared between the stack's processes once.
	PSSIdleMB   float64 `json:"pss_idle_mb"`
	Description string  `json:"description"`
}

// RunResult is one wrk run.
type RunResult struct {
	Round       int     `json:"round"`
	RPS         float64 `json:"rps"`
	P50MS       float64 `json:"p50_ms"`
	P99MS       float64 `json:"p99_ms"`
	CPUSecPer1k float64 `json:"cpu_s_per_1k"`
	Requests    int64   `json:"requests"`
	Errors      int64   `json:"errors"`
	MBPerSec    float64 `json:"response_mb_per_s"`
	Bytes       int64   `json:"bytes"`
}

// ChainResult aggregates the rounds of one chain in one scenario: medians
// of rps and latency; CPU per 1,000 requests over all rounds together.
type ChainResult struct {
	Chain       string  `json:"chain"`
	RPS         float64 `json:"rps"`
	P50MS       float64 `json:"p50_ms"`
	P99MS       float64 `json:"p99_ms"`
	CPUSecPer1k float64 `json:"cpu_s_per_1k"`
	Requests    int64   `json:"requests"`
	Errors      int64   `json:"errors"`
	// BytesPerResponse is wrk's bytes read per request (headers and body),
	// a check that every chain answers the same thing.
	BytesPerResponse float64     `json:"bytes_per_response"`
	Runs             []RunResult `json:"runs"`
}

// Ratio is portway's figure divided by another chain's.
type Ratio struct {
	Of     string  `json:"of"`
	Versus string  `json:"versus"`
	RPS    float64 `json:"rps"`
	P50    float64 `json:"p50"`
	P99    float64 `json:"p99"`
	CPU    float64 `json:"cpu_per_req"`
}

// ScenarioResult is one scenario over every chain.
type ScenarioResult struct {
	Name        string        `json:"name"`
	Description string        `json:"description"`
	Connections int           `json:"connections"`
	Chains      []ChainResult `json:"chains"`
	Ratios      []Ratio       `json:"ratios"`
}

// KillResult is how long a killed target kept getting traffic.
type KillResult struct {
	Chain  string `json:"chain"`
	Target string `json:"target"`
	// ClientErrorsMS is the time from the kill to the sending of the last
	// request that failed (0 when none failed); -1 when requests still
	// failed at the end of the window.
	ClientErrorsMS float64 `json:"client_errors_until_ms"`
	FailedRequests int     `json:"failed_requests"`
	Requests       int     `json:"requests"`
	// MarkedDownMS is when the load balancer first reported the target as
	// not healthy (or gone); -1 if it never did within the window.
	MarkedDownMS float64 `json:"lb_marked_down_ms"`
	WindowMS     float64 `json:"window_ms"`
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// aggregate turns runs into a ChainResult; cpuSeconds is summed over runs.
func aggregate(name string, runs []RunResult, cpuSeconds float64) ChainResult {
	cr := ChainResult{Chain: name, Runs: runs}
	var rps, p50, p99 []float64
	var bytes int64
	for _, r := range runs {
		bytes += r.Bytes
		rps = append(rps, r.RPS)
		p50 = append(p50, r.P50MS)
		p99 = append(p99, r.P99MS)
		cr.Requests += r.Requests
		cr.Errors += r.Errors
	}
	cr.RPS, cr.P50MS, cr.P99MS = median(rps), median(p50), median(p99)
	if cr.Requests > 0 {
		cr.CPUSecPer1k = cpuSeconds / float64(cr.Requests) * 1000
		cr.BytesPerResponse = float64(bytes) / float64(cr.Requests)
	}
	return cr
}

// ratio is a/b, or 0 when b is 0 (JSON has no NaN); 0 prints as "-".
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// ratios are the first chain's figures (portway's) over every other's.
func ratios(chains []ChainResult) []Ratio {
	if len(chains) == 0 {
		return nil
	}
	pw := chains[0]
	var out []Ratio
	for _, c := range chains[1:] {
		out = append(out, Ratio{
			Of:     pw.Chain,
			Versus: c.Chain,
			RPS:    ratio(pw.RPS, c.RPS),
			P50:    ratio(pw.P50MS, c.P50MS),
			P99:    ratio(pw.P99MS, c.P99MS),
			CPU:    ratio(pw.CPUSecPer1k, c.CPUSecPer1k),
		})
	}
	return out
}

// tlsLine says in the table's heading whether the gateways served HTTPS.
func tlsLine(on bool) string {
	if on {
		return "tls: true (HTTPS at both gateways; NLB, sidecars, apps and direct plain HTTP)"
	}
	return "tls: false (plain HTTP throughout)"
}

func fmtRatio(x float64) string {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return "-"
	}
	return fmt.Sprintf("%.2f×", x)
}

func fmtMS(ms float64) string {
	if ms >= 100 {
		return fmt.Sprintf("%.0f ms", ms)
	}
	return fmt.Sprintf("%.2f ms", ms)
}

// writeTable prints the report for people.
func writeTable(w io.Writer, r Report) error {
	m := r.Machine
	fmt.Fprintf(w, "machine: %d CPUs %s, kernel %s, %s; %s, %s, %s\n", m.CPUs, m.CPUModel, m.Kernel, m.GoVersion, m.Nginx, m.HAProxy, m.Wrk)
	fmt.Fprintf(w, "load average before %s, after %s; other processes kept %.2f cores busy during the runs\n", m.LoadBefore, m.LoadAfter, m.OtherCPUCores)
	s := r.Settings
	fmt.Fprintf(w, "wrk -t%d -c%d -d%s (warm-up %s), %d rounds, order %s; %s\n\n", s.Threads, s.Connections, s.Duration, s.Warmup, s.Rounds, strings.Join(s.Order, " "), tlsLine(s.TLS))

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tchain\treq/s\tp50\tp99\tCPU s/1k req\terrors\tB/response\t")
	for _, sc := range r.Scenarios {
		for _, c := range sc.Chains {
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%.3f\t%d\t%.0f\t\n", sc.Name, c.Chain, c.RPS, fmtMS(c.P50MS), fmtMS(c.P99MS), c.CPUSecPer1k, c.Errors, c.BytesPerResponse)
		}
		for _, ra := range sc.Ratios {
			fmt.Fprintf(tw, "%s\t%s/%s\t%s\t%s\t%s\t%s\t\t\t\n", sc.Name, ra.Of, ra.Versus, fmtRatio(ra.RPS), fmtRatio(ra.P50), fmtRatio(ra.P99), fmtRatio(ra.CPU))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, sc := range r.Scenarios {
		fmt.Fprintf(w, "  %-8s %s\n", sc.Name, sc.Description)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "portway up ready in %.0f ms; memory idle %.1f MB proportional (shared pages once), %.1f MB summed RSS; %.1f MB max RSS under load (%s)\n",
		r.Portway.ReadyMS, r.Portway.PSSIdleMB, r.Portway.RSSIdleMB, r.Portway.RSSMaxMB, r.Portway.Description)
	fmt.Fprintf(w, "nginx/HAProxy chain memory idle %.1f MB proportional, %.1f MB summed RSS; %.1f MB max RSS under load (%s)\n",
		r.Chain.PSSIdleMB, r.Chain.RSSIdleMB, r.Chain.RSSMaxMB, r.Chain.Description)
	for _, k := range r.Kill {
		until := fmt.Sprintf("%.0f ms", k.ClientErrorsMS)
		if k.ClientErrorsMS < 0 {
			until = fmt.Sprintf("still failing after %.0f ms", k.WindowMS)
		}
		down := fmt.Sprintf("%.0f ms", k.MarkedDownMS)
		if k.MarkedDownMS < 0 {
			down = "not within the window"
		}
		fmt.Fprintf(w, "killed target (%s, %s): clients saw errors until %s after the kill (%d of %d requests failed); load balancer marked it down after %s\n",
			k.Chain, k.Target, until, k.FailedRequests, k.Requests, down)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	return nil
}
