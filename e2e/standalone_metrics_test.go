package e2e

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portway/portway/internal/testutil"
)

// TestStandaloneMetrics: `portway nlb` serves /metrics on its control
// listener, `portway auth` and `portway gateway` on --metrics-listen; all
// behind the control token of their state dir.
func TestStandaloneMetrics(t *testing.T) {
	cfgPath := writeConfig(t, testStack(58))
	stateDir := t.TempDir()
	scrapeURL := func(u string) string { return strings.TrimSuffix(u, "/metrics") }

	// The load balancer, with one target registered.
	ln, err := net.Listen("tcp", "127.77.217.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = target.Serve(ln) }()
	t.Cleanup(func() { target.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	control, _ := startComponent(t, regexp.MustCompile(`control API listening" url=(\S+)`),
		"nlb", "--config", cfgPath, "--control-listen", "127.0.0.1:0", "--state-dir", stateDir)
	token := controlToken(t, stateDir)
	req, _ := http.NewRequest(http.MethodPost, control+"/elbv2/RegisterTargets",
		strings.NewReader(fmt.Sprintf(`{"TargetGroupName": "bags", "Targets": [{"Id": "127.77.217.1", "Port": %d}]}`, port)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("RegisterTargets: %v %v", err, resp)
	}
	resp.Body.Close()
	if code, _ := scrape(t, control, ""); code != http.StatusUnauthorized {
		t.Errorf("nlb /metrics without the token: %d", code)
	}
	want := fmt.Sprintf(`portway_nlb_target_health{state="healthy",target="127.77.217.1:%d",target_group="bags"} 1`, port)
	testutil.WaitFor(t, 30*time.Second, "the target healthy in the nlb's metrics", func() bool {
		code, body := scrape(t, control, token)
		return code == http.StatusOK && strings.Contains(body, want)
	})

	// The auth server: a refused token request is counted.
	metricsRe := regexp.MustCompile(`metrics listening" url=(\S+)`)
	authMetrics, authLog := startComponent(t, metricsRe,
		"auth", "--config", cfgPath, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--state-dir", stateDir)
	var tokenURL string
	testutil.WaitFor(t, 30*time.Second, "auth's URL in its log", func() bool {
		m := regexp.MustCompile(`auth: listening" url=(\S+)`).FindStringSubmatch(authLog.String())
		if m != nil {
			tokenURL = m[1] + "/oauth2/token"
		}
		return m != nil
	})
	resp, err = http.PostForm(tokenURL, url.Values{"grant_type": {"client_credentials"}, "client_id": {"nobody"}, "client_secret": {"x"}})
	if err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("token request: %v %v", err, resp)
	}
	resp.Body.Close()
	if code, _ := scrape(t, scrapeURL(authMetrics), ""); code != http.StatusUnauthorized {
		t.Errorf("auth /metrics without the token: %d", code)
	}
	if code, body := scrape(t, scrapeURL(authMetrics), token); code != http.StatusOK ||
		!strings.Contains(body, `portway_auth_token_errors_total{error="invalid_client"} 1`) {
		t.Errorf("auth /metrics: %d\n%s", code, body)
	}

	// The gateway: an unmatched request is counted.
	gwMetrics, gwLog := startComponent(t, metricsRe,
		"gateway", "--config", cfgPath, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--state-dir", stateDir,
		"--issuer", "http://127.0.0.1:1/pool", "--jwks-url", "http://127.0.0.1:1/jwks")
	var gwURL string
	testutil.WaitFor(t, 30*time.Second, "the gateway's URL in its log", func() bool {
		m := regexp.MustCompile(`gateway listening" url=(\S+)`).FindStringSubmatch(gwLog.String())
		if m != nil {
			gwURL = m[1]
		}
		return m != nil
	})
	resp, err = http.Get(gwURL + "/v1/nope")
	if err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("GET /v1/nope: %v %v", err, resp)
	}
	resp.Body.Close()
	testutil.WaitFor(t, 30*time.Second, "the gateway's counter", func() bool {
		code, body := scrape(t, scrapeURL(gwMetrics), token)
		return code == http.StatusOK && strings.Contains(body, `portway_gateway_requests_total{method="GET",resource="(unmatched)",stage="v1",status="403"} 1`)
	})
}
