package gateway

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/portway/portway/internal/testutil"
)

func TestThrottlePerStage(t *testing.T) {
	backend := newEchoBackend(t)
	clock := newFakeClock()
	vars := map[string]string{"host": hostOf(backend.URL)}
	g := startGateway(t, Config{
		Stages: []Stage{
			{Name: "v1", Variables: vars},
			{Name: "v2", Variables: vars, Throttle: &ThrottleConfig{RateLimit: 10, BurstLimit: 3}},
			{Name: "open", Variables: vars, Throttle: &ThrottleConfig{}},
		},
		Domains:   []Domain{{Name: "api.localhost", Mappings: []BasePathMapping{{BasePath: "storage/v1", Stage: "v1"}}}},
		Throttle:  ThrottleConfig{RateLimit: 1, BurstLimit: 1},
		Resources: []Resource{anyResource("/x", "http://${stageVariables.host}/", 0)},
		Now:       clock.Now,
	})
	call := func(path, host string) int {
		req, _ := http.NewRequest(http.MethodGet, g.URL()+path, nil)
		if host != "" {
			req.Host = host
		}
		res, body := do(t, req)
		if res.StatusCode == 429 && (body != `{"message":"Too Many Requests"}` || res.Header.Get("x-amzn-ErrorType") != "TooManyRequestsException") {
			t.Fatalf("throttled response %s %v", body, res.Header)
		}
		return res.StatusCode
	}
	steps := []struct {
		path, host string
		want       int
	}{
		{"/v1/x", "", 200},
		{"/v1/x", "", 429},                      // v1: the default 1 rps, burst 1
		{"/storage/v1/x", "api.localhost", 429}, // the same stage through its domain
		{"/v2/x", "", 200},                      // v2 has its own bucket of 3
		{"/v2/x", "", 200},
		{"/v2/x", "", 200},
		{"/v2/x", "", 429},
		{"/v1/nope", "", 429}, // stage throttling comes before routing
	}
	for i, s := range steps {
		if got := call(s.path, s.host); got != s.want {
			t.Fatalf("step %d %s: %d, want %d", i, s.path, got, s.want)
		}
	}
	for range 20 {
		if got := call("/open/x", ""); got != 200 {
			t.Fatalf("unthrottled stage: %d", got)
		}
	}
	clock.Advance(time.Second)
	if got := call("/storage/v1/x", "api.localhost"); got != 200 {
		t.Fatalf("after refill: %d", got)
	}
	if got := call("/v2/x", ""); got != 200 { // 10 rps: refilled too
		t.Fatalf("v2 after refill: %d", got)
	}
}

func TestThrottlePerClient(t *testing.T) {
	backend := newEchoBackend(t)
	js := newJWKSServer(t)
	js.setKey("k1", testKey1())
	clock := newFakeClock()
	logs := &logBuffer{}
	g := startGateway(t, Config{
		Resources: []Resource{
			{Path: "/bags", Methods: []Method{proxyMethod("ANY", AuthCognito, backend.URL+"/bags", scopeBags)}},
			{Path: "/open", Methods: []Method{proxyMethod("ANY", AuthNone, backend.URL+"/open")}},
		},
		Authorizer: AuthorizerConfig{Issuer: testIssuer, JWKSURL: js.URL()},
		Throttle:   ThrottleConfig{PerClient: ClientThrottleConfig{RateLimit: 0.5, BurstLimit: 2}},
		Now:        clock.Now,
		Logger:     logs.logger(),
	})
	token := func(client string) string {
		c := tokenClaims(clock.Now(), scopeBags)
		c["client_id"], c["sub"] = client, client
		return "Bearer " + signToken(t, testKey1(), "k1", c)
	}
	alice, bob := token("alice"), token("bob")
	call := func(path, authz string) int {
		t.Helper()
		if authz == "" {
			res, _ := get(t, g.URL()+path)
			return res.StatusCode
		}
		res, _ := get(t, g.URL()+path, "Authorization", authz)
		return res.StatusCode
	}
	steps := []struct {
		path, authz string
		want        int
	}{
		{"/v1/bags", alice, 200},
		{"/v1/bags", alice, 200},
		{"/v1/bags", alice, 429}, // alice's burst of 2 is used up
		{"/v1/bags", bob, 200},   // bob has his own bucket
		{"/v1/bags", bob, 200},
		{"/v1/bags", bob, 429},
		{"/v1/bags", "", 401}, // authorization first: no client, no bucket
		{"/v1/open", "", 200}, // no authorizer, no client: not throttled per client
		{"/v1/open", "", 200},
		{"/v1/open", "", 200},
	}
	for i, s := range steps {
		if got := call(s.path, s.authz); got != s.want {
			t.Fatalf("step %d: %d, want %d", i, got, s.want)
		}
	}
	clock.Advance(2 * time.Second) // 0.5 rps: one token back
	if got := call("/v1/bags", alice); got != 200 {
		t.Fatalf("alice after refill: %d", got)
	}
	if got := call("/v1/bags", alice); got != 429 {
		t.Fatalf("alice again: %d", got)
	}
	var lines []map[string]any
	testutil.WaitFor(t, 10*time.Second, "access lines", func() bool { lines = logs.accessLines(t); return len(lines) == len(steps)+2 })
	if l := lines[2]; l["status"] != float64(429) || l["client_id"] != "alice" || l["errorType"] != RespThrottled || l["errorReason"] != "client rate limit" {
		t.Fatalf("throttled access line %v", l)
	}
}

func TestClientLimitersBound(t *testing.T) {
	clock := newFakeClock()
	c := newClientLimiters(ClientThrottleConfig{RateLimit: 1, BurstLimit: 1, MaxClients: 3})
	now := clock.Now()
	for i := range 10 {
		if !c.allow(fmt.Sprint("c", i), now) {
			t.Fatalf("first request of c%d throttled", i)
		}
		if n := c.len(); n > 3 {
			t.Fatalf("%d buckets kept, max 3", n)
		}
	}
	// c7..c9 are kept and empty; c9 used again stays most recent.
	if c.allow("c9", now) {
		t.Fatal("c9 not throttled")
	}
	if !c.allow("c0", now) { // c0 was dropped long ago: a fresh bucket; c7 (least recent) goes
		t.Fatal("evicted client still throttled")
	}
	if !c.allow("c7", now) { // so c7 starts afresh too; c8 goes
		t.Fatal("c7 should have been evicted")
	}
	if c.allow("c9", now) { // c9 was kept
		t.Fatal("c9 lost its bucket")
	}
	if c.len() != 3 {
		t.Fatalf("len %d", c.len())
	}
	if newClientLimiters(ClientThrottleConfig{RateLimit: 1, BurstLimit: 1}).max != defaultMaxClients {
		t.Fatal("default max clients")
	}
}
