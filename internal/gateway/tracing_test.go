package gateway

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portway/portway/internal/h1"
	"github.com/portway/portway/internal/h1/h1test"
	"github.com/portway/portway/internal/rotate"
	"github.com/portway/portway/internal/testutil"
	"github.com/portway/portway/internal/trace"
	"github.com/portway/portway/internal/trace/tracetest"
)

type hopList = tracetest.Hops

// linesWriter collects access log lines.
type linesWriter struct {
	mu    sync.Mutex
	lines []string
}

func (w *linesWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lines = append(w.lines, string(p))
	return len(p), nil
}

func (w *linesWriter) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.lines...)
}

// The gateway records its hop of every request: the caller's trace id,
// the route, client, authorizer outcome, status and the addresses of the
// upstream connection (for the join with the load balancer's flow).
func TestGatewayRecordsHop(t *testing.T) {
	backend := newEchoBackend(t)
	js := newJWKSServer(t)
	hops := &hopList{}
	logs := &logBuffer{}
	g := startGateway(t, Config{
		Resources: []Resource{
			anyResource("/open", backend.URL+"/open", 0),
			{Path: "/closed", Methods: []Method{proxyMethod("GET", AuthCognito, backend.URL+"/closed", "s/read")}},
		},
		Authorizer: AuthorizerConfig{Issuer: testIssuer, JWKSURL: js.URL()},
		Traces:     hops, Logger: logs.logger(),
	})
	const caller = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	res, out := get(t, g.URL()+"/v1/open", "X-Amzn-Trace-Id", caller)
	if res.StatusCode != 200 || decodeEcho(t, out).Header.Get("X-Amzn-Trace-Id") != caller {
		t.Fatalf("status %d, backend got %q", res.StatusCode, decodeEcho(t, out).Header.Get("X-Amzn-Trace-Id"))
	}
	claims := base64.RawURLEncoding.EncodeToString([]byte(`{"client_id":"abc123","token_use":"access"}`))
	res401, _ := get(t, g.URL()+"/v1/closed", "Authorization", "Bearer eyJhbGciOiJub25lIn0."+claims+".c2ln")
	if res401.StatusCode != 401 {
		t.Fatalf("status %d", res401.StatusCode)
	}
	// The hop is recorded once the answer is out.
	testutil.WaitFor(t, 5*time.Second, "two hops", func() bool { return len(hops.All()) == 2 })
	hs := hops.All()
	h := hs[0]
	if h.Kind != trace.KindGateway || h.Trace != "1-5759e988-bd862e3fe1be46a994272793" || h.RequestID != res.Header.Get("x-amzn-RequestId") ||
		h.Route != "/open" || h.Status != 200 || h.Method != "GET" || h.Path != "/v1/open" || h.Stage != "v1" || h.Duration <= 0 || h.Integration <= 0 {
		t.Errorf("hop %+v", h)
	}
	backendAddr := strings.TrimPrefix(backend.URL, "http://")
	if h.UpstreamRemote.String() != backendAddr || !h.UpstreamLocal.IsValid() || h.UpstreamStart < h.Start {
		t.Errorf("upstream %v → %v at %d", h.UpstreamLocal, h.UpstreamRemote, h.UpstreamStart)
	}
	h = hs[1]
	if !trace.ValidRoot(h.Trace) || h.Status != 401 || h.Route != "/closed" || h.ClientID != "abc123" ||
		h.Authorizer != "malformed token or algorithm not RS256" || h.Error != RespUnauthorized || h.UpstreamLocal.IsValid() {
		t.Errorf("refused hop %+v", h)
	}
	// The stderr access line is still there without an access log file.
	testutil.WaitFor(t, 5*time.Second, "two access lines on the logger", func() bool { return strings.Count(logs.String(), `"msg":"access"`) == 2 })
}

func TestClaimedClientID(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, tt := range []struct{ authz, want string }{
		{"Bearer h." + enc(`{"client_id":"abc123"}`) + ".s", "abc123"},
		{"bearer h." + enc(`{"client_id":"abc123"}`) + ".s", "abc123"},
		{"h." + enc(`{"aud":"idclient"}`) + ".s", "idclient"},
		{"h." + enc(`{"aud":["first","second"]}`) + ".s", "first"},
		{"h." + enc(`{"client_id":"a b"}`) + ".s", ""},         // not plain
		{"h." + enc(`{"client_id":"x\u001b[31m"}`) + ".s", ""}, // no escapes into logs
		{"h." + enc(`{"client_id":"`+strings.Repeat("a", 129)+`"}`) + ".s", ""},
		{"h." + enc(`not json`) + ".s", ""},
		{"h.!!!.s", ""},
		{"no dots", ""},
		{"a.b.c.d", ""},
		{"", ""},
	} {
		if got := claimedClientID([]byte(tt.authz)); got != tt.want {
			t.Errorf("claimedClientID(%q) = %q, want %q", tt.authz, got, tt.want)
		}
	}
}

// Every $context variable of an access log format, for a forwarded
// request and for a refused one.
func TestAccessLogFormatVariables(t *testing.T) {
	backend := newEchoBackend(t)
	js := newJWKSServer(t)
	js.setKey("k1", testKey1())
	out := &linesWriter{}
	var b strings.Builder
	names := []string{}
	for _, v := range AccessLogVariables() {
		name := strings.TrimPrefix(v, "$context.")
		names = append(names, name)
		b.WriteString(name + "=" + v + "\t")
	}
	logs := &logBuffer{}
	g := startGateway(t, Config{
		Resources: []Resource{
			anyResource("/open/{proxy+}", backend.URL+"/open/{proxy}", 0),
			{Path: "/closed", Methods: []Method{proxyMethod("GET", AuthCognito, backend.URL+"/closed", "s/read")}},
		},
		Authorizer: AuthorizerConfig{Issuer: testIssuer, JWKSURL: js.URL()},
		AccessLog:  &AccessLog{Format: b.String(), Out: out}, Logger: logs.logger(),
	})
	tok := signToken(t, testKey1(), "k1", tokenClaims(time.Now(), "s/read"))
	resOK, _ := get(t, g.URL()+"/v1/open/a%22b", "User-Agent", `ua "quoted"`, "X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793")
	res401, _ := get(t, g.URL()+"/v1/closed")
	resAuth, _ := get(t, g.URL()+"/v1/closed", "Authorization", "Bearer "+tok)
	testutil.WaitFor(t, 5*time.Second, "three lines", func() bool { return len(out.all()) >= 3 })
	lines := out.all()
	if len(lines) != 3 {
		t.Fatalf("%d lines: %q", len(lines), lines)
	}
	parse := func(line string) map[string]string {
		if !strings.HasSuffix(line, "\n") || strings.Count(line, "\n") != 1 {
			t.Fatalf("line %q", line)
		}
		m := map[string]string{}
		for kv := range strings.SplitSeq(strings.TrimSuffix(line, "\t\n"), "\t") {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
		return m
	}
	ok, refused, authed := parse(lines[0]), parse(lines[1]), parse(lines[2])
	want := map[string]string{
		"requestId": resOK.Header.Get("x-amzn-RequestId"), "extendedRequestId": resOK.Header.Get("x-amz-apigw-id"),
		"identity.sourceIp": "127.0.0.1", "identity.userAgent": `ua \"quoted\"`, "httpMethod": "GET",
		"resourcePath": "/open/{proxy+}", "path": "/v1/open/a%22b", "status": "200", "protocol": "HTTP/1.1",
		"authorizer.error": "-", "authorizer.claims.client_id": "-", "xrayTraceId": "1-5759e988-bd862e3fe1be46a994272793",
		"stage": "v1", "domainName": "127.0.0.1", "error.responseType": "-", "error.message": "-",
	}
	for k, v := range want {
		if ok[k] != v {
			t.Errorf("%s = %q, want %q", k, ok[k], v)
		}
	}
	for _, k := range names {
		if _, seen := ok[k]; !seen {
			t.Errorf("variable %s not rendered", k)
		}
	}
	if _, err := time.Parse("02/Jan/2006:15:04:05 -0700", ok["requestTime"]); err != nil || !strings.HasSuffix(ok["requestTime"], " +0000") {
		t.Errorf("requestTime %q: %v", ok["requestTime"], err)
	}
	for _, k := range []string{"requestTimeEpoch", "responseLength", "integrationLatency", "integration.latency", "responseLatency"} {
		if ok[k] == "-" || strings.Trim(ok[k], "0123456789") != "" {
			t.Errorf("%s = %q, want a number", k, ok[k])
		}
	}
	if refused["status"] != "401" || refused["authorizer.error"] != "missing token" || refused["error.responseType"] != RespUnauthorized ||
		refused["integrationLatency"] != "-" || refused["resourcePath"] != "/closed" || refused["error.message"] != "missing token" ||
		refused["requestId"] != res401.Header.Get("x-amzn-RequestId") || !trace.ValidRoot(refused["xrayTraceId"]) {
		t.Errorf("refused line: %v", refused)
	}
	if authed["authorizer.claims.client_id"] != testClientID || authed["authorizer.error"] != "-" || authed["requestId"] != resAuth.Header.Get("x-amzn-RequestId") {
		t.Errorf("authorized line: %v", authed)
	}
	if strings.Contains(strings.Join(lines, ""), tok) {
		t.Error("the token was logged")
	}
	// With the access log on, the "access" lines on the logger move to Debug.
	if n := len(logs.accessLines(t)); n != 0 {
		t.Errorf("%d access lines at Info with an access log", n)
	}
}

func TestAccessLogDefaultFormatIsJSON(t *testing.T) {
	backend := newEchoBackend(t)
	out := &linesWriter{}
	g := startGateway(t, Config{Resources: []Resource{anyResource("/x", backend.URL+"/x", 0)}, AccessLog: &AccessLog{Out: out}})
	get(t, g.URL()+"/v1/x")
	get(t, g.URL()+"/v1/nope%22x")
	testutil.WaitFor(t, 5*time.Second, "two lines", func() bool { return len(out.all()) >= 2 })
	lines := out.all()
	if len(lines) != 2 {
		t.Fatalf("lines %q", lines)
	}
	for _, l := range lines {
		var m map[string]string
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		for _, k := range []string{"requestId", "extendedRequestId", "ip", "requestTime", "requestTimeEpoch", "httpMethod", "resourcePath",
			"path", "status", "protocol", "responseLength", "integrationLatency", "responseLatency", "authorizer.error",
			"authorizer.claims.client_id", "xrayTraceId"} {
			if m[k] == "" {
				t.Errorf("%s missing in %q", k, l)
			}
		}
	}
}

func TestAccessLogFormatErrors(t *testing.T) {
	for _, tt := range []struct{ format, want string }{
		{`{"id":"$context.requestId","x":"$context.nope"}`, "unknown variable $context.nope"},
		{`$context.authorizer.claims.sub`, "unknown variable $context.authorizer.claims.sub"},
		{`$context.requestId` + "\n", "one line"},
		{`plain text`, "no $context variable"},
	} {
		_, err := New(Config{Listen: "127.0.0.1:0", Stage: "v1", Resources: []Resource{anyResource("/x", "http://127.0.0.1:9/x", 0)},
			AccessLog: &AccessLog{Format: tt.format}})
		if err == nil || !strings.Contains(err.Error(), "accessLog.format") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want %q", tt.format, err, tt.want)
		}
	}
	// Text (CLF-like) formats, and a variable followed by a dot.
	af, err := parseAccessFormat(`$context.identity.sourceIp - [$context.requestTime] "$context.httpMethod $context.path" $context.status.`)
	if err != nil || len(af.vars) != 5 || af.lits[len(af.lits)-1] != "." {
		t.Errorf("CLF format: %v %+v", err, af)
	}
}

// BenchmarkGatewayHopTraced is BenchmarkGatewayHop with tracing and the
// access log file on (a 10,000-trace store and a rotated, buffered file):
// the difference is their cost.
func BenchmarkGatewayHopTraced(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			backend := h1test.RawUpstream(b, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 700\r\n\r\n"+strings.Repeat("x", 700))
			cfg := Config{Resources: []Resource{anyResource("/ingests/{proxy+}", "http://"+backend+"/ingests/{proxy}", 0)}}
			if on {
				f, err := rotate.Open(filepath.Join(b.TempDir(), "access.log"), 10<<20, 5)
				if err != nil {
					b.Fatal(err)
				}
				buf := rotate.NewBuffered(f, 0)
				b.Cleanup(func() { buf.Close() })
				cfg.Traces = trace.NewStore(0, trace.NewFlowLog(0, nil))
				cfg.AccessLog = &AccessLog{Out: buf}
			}
			g := startGateway(b, cfg)
			c, err := net.Dial("tcp", hostOf(g.URL()))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			br := bufio.NewReader(c)
			req := []byte("GET /v1/ingests/0f7d6a4c-1b6c-4d43-8a56-2a6a3b8d9e51 HTTP/1.1\r\nHost: " + hostOf(g.URL()) + "\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
			var res h1.Head
			h1test.Exchange(b, c, br, req, &res)
			b.ReportAllocs()
			stop := h1test.CPUMeter(b)
			for b.Loop() {
				h1test.Exchange(b, c, br, req, &res)
			}
			stop()
		})
	}
}

// BenchmarkTracingCost is the gateway's added work per request with
// tracing and the access log file on: recording the hop in a full
// 10,000-trace store and rendering the default access log line (to a
// discarding writer).
func BenchmarkTracingCost(b *testing.B) {
	store := trace.NewStore(0, nil)
	g, err := New(Config{Listen: "127.0.0.1:0", Stage: "v1",
		Resources: []Resource{{Path: "/ingests/{proxy+}", Methods: []Method{proxyMethod("ANY", AuthNone, "http://127.0.0.1:9/ingests/{proxy}")}}},
		Traces:    store, AccessLog: &AccessLog{Out: discardWriter{}}})
	if err != nil {
		b.Fatal(err)
	}
	sc := &h1.ServerConn{RemoteIP: "127.0.0.1"}
	reqHead := "GET /v1/ingests/0f7d6a4c-1b6c-4d43-8a56-2a6a3b8d9e51 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: bench\r\n\r\n"
	if err := sc.Req.ReadRequest(bufio.NewReader(strings.NewReader(reqHead)), 16<<10); err != nil {
		b.Fatal(err)
	}
	r := newRequest(sc)
	st := &reqState{start: g.now(), requestID: newRequestID(), apigwID: newAPIGWID(), resourcePath: "-", clientID: "-", trace: g.traceHeader(&sc.Req)}
	if _, _, gerr := g.handle(r, st); gerr != nil {
		b.Fatal(gerr)
	}
	st.code, st.bytes = 200, 843
	for i := range trace.DefaultTraces { // a full store: every Add evicts
		store.Add(trace.Hop{Kind: trace.KindGateway, Trace: trace.RootOf(trace.NewHeader(time.Unix(int64(i), 0)))})
	}
	b.ReportAllocs()
	for b.Loop() {
		st.trace = trace.NewHeader(st.start) // a new trace each time, as without a caller's
		g.recordHop(r, st)
		g.writeAccessLine(r, st)
	}
}

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
