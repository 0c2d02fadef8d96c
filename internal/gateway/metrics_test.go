package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	intutil "github.com/portway/portway/internal/testutil"
)

// TestMetrics sends real requests through a gateway on 127.0.0.1:0 and
// reads every gateway metric back, with route templates as labels.
func TestMetrics(t *testing.T) {
	backend := newEchoBackend(t)
	js := newJWKSServer(t)
	js.setKey("k1", testKey1())
	clock := newFakeClock()
	reg := prometheus.NewRegistry()
	g := startGateway(t, Config{
		Stages: []Stage{{Name: "v1"}, {Name: "slow", Throttle: &ThrottleConfig{RateLimit: 1, BurstLimit: 1}}},
		Resources: []Resource{
			{Path: "/bags/{proxy+}", Methods: []Method{proxyMethod("ANY", AuthCognito, backend.URL+"/bags/{proxy}", scopeBags)}},
			anyResource("/open", backend.URL+"/open", 0),
		},
		Authorizer: AuthorizerConfig{Issuer: testIssuer, JWKSURL: js.URL()},
		Now:        clock.Now,
		Metrics:    reg,
	})
	bearer := func(scopes ...string) string {
		return "Bearer " + signToken(t, testKey1(), "k1", tokenClaims(clock.Now(), scopes...))
	}
	good := bearer(scopeBags)
	calls := []struct {
		path, authz string
		want        int
	}{
		{"/v1/bags/a", good, 200},
		{"/v1/bags/b/c", good, 200},
		{"/v1/bags/a", "", 401},                    // missing_token
		{"/v1/bags/a", "Bearer not.a.jwt", 401},    // unauthorized
		{"/v1/bags/a", bearer("other/scope"), 401}, // insufficient_scope
		{"/v1/nope", "", 403},                      // unmatched resource
		{"/nostage/x", "", 403},                    // no stage
		{"/slow/open", "", 200},
		{"/slow/open", "", 429}, // throttled (stage limit: before routing)
	}
	for _, c := range calls {
		var hdr []string
		if c.authz != "" {
			hdr = []string{"Authorization", c.authz}
		}
		if res, body := get(t, g.URL()+c.path, hdr...); res.StatusCode != c.want {
			t.Fatalf("GET %s: %d %s, want %d", c.path, res.StatusCode, body, c.want)
		}
	}
	clock.Advance(2 * time.Hour)
	if res, _ := get(t, g.URL()+"/v1/bags/a", "Authorization", good); res.StatusCode != 401 {
		t.Fatalf("expired token: %d", res.StatusCode)
	}

	want := `
# HELP portway_gateway_requests_total Requests answered by the API gateway, by stage, resource template, method and status.
# TYPE portway_gateway_requests_total counter
portway_gateway_requests_total{method="GET",resource="(unmatched)",stage="(none)",status="403"} 1
portway_gateway_requests_total{method="GET",resource="(unmatched)",stage="slow",status="429"} 1
portway_gateway_requests_total{method="GET",resource="(unmatched)",stage="v1",status="403"} 1
portway_gateway_requests_total{method="GET",resource="/bags/{proxy+}",stage="v1",status="200"} 2
portway_gateway_requests_total{method="GET",resource="/bags/{proxy+}",stage="v1",status="401"} 4
portway_gateway_requests_total{method="GET",resource="/open",stage="slow",status="200"} 1
# HELP portway_gateway_authorizer_decisions_total Decisions of the COGNITO_USER_POOLS authorizer, by result.
# TYPE portway_gateway_authorizer_decisions_total counter
portway_gateway_authorizer_decisions_total{result="allow"} 2
portway_gateway_authorizer_decisions_total{result="authorizer_failure"} 0
portway_gateway_authorizer_decisions_total{result="expired"} 1
portway_gateway_authorizer_decisions_total{result="insufficient_scope"} 1
portway_gateway_authorizer_decisions_total{result="missing_token"} 1
portway_gateway_authorizer_decisions_total{result="unauthorized"} 1
portway_gateway_authorizer_decisions_total{result="wrong_token_use"} 0
# HELP portway_gateway_throttled_total Requests refused with 429 by stage or per-client throttling.
# TYPE portway_gateway_throttled_total counter
portway_gateway_throttled_total 1
`
	// A request is counted after its response is written: wait for the last.
	names := []string{"portway_gateway_requests_total", "portway_gateway_authorizer_decisions_total", "portway_gateway_throttled_total"}
	var err error
	defer func() {
		if t.Failed() && err != nil {
			t.Log(err)
		}
	}()
	intutil.WaitFor(t, 10*time.Second, "the gateway metrics of every request", func() bool {
		err = testutil.GatherAndCompare(reg, strings.NewReader(want), names...)
		return err == nil
	})
	// Histograms: every request has a duration; forwarded ones an
	// integration duration.
	if n := testutil.CollectAndCount(g.metrics.duration); n != 5 {
		t.Errorf("duration series: %d, want 5", n)
	}
	dur := g.metrics.lookup("v1", "/bags/{proxy+}").method(methodIndex("GET"))
	if got := histCount(t, dur.duration); got != 6 {
		t.Errorf("request duration count of GET /bags/{proxy+}: %d, want 6", got)
	}
	if got := histCount(t, dur.integration); got != 2 {
		t.Errorf("integration duration count of GET /bags/{proxy+}: %d, want 2 (the forwarded ones)", got)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("promlint: %v %+v", err, problems)
	}
}

func histCount(t *testing.T, o prometheus.Observer) uint64 {
	t.Helper()
	h, ok := o.(prometheus.Metric)
	if !ok {
		t.Fatalf("observer %T is no metric", o)
	}
	var pb dto.Metric
	if err := h.Write(&pb); err != nil {
		t.Fatal(err)
	}
	return pb.GetHistogram().GetSampleCount()
}

func TestAuthzResult(t *testing.T) {
	for _, c := range []struct {
		gerr *gwError
		want string
	}{
		{nil, authzAllow},
		{newGWError(RespAuthorizerFailure, "jwks down"), authzFailure},
		{&gwError{typ: RespUnauthorized, message: msgExpired, reason: "token expired"}, authzExpired},
		{unauthorized("missing token"), authzMissingToken},
		{unauthorized("no matching scope"), authzInsufficientScope},
		{unauthorized("access token on a method without scopes (it takes ID tokens)"), authzWrongTokenUse},
		{unauthorized("ID token on a method with scopes (it takes access tokens)"), authzWrongTokenUse},
		{unauthorized("wrong issuer"), authzUnauthorized},
	} {
		if got := authzResult(c.gerr); got != c.want {
			t.Errorf("%+v: %s, want %s", c.gerr, got, c.want)
		}
	}
}
