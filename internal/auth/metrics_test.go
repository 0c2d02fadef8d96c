package auth

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestMetrics: token requests over HTTP to a server on 127.0.0.1:0, then
// the issued and error counters by client id and OAuth error code.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := testConfig(t, newFakeClock())
	cfg.Metrics = reg
	s := startServer(t, cfg)
	id, secret := mustCreate(t, s.Clients(), "bags", scopeBags)
	for _, c := range []struct {
		tr   tokenReq
		want int
	}{
		{tokenReq{form: ccForm("client_id", id, "client_secret", secret)}, 200},
		{tokenReq{form: ccForm("client_id", id, "client_secret", secret, "scope", scopeBags)}, 200},
		{tokenReq{form: ccForm("client_id", id, "client_secret", "wrong")}, 400},
		{tokenReq{form: ccForm("client_id", id, "client_secret", secret, "scope", "nope/read")}, 400},
		{tokenReq{form: ccForm("client_id", "no-such-client", "client_secret", "x")}, 400},
		{tokenReq{form: map[string][]string{"grant_type": {"password"}}}, 400},
	} {
		if res, body := post(t, s, c.tr); res.StatusCode != c.want {
			t.Fatalf("%+v: %d %s, want %d", c.tr, res.StatusCode, body, c.want)
		}
	}
	want := `
# HELP portway_auth_tokens_issued_total Access tokens issued by the token endpoint, by app client id.
# TYPE portway_auth_tokens_issued_total counter
portway_auth_tokens_issued_total{client="` + id + `"} 2
# HELP portway_auth_token_errors_total Token requests refused, by OAuth 2.0 error code.
# TYPE portway_auth_token_errors_total counter
portway_auth_token_errors_total{error="invalid_client"} 2
portway_auth_token_errors_total{error="invalid_request"} 0
portway_auth_token_errors_total{error="invalid_scope"} 1
portway_auth_token_errors_total{error="method_not_allowed"} 0
portway_auth_token_errors_total{error="server_error"} 0
portway_auth_token_errors_total{error="too_many_requests"} 0
portway_auth_token_errors_total{error="unauthorized_client"} 0
portway_auth_token_errors_total{error="unsupported_grant_type"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("promlint: %v %+v", err, problems)
	}
}
