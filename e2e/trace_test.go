package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/portway/portway/internal/stack"
	"github.com/portway/portway/internal/testutil"
	"github.com/portway/portway/internal/trace"
)

// TestTraceEveryHop sends a request with its own X-Amzn-Trace-Id through
// `portway up` and follows it with `portway trace`: the gateway, the load
// balancer's flow (with the target chosen), the sidecar and the app, in
// order, with microsecond timings; refused requests are listed by
// --status 4xx with the authorizer's reason and the client id the token
// claims; the access log has the API Gateway-named fields.
func TestTraceEveryHop(t *testing.T) {
	stateDir := t.TempDir()
	up := startUp(t, stateDir, "--config", writeConfig(t, testStack(65)))
	defer up.stop(t)

	var ep stack.Endpoints
	readJSONFile(t, filepath.Join(stateDir, stack.EndpointsFile), &ep)
	var creds map[string]string
	readJSONFile(t, filepath.Join(stateDir, stack.CredentialsFile), &creds)
	cc := clientcredentials.Config{ClientID: creds["client_id"], ClientSecret: creds["client_secret"], TokenURL: creds["token_url"]}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}

	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	root := fmt.Sprintf("1-%08x-%s", time.Now().Unix(), hex.EncodeToString(rnd[:]))
	send := func(authz, traceHeader string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, ep.APIURL+"/ingests/6a1f3e0e-0000-4000-8000-000000000001", nil)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		if traceHeader != "" {
			req.Header.Set("X-Amzn-Trace-Id", traceHeader)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	ok := send("Bearer "+tok.AccessToken, "Root="+root+";Parent=53995c3f42cd8ad8;Sampled=1")
	if ok.StatusCode == http.StatusUnauthorized || ok.StatusCode >= 500 {
		t.Fatalf("traced request: %s", ok.Status)
	}

	// All four hops, in order (sidecars and apps report a moment later).
	var tr trace.Trace
	testutil.WaitFor(t, 15*time.Second, "the trace's four hops", func() bool {
		out, _, err := runPortway(t, "trace", "--state-dir", stateDir, "--json", root)
		if err != nil {
			return false
		}
		tr = trace.Trace{}
		if err := json.Unmarshal([]byte(out), &tr); err != nil {
			t.Fatalf("--json: %v\n%s", err, out)
		}
		return len(tr.Hops) >= 4
	})
	var kinds []string
	for i, h := range tr.Hops {
		kinds = append(kinds, h.Kind)
		if i > 0 && h.Offset < tr.Hops[i-1].Offset {
			t.Errorf("hops out of order: %+v", tr.Hops)
		}
	}
	if strings.Join(kinds, ",") != "gateway,nlb,sidecar,app" {
		t.Fatalf("hops = %v, want gateway,nlb,sidecar,app", kinds)
	}
	g, n, s, a := tr.Hops[0], tr.Hops[1], tr.Hops[2], tr.Hops[3]
	if tr.TraceID != root || g.RequestID != ok.Header.Get("x-amzn-RequestId") {
		t.Errorf("trace %s request %s, want %s %s", tr.TraceID, g.RequestID, root, ok.Header.Get("x-amzn-RequestId"))
	}
	if g.Route != "/ingests/{proxy+}" || g.ClientID != creds["client_id"] || g.Authorizer != "allow" || g.Status != ok.StatusCode {
		t.Errorf("gateway hop: %+v", g.Hop)
	}
	if n.TargetGroup != "ingests" || !strings.HasPrefix(n.Target, fmt.Sprintf("127.77.%d.", 101+2*65)) || !strings.HasSuffix(n.Target, ":9000") || n.Connect <= 0 {
		t.Errorf("nlb hop: %+v", n.Hop)
	}
	if s.Status != ok.StatusCode || s.UpstreamStatus != ok.StatusCode || s.UpstreamTime <= 0 || s.Task == "" {
		t.Errorf("sidecar hop: %+v", s.Hop)
	}
	if a.Status != ok.StatusCode || a.Task != s.Task {
		t.Errorf("app hop: %+v", a.Hop)
	}
	for _, h := range []trace.HopView{g, s, a} {
		if h.Duration <= 0 || h.Duration > g.Duration {
			t.Errorf("%s duration %dµs (gateway %dµs)", h.Kind, h.Duration, g.Duration)
		}
	}
	// The text form, by request id.
	text, _, err := runPortway(t, "trace", "--state-dir", stateDir, ok.Header.Get("x-amzn-RequestId"))
	if err != nil || !strings.Contains(text, "target "+n.Target) || !strings.Contains(text, "route /ingests/{proxy+}") {
		t.Errorf("trace text: %v\n%s", err, text)
	}

	// The traces are the control API's: its token is needed.
	if resp, err := http.Get(ep.ControlURL + "/traces?last=1"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /traces without the control token: %v %v", resp.Status, err)
	} else {
		resp.Body.Close()
	}

	// Refused: no token, and a readable token that is not valid.
	noToken := send("", "")
	claims := base64.RawURLEncoding.EncodeToString([]byte(`{"client_id":"readableclient1","token_use":"access"}`))
	forged := send("Bearer eyJhbGciOiJub25lIn0."+claims+".c2ln", "")
	if noToken.StatusCode != 401 || forged.StatusCode != 401 {
		t.Fatalf("refused: %s, %s", noToken.Status, forged.Status)
	}
	out, _, err := runPortway(t, "trace", "--state-dir", stateDir, "--last", "5", "--status", "4xx", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Traces []trace.Trace }
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	found := map[string]trace.Hop{}
	for _, tr := range list.Traces {
		found[tr.RequestID] = tr.Hops[0].Hop
		if tr.Status/100 != 4 {
			t.Errorf("--status 4xx listed %d", tr.Status)
		}
	}
	if h := found[noToken.Header.Get("x-amzn-RequestId")]; h.Status != 401 || h.Authorizer != "missing token" {
		t.Errorf("no-token request: %+v (list %s)", h, out)
	}
	if h := found[forged.Header.Get("x-amzn-RequestId")]; h.Status != 401 || h.ClientID != "readableclient1" || h.Authorizer == "" {
		t.Errorf("forged-token request: %+v", h)
	}
	listText, _, _ := runPortway(t, "trace", "--state-dir", stateDir, "--last", "5", "--status", "401")
	if !strings.Contains(listText, "readableclient1") {
		t.Errorf("trace --status 401:\n%s", listText)
	}

	// The access log: one JSON line per request, API Gateway's names.
	logPath := filepath.Join(stateDir, "logs", "access.log")
	lines := map[string]map[string]string{}
	testutil.WaitFor(t, 10*time.Second, "the access log lines", func() bool {
		f, err := os.Open(logPath)
		if err != nil {
			return false
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var m map[string]string
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("access log line is not JSON of strings: %v\n%s", err, sc.Text())
			}
			lines[m["requestId"]] = m
		}
		return lines[forged.Header.Get("x-amzn-RequestId")] != nil
	})
	l := lines[ok.Header.Get("x-amzn-RequestId")]
	timeRe := regexp.MustCompile(`^\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000$`)
	if l["xrayTraceId"] != root || l["extendedRequestId"] != ok.Header.Get("x-amz-apigw-id") || l["httpMethod"] != "GET" ||
		l["resourcePath"] != "/ingests/{proxy+}" || l["authorizer.claims.client_id"] != creds["client_id"] ||
		l["authorizer.error"] != "-" || l["protocol"] != "HTTP/1.1" || !timeRe.MatchString(l["requestTime"]) || l["ip"] != "127.0.0.1" {
		t.Errorf("traced request's line: %v", l)
	}
	l = lines[forged.Header.Get("x-amzn-RequestId")]
	if l["status"] != "401" || l["authorizer.claims.client_id"] != "readableclient1" || l["authorizer.error"] == "-" || strings.Contains(fmt.Sprint(l), claims) {
		t.Errorf("refused request's line: %v", l)
	}
	if strings.Contains(up.stderr.String(), `"msg":"access"`) || strings.Contains(up.stderr.String(), "msg=access") {
		t.Errorf("access lines still on stderr with the access log on")
	}
}

// TestTraceOverTCPLink: with nlb.gatewayLink tcp the gateway reaches the
// load balancer's listener over TCP; the flow is still joined exactly, by
// the addresses of the gateway's connection to the listener.
func TestTraceOverTCPLink(t *testing.T) {
	stateDir := t.TempDir()
	cfg := testStack(66)
	cfg.NLB.GatewayLink = stack.LinkTCP
	up := startUp(t, stateDir, "--config", writeConfig(t, cfg))
	defer up.stop(t)
	var ep stack.Endpoints
	readJSONFile(t, filepath.Join(stateDir, stack.EndpointsFile), &ep)
	tok, _, err := runPortway(t, "token", "--state-dir", stateDir)
	if err != nil {
		t.Fatal(err)
	}
	var rids []string
	for range 3 { // the first opens the flow, the others reuse it
		req, _ := http.NewRequest(http.MethodGet, ep.APIURL+"/bags/digitised/b1", nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(tok))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		rids = append(rids, resp.Header.Get("x-amzn-RequestId"))
	}
	for i, rid := range rids {
		var tr trace.Trace
		testutil.WaitFor(t, 15*time.Second, "four hops", func() bool {
			out, _, err := runPortway(t, "trace", "--state-dir", stateDir, "--json", rid)
			tr = trace.Trace{}
			return err == nil && json.Unmarshal([]byte(out), &tr) == nil && len(tr.Hops) == 4
		})
		n := tr.Hops[1]
		if n.Kind != trace.KindNLB || n.InProcess || n.TargetGroup != "bags" || n.Target == "" || n.Listener != cfg.NLB.Address+":65534" {
			t.Errorf("request %d: nlb hop %+v", i, n.Hop)
		}
		if i > 0 && !n.Reused || i == 0 && (n.Reused || n.Connect <= 0) {
			t.Errorf("request %d: reused=%v: %+v", i, n.Reused, n.Hop)
		}
	}
}

// TestStandaloneGatewayAccessLog: `portway gateway --access-log FILE`
// writes the lines in gateway.accessLog.format there, not on stderr.
func TestStandaloneGatewayAccessLog(t *testing.T) {
	dir := t.TempDir()
	cfg := testStack(67)
	cfg.Gateway.AccessLog.Format = `$context.identity.sourceIp [$context.requestTime] "$context.httpMethod $context.path $context.protocol" $context.status $context.requestId $context.authorizer.error`
	cfgPath := writeConfig(t, cfg)
	logPath := filepath.Join(dir, "gw-access.log")
	gwURL, stderr := startComponent(t, regexp.MustCompile(`gateway listening" url=(\S+)`),
		"gateway", "--config", cfgPath, "--state-dir", dir, "--listen", "127.0.0.1:0", "--access-log", logPath,
		"--issuer", "http://127.0.0.1:1/pool", "--jwks-url", "http://127.0.0.1:1/.well-known/jwks.json")
	resp, err := http.Get(gwURL + "/v1/bags/digitised/b1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %s", resp.Status)
	}
	want := regexp.MustCompile(`^127\.0\.0\.1 \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET /v1/bags/digitised/b1 HTTP/1\.1" 401 ` +
		regexp.QuoteMeta(resp.Header.Get("x-amzn-RequestId")) + ` missing token\n$`)
	testutil.WaitFor(t, 10*time.Second, "the access log line", func() bool {
		b, _ := os.ReadFile(logPath)
		return want.Match(b)
	})
	if strings.Contains(stderr.String(), `msg=access`) || strings.Contains(stderr.String(), `"msg":"access"`) {
		t.Errorf("access line on stderr too:\n%s", stderr)
	}
}
