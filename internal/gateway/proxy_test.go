package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/portway/portway/internal/testutil"
)

func anyResource(path, uri string, timeout time.Duration) Resource {
	m := proxyMethod("ANY", AuthNone, uri)
	m.Integration.Timeout = timeout
	return Resource{Path: path, Methods: []Method{m}}
}

var (
	traceIDRe = regexp.MustCompile(`^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$`)
	// 11 bytes in padded URL-safe base64: the last character before "="
	// holds 4 bits, as in every recorded id (e.g. "f-r9rE7pywMFtqQ=").
	apigwIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]{14}[AEIMQUYcgkosw048]=$`)
)

func assertGatewayIDs(t *testing.T, res *http.Response) {
	t.Helper()
	id, err := uuid.Parse(res.Header.Get("x-amzn-RequestId"))
	if err != nil || id.Version() != 4 {
		t.Fatalf("x-amzn-RequestId %q is not a v4 UUID", res.Header.Get("x-amzn-RequestId"))
	}
	if v := res.Header.Values("x-amzn-RequestId"); len(v) != 1 {
		t.Fatalf("x-amzn-RequestId values %v", v)
	}
	if !apigwIDRe.MatchString(res.Header.Get("x-amz-apigw-id")) {
		t.Fatalf("x-amz-apigw-id %q", res.Header.Get("x-amz-apigw-id"))
	}
}

func TestProxyRequestIntact(t *testing.T) {
	backend := newEchoBackend(t)
	g := startGateway(t, Config{Resources: []Resource{anyResource("/ingests/{proxy+}", backend.URL+"/ingests/{proxy}", 0)}, Hosts: []string{"api.example.org"}})
	body := make([]byte, 256<<10)
	_, _ = rand.Read(body)
	req, _ := http.NewRequest(http.MethodPost, g.URL()+"/v1/ingests/a/b?x=1&x=2&y=%20z&empty=&raw;semi", bytes.NewReader(body))
	req.Host = "api.example.org"
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Authorization", "Bearer abc")
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	req.Header.Set("X-Forwarded-Host", "evil.example")
	req.Header.Set("X-Forwarded-Prefix", "/evil")
	req.Header.Set("Forwarded", "for=evil")
	req.Header.Set("Connection", "X-Hop")
	req.Header.Set("X-Hop", "drop me")
	req.Header.Set("Keep-Alive", "timeout=5")
	req.Header.Set("X-Custom", "kept")
	// Dropped on the way to the integration, as AWS drops them (see
	// droppedRequestField).
	for _, name := range []string{"Content-MD5", "Max-Forwards", "Proxy-Authenticate", "Server", "WWW-Authenticate", "Via", "X-Forwarded-Port"} {
		req.Header.Set(name, "from the client")
	}
	res, out := do(t, req)
	if res.StatusCode != 200 {
		t.Fatalf("status %d %s", res.StatusCode, out)
	}
	assertGatewayIDs(t, res)
	e := decodeEcho(t, out)
	// ";" splits the query as "&" does (AWS: "results in the data being split").
	if e.Method != http.MethodPost || e.RequestURI != "/ingests/a/b?x=1&x=2&y=%20z&empty=&raw&semi" {
		t.Fatalf("backend got %s %s", e.Method, e.RequestURI)
	}
	if !bytes.Equal(e.Body, body) {
		t.Fatal("body changed on the way")
	}
	h := e.Header
	checks := map[string]string{
		"Content-Type":       "application/octet-stream",
		"Authorization":      "Bearer abc",
		"X-Forwarded-For":    "203.0.113.9, 127.0.0.1",
		"X-Forwarded-Proto":  "http",
		"X-Forwarded-Port":   g.port,
		"X-Forwarded-Host":   "", // AWS sends neither (see TestForwardedHostAndPrefixOptIn)
		"X-Forwarded-Prefix": "",
		"X-Custom":           "kept",
		"X-Hop":              "",
		"Keep-Alive":         "",
		"Forwarded":          "",
		"Content-MD5":        "",
		"Max-Forwards":       "",
		"Proxy-Authenticate": "",
		"Server":             "",
		"WWW-Authenticate":   "",
		"Via":                "",
	}
	for k, want := range checks {
		if got := strings.Join(h.Values(k), ","); got != want {
			t.Errorf("backend header %s = %q, want %q", k, got, want)
		}
	}
	if !traceIDRe.MatchString(h.Get("X-Amzn-Trace-Id")) {
		t.Errorf("X-Amzn-Trace-Id %q", h.Get("X-Amzn-Trace-Id"))
	}
	if e.Host != hostOf(backend.URL) {
		t.Errorf("backend Host %q", e.Host)
	}
}

// x-amz-apigw-id is AWS's 16-character form in the URL-safe alphabet:
// recorded ids such as "f-r9rE7pywMFtqQ=" (an AWS Security Hub response in
// vlj91/github-webhook-to-aws-securityhub's tests), "bl9ujGCeFiAFumQ=",
// "MJeWVEqovHcFmUw=" have "-", never "+" or "/".
func TestAPIGWIDAlphabet(t *testing.T) {
	seen := map[byte]bool{}
	for range 2000 {
		id := newAPIGWID()
		if !apigwIDRe.MatchString(id) {
			t.Fatalf("x-amz-apigw-id %q", id)
		}
		for i := range len(id) {
			seen[id[i]] = true
		}
	}
	if seen['+'] || seen['/'] || !seen['-'] || !seen['_'] {
		t.Fatalf("alphabet: + %v / %v - %v _ %v", seen['+'], seen['/'], seen['-'], seen['_'])
	}
}

// X-Amzn-Trace-Id: API Gateway "adds a tracing header to incoming HTTP
// requests that don't already have one" (Root=1-<8 hex>-<24 hex>, no
// Sampled while tracing is off) and passes a caller's trace through (AWS
// X-Ray developer guide, "Amazon API Gateway active tracing support for AWS
// X-Ray"; API Gateway developer guide, "Trace user requests to REST APIs
// using X-Ray").
func TestTraceIDPassThrough(t *testing.T) {
	backend := newEchoBackend(t)
	g := startGateway(t, Config{Resources: []Resource{anyResource("/x", backend.URL+"/x", 0)}})
	const caller = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	for _, tt := range []struct {
		sent []string
		want string // "" = a new one
	}{
		{nil, ""},
		{[]string{caller}, caller},
		{[]string{"Root=1-5759e988-bd862e3fe1be46a994272793"}, "Root=1-5759e988-bd862e3fe1be46a994272793"},
		{[]string{"garbage"}, ""},
		{[]string{"Root=1-5759E988-bd862e3fe1be46a994272793"}, ""}, // hex is lower case
		{[]string{"Root=1-5759e988-bd862e3fe1be46a99427279"}, ""},
		{[]string{"Root=1-5759e988-bd862e3fe1be46a994272793x"}, ""},
		{[]string{"Self=1-5759e988-bd862e3fe1be46a994272793"}, ""},
		{[]string{"garbage", caller}, caller},
	} {
		req, _ := http.NewRequest(http.MethodGet, g.URL()+"/v1/x", nil)
		for _, v := range tt.sent {
			req.Header.Add("X-Amzn-Trace-Id", v)
		}
		res, out := do(t, req)
		if res.StatusCode != 200 {
			t.Fatalf("status %d", res.StatusCode)
		}
		got := decodeEcho(t, out).Header.Values("X-Amzn-Trace-Id")
		if len(got) != 1 {
			t.Fatalf("sent %q: backend got %q", tt.sent, got)
		}
		if tt.want == "" && (!traceIDRe.MatchString(got[0]) || got[0] == "Root=1-5759e988-bd862e3fe1be46a994272793") {
			t.Errorf("sent %q: backend got %q, want a new trace", tt.sent, got[0])
		}
		if tt.want != "" && got[0] != tt.want {
			t.Errorf("sent %q: backend got %q, want it passed through", tt.sent, got[0])
		}
	}
}

// X-Forwarded-Host and -Prefix are portway's, not AWS's: sent only when
// configured (the built-in stack's apps build their URLs from them).
func TestForwardedHostAndPrefixOptIn(t *testing.T) {
	backend := newEchoBackend(t)
	for _, fh := range []ForwardedHeaders{{}, {Host: true}, {Prefix: true}, {Host: true, Prefix: true}} {
		g := startGateway(t, Config{Resources: []Resource{anyResource("/x", backend.URL+"/x", 0)}, ForwardedHeaders: fh})
		req, _ := http.NewRequest(http.MethodGet, g.URL()+"/v1/x", nil)
		req.Header.Set("X-Forwarded-Host", "evil.example")
		req.Header.Set("X-Forwarded-Prefix", "/evil")
		req.Header.Set("X-Forwarded-Port", "1")
		res, out := do(t, req)
		if res.StatusCode != 200 {
			t.Fatalf("%+v: status %d %s", fh, res.StatusCode, out)
		}
		h := decodeEcho(t, out).Header
		wantHost, wantPrefix := "", ""
		if fh.Host {
			wantHost = hostOf(g.URL())
		}
		if fh.Prefix {
			wantPrefix = "/v1"
		}
		if got := strings.Join(h.Values("X-Forwarded-Host"), ","); got != wantHost {
			t.Errorf("%+v: X-Forwarded-Host %q, want %q", fh, got, wantHost)
		}
		if got := strings.Join(h.Values("X-Forwarded-Prefix"), ","); got != wantPrefix {
			t.Errorf("%+v: X-Forwarded-Prefix %q, want %q", fh, got, wantPrefix)
		}
		_, port, _ := net.SplitHostPort(hostOf(g.URL()))
		if got := strings.Join(h.Values("X-Forwarded-Port"), ","); got != port {
			t.Errorf("%+v: X-Forwarded-Port %q, want %q", fh, got, port)
		}
	}
}

func TestProxyResponseHeaders(t *testing.T) {
	backendDate := "Mon, 02 Jan 2006 15:04:05 GMT"
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "backend/1.0")
		w.Header().Set("Date", backendDate)
		w.Header().Set("X-App", "yes")
		w.Header().Set("x-amzn-RequestId", "spoofed")
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("WWW-Authenticate", `Bearer realm="app"`)
		w.Header().Set("Authorization", "secret")
		w.Header().Set("Content-MD5", "XUFAKrxLKna5cZ2REBfFkg==")
		w.Header().Set("Max-Forwards", "3")
		w.Header().Set("User-Agent", "app/1")
		w.Header().Set("Via", "1.1 app")
		w.Header().Set("Proxy-Authenticate", "Basic")
		w.Header().Set("Host", "app.internal")
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		w.Header().Set("Content-Length", "5")
		w.WriteHeader(201)
		_, _ = io.WriteString(w, "hello")
	}))
	t.Cleanup(backend.Close)
	g := startGateway(t, Config{Resources: []Resource{anyResource("/{proxy+}", backend.URL+"/{proxy}", 0)}})

	res, body := get(t, g.URL()+"/v1/plain")
	if res.StatusCode != 201 || body != "hello" || res.Header.Get("X-App") != "yes" || res.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("status %d body %q headers %v", res.StatusCode, body, res.Header)
	}
	assertGatewayIDs(t, res)
	if res.ContentLength != 5 || res.Header.Get("x-amzn-Remapped-Content-Length") != "5" {
		t.Errorf("Content-Length %d, remapped %q", res.ContentLength, res.Header.Get("x-amzn-Remapped-Content-Length"))
	}
	if res.Header.Get("x-amzn-Remapped-Server") != "backend/1.0" || res.Header.Get("Server") != "" {
		t.Errorf("Server %q, remapped %q", res.Header.Get("Server"), res.Header.Get("x-amzn-Remapped-Server"))
	}
	if res.Header.Get("x-amzn-Remapped-Date") != backendDate || res.Header.Get("Date") == backendDate || res.Header.Get("Date") == "" {
		t.Errorf("Date %q, remapped %q", res.Header.Get("Date"), res.Header.Get("x-amzn-Remapped-Date"))
	}
	if res.Header.Get("x-amzn-Remapped-Connection") != "" {
		t.Errorf("unexpected remapped Connection %q", res.Header.Get("x-amzn-Remapped-Connection"))
	}
	// Remapped as AWS's list says (API Gateway developer guide, "Amazon API
	// Gateway important notes for REST APIs"), the backend's
	// x-amzn-RequestId too (recorded from AWS in localstack's
	// test_apigateway_http snapshot).
	remapped := map[string]string{
		"WWW-Authenticate": `Bearer realm="app"`, "Authorization": "secret", "Content-MD5": "XUFAKrxLKna5cZ2REBfFkg==",
		"Max-Forwards": "3", "User-Agent": "app/1", "x-amzn-RequestId": "spoofed",
	}
	for name, v := range remapped {
		if got := res.Header.Get("x-amzn-Remapped-" + name); got != v {
			t.Errorf("x-amzn-Remapped-%s = %q, want %q", name, got, v)
		}
		if name != "x-amzn-RequestId" && res.Header.Get(name) != "" {
			t.Errorf("%s reached the client as it was: %q", name, res.Header.Get(name))
		}
	}
	for _, name := range []string{"Via", "Proxy-Authenticate", "Host"} {
		if v := res.Header.Values(name); len(v) != 0 {
			t.Errorf("%s reached the client: %q", name, v)
		}
	}

	res, _ = get(t, g.URL()+"/v1/close")
	if res.Header.Get("x-amzn-Remapped-Connection") != "close" {
		t.Errorf("remapped Connection %q", res.Header.Get("x-amzn-Remapped-Connection"))
	}
	if res.Close {
		t.Error("the backend's Connection: close reached the client")
	}
}

func TestIntegrationErrors(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	refused := closedPortURL(t)

	g := startGateway(t, Config{Resources: []Resource{
		anyResource("/slow", slow.URL+"/", 100*time.Millisecond),
		anyResource("/refused", refused+"/", 0),
	}})
	tests := []struct {
		path, body, errType string
		status              int
	}{
		{"/v1/slow", `{"message":"Endpoint request timed out"}`, "InternalServerErrorException", 504},
		{"/v1/refused", `{"message":"Internal server error"}`, "InternalServerErrorException", 500},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			start := time.Now()
			res, body := get(t, g.URL()+tt.path)
			if res.StatusCode != tt.status || body != tt.body || res.Header.Get("x-amzn-ErrorType") != tt.errType {
				t.Fatalf("got %d %s %v", res.StatusCode, body, res.Header)
			}
			assertGatewayIDs(t, res)
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("took %s", d)
			}
		})
	}
}

func TestRequestTooLarge(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			return
		}
		fmt.Fprintf(w, "%d", n)
	}))
	t.Cleanup(backend.Close)
	g := startGateway(t, Config{Resources: []Resource{anyResource("/up", backend.URL+"/", 0)}})
	addr := hostOf(g.URL())
	const tooLarge = `{"message":"Request Too Long"}`

	t.Run("declared Content-Length", func(t *testing.T) {
		res, body := rawRequest(t, addr, fmt.Sprintf("POST /v1/up HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", addr, MaxRequestBodyBytes+1))
		if res.StatusCode != 413 || body != tooLarge {
			t.Fatalf("got %d %s", res.StatusCode, body)
		}
	})
	t.Run("exactly the limit", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, g.URL()+"/v1/up", bytes.NewReader(make([]byte, MaxRequestBodyBytes)))
		res, body := do(t, req)
		if res.StatusCode != 200 || body != fmt.Sprint(MaxRequestBodyBytes) {
			t.Fatalf("got %d %s", res.StatusCode, body)
		}
	})
	t.Run("chunked stream over the limit", func(t *testing.T) {
		// io.MultiReader hides the length, so the client streams it chunked.
		req, _ := http.NewRequest(http.MethodPost, g.URL()+"/v1/up", io.MultiReader(bytes.NewReader(make([]byte, MaxRequestBodyBytes+1))))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			// The gateway may answer and close before the client finished sending.
			t.Logf("client error (acceptable): %v", err)
			return
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 413 || string(body) != tooLarge {
			t.Fatalf("got %d %s", res.StatusCode, body)
		}
	})
}

func TestStorageResponses(t *testing.T) {
	rs := StorageResponses()
	if len(rs) != len(ResponseTypes()) {
		t.Fatalf("%d templates for %d types", len(rs), len(ResponseTypes()))
	}
	for _, typ := range ResponseTypes() {
		rt, ok := rs[typ]
		if !ok {
			t.Fatalf("no template for %s", typ)
		}
		if rt.Headers["Content-Type"] != "application/json" || rt.StatusCode != responseDefaults[typ].status {
			t.Fatalf("%s: %+v", typ, rt)
		}
		rr := resolveResponses(rs)[typ]
		body := rr.render(`a "quoted" message`, renderContext{})
		var m map[string]any
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("%s: body %s: %v", typ, body, err)
		}
		want := map[string]any{"errorType": "http", "httpStatus": float64(rt.StatusCode), "label": http.StatusText(rt.StatusCode),
			"description": `a "quoted" message`, "type": "Error"}
		if fmt.Sprint(m) != fmt.Sprint(want) {
			t.Fatalf("%s: got %v, want %v", typ, m, want)
		}
	}

	// End to end: the storage shape replaces AWS's default bodies.
	g := startGateway(t, Config{Responses: StorageResponses(), Resources: []Resource{anyResource("/x", "http://127.0.0.1:9/", 0)}})
	res, body := get(t, g.URL()+"/v1/nope")
	want := `{"errorType":"http","httpStatus":403,"label":"Forbidden","description":"Missing Authentication Token","type":"Error"}`
	if res.StatusCode != 403 || body != want || res.Header.Get("Content-Type") != "application/json" ||
		res.Header.Get("x-amzn-ErrorType") != "MissingAuthenticationTokenException" {
		t.Fatalf("got %d %s %v", res.StatusCode, body, res.Header)
	}
}

func TestResponseOverrides(t *testing.T) {
	g := startGateway(t, Config{
		Resources: []Resource{anyResource("/x", closedPortURL(t)+"/", 0)},
		Responses: map[string]ResponseTemplate{
			RespDefault4XX: {Headers: map[string]string{"X-Default": "4xx"}, Body: `{"t":"$context.error.responseType","id":"$context.requestId","p":"$context.path","s":"$context.stage","m":"$context.error.message"}`},
			RespDefault5XX: {StatusCode: 503, Body: `{"five":$context.error.messageString}`},
		},
	})
	res, body := get(t, g.URL()+"/v1/a/b/")
	rid := res.Header.Get("x-amzn-RequestId")
	want := fmt.Sprintf(`{"t":"MISSING_AUTHENTICATION_TOKEN","id":"%s","p":"/v1/a/b","s":"v1","m":"Missing Authentication Token"}`, rid)
	if res.StatusCode != 403 || body != want || res.Header.Get("X-Default") != "4xx" {
		t.Fatalf("got %d %s %v", res.StatusCode, body, res.Header)
	}
	res, body = get(t, g.URL()+"/v1/x") // nothing listens: integration failure
	if res.StatusCode != 503 || body != `{"five":"Internal server error"}` {
		t.Fatalf("got %d %s", res.StatusCode, body)
	}
}

func TestThrottle(t *testing.T) {
	backend := newEchoBackend(t)
	clock := newFakeClock()
	g := startGateway(t, Config{
		Resources: []Resource{anyResource("/x", backend.URL+"/", 0)},
		Throttle:  ThrottleConfig{RateLimit: 1, BurstLimit: 2},
		Now:       clock.Now,
	})
	for i, want := range []int{200, 200, 429} {
		res, body := get(t, g.URL()+"/v1/x")
		if res.StatusCode != want {
			t.Fatalf("request %d: %d %s", i, res.StatusCode, body)
		}
		if want == 429 && (body != `{"message":"Too Many Requests"}` || res.Header.Get("x-amzn-ErrorType") != "TooManyRequestsException") {
			t.Fatalf("throttled: %s %v", body, res.Header)
		}
	}
	clock.Advance(time.Second)
	if res, _ := get(t, g.URL()+"/v1/x"); res.StatusCode != 200 {
		t.Fatalf("after refill: %d", res.StatusCode)
	}
}

func TestAccessLog(t *testing.T) {
	backend := newEchoBackend(t)
	logs := &logBuffer{}
	g := startGateway(t, Config{Logger: logs.logger(), Resources: []Resource{anyResource("/bags/{proxy+}", backend.URL+"/bags/{proxy}", 0)}})
	res, body := get(t, g.URL()+"/v1/bags/a?secret=no", "Authorization", "Bearer sekrit-token")
	if res.StatusCode != 200 {
		t.Fatal(body)
	}
	res2, _ := get(t, g.URL()+"/v1/missing")
	var lines []map[string]any
	testutil.WaitFor(t, 10*time.Second, "two access lines", func() bool { lines = logs.accessLines(t); return len(lines) == 2 })
	ok, miss := lines[0], lines[1]
	for _, k := range []string{"requestId", "sourceIp", "client_id", "method", "resourcePath", "path", "status", "responseLength", "integrationLatency", "responseLatency"} {
		if _, found := ok[k]; !found {
			t.Errorf("access line lacks %s: %v", k, ok)
		}
	}
	if ok["requestId"] != res.Header.Get("x-amzn-RequestId") || ok["resourcePath"] != "/bags/{proxy+}" || ok["path"] != "/v1/bags/a" ||
		ok["status"] != float64(200) || ok["sourceIp"] != "127.0.0.1" || ok["responseLength"] != float64(len(body)) || ok["method"] != "GET" ||
		ok["stage"] != "v1" || ok["domainName"] != "127.0.0.1" || ok["client_id"] != "-" {
		t.Errorf("access line %v", ok)
	}
	if miss["requestId"] != res2.Header.Get("x-amzn-RequestId") || miss["status"] != float64(403) || miss["errorType"] != RespMissingAuthToken {
		t.Errorf("access line %v", miss)
	}
	if strings.Contains(logs.String(), "sekrit") {
		t.Error("the token was logged")
	}
}

// closedPortURL returns a loopback URL where nothing listens.
func closedPortURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return "http://" + ln.Addr().String()
}

// TestAccessLogLatencies: integrationLatency is the time spent waiting for
// the backend and responseLatency the whole request, both in milliseconds by
// the injected clock; a request the gateway answers itself has no
// integration latency.
func TestAccessLogLatencies(t *testing.T) {
	clock := newFakeClock()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		clock.Advance(250 * time.Millisecond)
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(backend.Close)
	logs := &logBuffer{}
	g := startGateway(t, Config{Logger: logs.logger(), Now: clock.Now, Resources: []Resource{anyResource("/x", backend.URL+"/", 0)}})
	if res, body := get(t, g.URL()+"/v1/x"); res.StatusCode != 200 || body != "ok" {
		t.Fatalf("got %d %s", res.StatusCode, body)
	}
	if res, _ := get(t, g.URL()+"/v1/missing"); res.StatusCode != 403 {
		t.Fatalf("got %d", res.StatusCode)
	}
	var lines []map[string]any
	testutil.WaitFor(t, 10*time.Second, "two access lines", func() bool { lines = logs.accessLines(t); return len(lines) == 2 })
	for i, want := range []struct {
		status, integration, response float64
	}{{200, 250, 250}, {403, 0, 0}} {
		l := lines[i]
		if l["status"] != want.status || l["integrationLatency"] != want.integration || l["responseLatency"] != want.response {
			t.Errorf("line %d: status %v integrationLatency %v responseLatency %v, want %v %v %v",
				i, l["status"], l["integrationLatency"], l["responseLatency"], want.status, want.integration, want.response)
		}
	}
}

// fakeLink is a VPCLink that owns one address and dials it over TCP.
type fakeLink struct {
	addr  string
	dials atomic.Int64
}

func (l *fakeLink) DialListener(ctx context.Context, address string) (net.Conn, bool, error) {
	if address != l.addr {
		return nil, false, nil
	}
	l.dials.Add(1)
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", address)
	return c, true, err
}

// TestVPCLinkDialsInProcess: integration hosts the VPC link owns are dialed
// through it; others over TCP.
func TestVPCLinkDialsInProcess(t *testing.T) {
	linked, direct := newEchoBackend(t), newEchoBackend(t)
	link := &fakeLink{addr: hostOf(linked.URL)}
	g := startGateway(t, Config{VPCLink: link, Resources: []Resource{
		anyResource("/linked", linked.URL+"/linked", 0),
		anyResource("/direct", direct.URL+"/direct", 0),
	}})
	for _, path := range []string{"/linked", "/direct", "/linked"} {
		if res, body := get(t, g.URL()+"/v1"+path); res.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", path, res.StatusCode, body)
		}
	}
	if n := link.dials.Load(); n != 1 {
		t.Fatalf("VPC link dialed %d times, want 1 (then the connection is reused)", n)
	}
}
