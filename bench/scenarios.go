package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"
)

// postBodyBytes is the POST scenario's body: 1 MB, under the ingests app's
// 1 MiB limit (internal/storage/ingests DefaultMaxBodyBytes), the gateway's
// 10 MB and the sidecar's 12 MB.
const postBodyBytes = 1_000_000

const killScenario = "kill"

// scenario is one kind of load.
type scenario struct {
	Name        string
	Description string
	Connections int // 0: the -connections flag
	// LBOnly runs against the load balancers directly (portway's NLB,
	// HAProxy) instead of the full paths.
	LBOnly bool
	// TLSNote is added to the description with -tls.
	TLSNote string
	request func(c chain) (url string, req wrkRequest, err error)
}

func getIngest(extra ...[2]string) func(c chain) (string, wrkRequest, error) {
	return func(c chain) (string, wrkRequest, error) {
		return c.getURL, wrkRequest{Method: "GET", Headers: append(c.headerPairs(), extra...)}, nil
	}
}

// postLarge POSTs a postBodyBytes ingest to the chain's /ingests.
func postLarge(c chain) (string, wrkRequest, error) {
	prefix, pad, suffix, err := largeIngestBody(postBodyBytes)
	if err != nil {
		return "", wrkRequest{}, err
	}
	h := append(c.headerPairs(), [2]string{"Content-Type", "application/json"})
	return c.BaseURL + "/ingests", wrkRequest{Method: "POST", Headers: h, BodyPrefix: prefix, BodyPad: pad, BodySuffix: suffix}, nil
}

func scenarios() []scenario {
	return []scenario{
		{
			Name:        "get",
			Description: "GET /ingests/{id} (a small JSON ingest) over keep-alive connections",
			request:     getIngest(),
		},
		{
			Name: "post1m",
			Description: fmt.Sprintf("POST /ingests with a %d-byte body: a valid ingest plus an unknown \"padding\" field, "+
				"which the app ignores; each answer is 201 Created (a new ingest row, which the app's worker then fails: no archive)", postBodyBytes),
			request: postLarge,
		},
		{
			Name: "lb1m",
			Description: "the post1m request straight at the load balancer (portway's NLB vs HAProxy in TCP mode), " +
				"no gateway: large-body throughput of the L4 hop, sidecars and app",
			LBOnly:  true,
			request: postLarge,
		},
		{
			Name:        "newconn",
			Description: "GET /ingests/{id} with Connection: close: a new TCP connection per request",
			// Checked with Go's and nginx's servers: wrk keeps each
			// connection's TLS session and resumes it from the ticket.
			TLSNote: "and at the gateways a TLS handshake, resumed from a session ticket (wrk keeps the session; both gateways issue tickets)",
			request: getIngest([2]string{"Connection", "close"}),
		},
		{
			Name:        "c64",
			Description: "GET /ingests/{id} over 64 concurrent keep-alive connections",
			Connections: 64,
			request:     getIngest(),
		},
	}
}

func scenarioNames() []string {
	var names []string
	for _, s := range scenarios() {
		names = append(names, s.Name)
	}
	return append(names, killScenario)
}

func scenarioByName(name string) (scenario, bool) {
	for _, s := range scenarios() {
		if s.Name == name {
			return s, true
		}
	}
	return scenario{}, false
}

// headerPairs are the headers every request of the chain carries.
func (c chain) headerPairs() [][2]string {
	return append([][2]string(nil), c.headers...)
}

// prepareChains creates an ingest through each chain. Every chain gets the
// same Authorization header, so requests are byte for byte alike; only
// portway checks it.
func prepareChains(ctx context.Context, pw *portwayStack, ots *offTheShelf, log *slog.Logger) ([]chain, error) {
	auth := [][2]string{{"Authorization", "Bearer " + pw.token}}
	chains := []chain{
		{Name: chainPortway, Stack: chainPortway, BaseURL: pw.endpoints.APIURL, Roots: []int{pw.up.PID()}, headers: auth, clientTLS: pw.clientTLS},
		{Name: chainNginx, Stack: chainNginx, BaseURL: ots.baseURL, Roots: ots.roots(), headers: auth, clientTLS: ots.clientTLS},
		{Name: chainDirect, Stack: chainDirect, BaseURL: "http://" + ots.appAddrs[0], Roots: []int{ots.apps[0].PID()}, headers: auth},
	}
	for i := range chains {
		client := newClient(chains[i].clientTLS, clientTimeout, true)
		defer client.CloseIdleConnections()
		u, err := createIngest(ctx, client, chains[i].BaseURL, pw.token)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", chains[i].Name, err)
		}
		chains[i].getURL = u
		if err := checkGet(ctx, client, chains[i], log); err != nil {
			return nil, err
		}
	}
	return chains, nil
}

// lbChains are portway's NLB and HAProxy, each with the sidecars and apps
// behind it, and the app alone, for LBOnly scenarios.
func lbChains(pw *portwayStack, ots *offTheShelf, chains []chain) ([]chain, error) {
	nlb, err := portwayNLBAddr("ingests")
	if err != nil {
		return nil, err
	}
	auth := chains[0].headers
	return []chain{
		{Name: chainPortwayNLB, Stack: chainPortway, BaseURL: "http://" + nlb, Roots: []int{pw.up.PID()}, headers: auth},
		{Name: chainHAProxy, Stack: chainNginx, BaseURL: "http://" + ots.nlbAddr, Roots: pids(ots.lbRoots()...), headers: auth},
		chains[2],
	}, nil
}

// measurer runs scenarios over the chains.
type measurer struct {
	opts     options
	wrk      string
	dir      string
	log      *slog.Logger
	chains   []chain
	lbChains []chain
	// stackRoots are each stack's processes, for its memory figure.
	stackRoots map[string][]int

	maxRSS     map[string]float64
	otherCPU   float64 // seconds of CPU used by everything else during runs
	wallInRuns float64 // seconds
}

func (m *measurer) otherCores() float64 {
	if m.wallInRuns == 0 {
		return 0
	}
	return m.otherCPU / m.wallInRuns
}

// scenario runs sc: a warm-up per chain, then rounds of every chain in turn
// (A B C A B C …) so drift over time hits every chain alike.
func (m *measurer) scenario(ctx context.Context, sc scenario) (ScenarioResult, error) {
	conns := sc.Connections
	if conns == 0 {
		conns = m.opts.Connections
	}
	res := ScenarioResult{Name: sc.Name, Description: sc.Description, Connections: conns}
	if m.opts.TLS && sc.TLSNote != "" {
		res.Description += ", " + sc.TLSNote
	}
	chains := m.chains
	if sc.LBOnly {
		chains = m.lbChains
	}
	runs := make([]wrkRun, len(chains))
	for i, c := range chains {
		u, req, err := sc.request(c)
		if err != nil {
			return res, err
		}
		runs[i] = wrkRun{URL: u, Threads: m.opts.Threads, Connections: conns, Duration: m.opts.Duration, Request: req}
	}
	if m.opts.Warmup > 0 {
		for i, c := range chains {
			w := runs[i]
			w.Duration = m.opts.Warmup
			m.log.Info("warm-up", "scenario", sc.Name, "chain", c.Name)
			if _, err := runWrk(ctx, m.wrk, m.dir, w); err != nil {
				return res, fmt.Errorf("%s warm-up: %w", c.Name, err)
			}
		}
	}
	results := make([][]RunResult, len(chains))
	cpu := make([]float64, len(chains))
	for round := 1; round <= m.opts.Rounds; round++ {
		for i, c := range chains {
			m.log.Info("run", "scenario", sc.Name, "chain", c.Name, "round", round)
			rr, cpuSec, err := m.measure(ctx, c, runs[i])
			if err != nil {
				return res, fmt.Errorf("%s round %d: %w", c.Name, round, err)
			}
			rr.Round = round
			results[i] = append(results[i], rr)
			cpu[i] += cpuSec
		}
	}
	for i, c := range chains {
		res.Chains = append(res.Chains, aggregate(c.Name, results[i], cpu[i]))
	}
	res.Ratios = ratios(res.Chains)
	return res, nil
}

// measure runs wrk once against c and accounts the CPU c's processes used.
func (m *measurer) measure(ctx context.Context, c chain, run wrkRun) (RunResult, float64, error) {
	before, err := sampleCPU("/proc", c.Roots...)
	if err != nil {
		return RunResult{}, 0, err
	}
	busy0, err := busyTicks("/proc")
	if err != nil {
		return RunResult{}, 0, err
	}
	start := time.Now()
	wr, err := runWrk(ctx, m.wrk, m.dir, run)
	if err != nil {
		return RunResult{}, 0, err
	}
	wall := time.Since(start).Seconds()
	after, err := sampleCPU("/proc", c.Roots...)
	if err != nil {
		return RunResult{}, 0, err
	}
	busy1, err := busyTicks("/proc")
	if err != nil {
		return RunResult{}, 0, err
	}
	cpuSec := cpuSecondsBetween(before, after)
	if other := float64(busy1-busy0)/clockTicks - cpuSec - wr.wrkCPU; other > 0 {
		m.otherCPU += other
	}
	m.wallInRuns += wall
	if rss, err := rssMB(m.stackRoots[c.Stack]...); err == nil {
		if m.maxRSS == nil {
			m.maxRSS = map[string]float64{}
		}
		m.maxRSS[c.Stack] = max(m.maxRSS[c.Stack], rss)
	}
	rr := RunResult{
		RPS:      wr.RPS(),
		P50MS:    float64(wr.LatencyUS.P50) / 1000,
		P99MS:    float64(wr.LatencyUS.P99) / 1000,
		Requests: wr.Requests,
		Errors:   wr.ErrorCount(),
		Bytes:    wr.Bytes,
		MBPerSec: float64(wr.Bytes) / (1 << 20) / (float64(wr.DurationUS) / 1e6),
	}
	if wr.Requests > 0 {
		rr.CPUSecPer1k = cpuSec / float64(wr.Requests) * 1000
	}
	return rr, cpuSec, nil
}

// checkGet waits until the chain's ingest has settled (the ingests app's
// worker updates a new ingest in the background: two reads 200 ms apart
// agree) and logs what came back, so a -v run shows every chain answers
// alike.
func checkGet(ctx context.Context, client *http.Client, c chain, log *slog.Logger) error {
	var last string
	var hdr http.Header
	deadline := time.Now().Add(15 * time.Second)
	for {
		body, h, err := getOnce(ctx, client, c)
		if err != nil {
			return err
		}
		if body == last {
			hdr = h
			break
		}
		last = body
		if time.Now().After(deadline) {
			log.Warn("ingest still changing; measuring anyway", "chain", c.Name)
			hdr = h
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	var names []string
	for k := range hdr {
		names = append(names, k)
	}
	sort.Strings(names)
	log.Info("ingest through chain", "chain", c.Name, "headers", strings.Join(names, ","), "body_bytes", len(last))
	return nil
}

func getOnce(ctx context.Context, client *http.Client, c chain) (string, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.getURL, nil)
	if err != nil {
		return "", nil, err
	}
	for _, h := range c.headers {
		req.Header.Set(h[0], h[1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", nil, fmt.Errorf("%s: GET %s: %w", c.Name, c.getURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", nil, fmt.Errorf("%s: GET %s: %w", c.Name, c.getURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", nil, fmt.Errorf("%s: GET %s: %s: %s", c.Name, c.getURL, resp.Status, truncate(string(body), 300))
	}
	return string(body), resp.Header, nil
}
