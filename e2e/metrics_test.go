package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/portway/portway/internal/stack"
	"github.com/portway/portway/internal/testutil"
)

// scrape GETs /metrics of the control listener, with the token when given.
func scrape(t *testing.T, controlURL, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, controlURL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestMetricsOnTheControlListener: /metrics of `portway up` needs the
// control token; after a request it shows the gateway counter of the
// route (its template, not the path), the targets' health, the token
// issued and the tasks, and the whole text passes promlint and promtool
// (CI requires it: PORTWAY_TEST_REQUIRE_PROMTOOL).
func TestMetricsOnTheControlListener(t *testing.T) {
	stateDir := t.TempDir()
	startUp(t, stateDir, "--config", writeConfig(t, testStack(56)))
	var ep stack.Endpoints
	readJSONFile(t, filepath.Join(stateDir, stack.EndpointsFile), &ep)
	var creds stack.Credentials
	readJSONFile(t, filepath.Join(stateDir, stack.CredentialsFile), &creds)

	if code, body := scrape(t, ep.ControlURL, ""); code != http.StatusUnauthorized {
		t.Fatalf("/metrics without the token: %d %s", code, body)
	}
	token := controlToken(t, stateDir)
	code, _ := gatewayGet(t, ep.APIURL+"/bags/no-such-space/no-such-bag", mustToken(t, creds.TokenURL, creds.ClientID, creds.ClientSecret))

	var body string
	want := fmt.Sprintf(`portway_gateway_requests_total{method="GET",resource="/bags/{proxy+}",stage="%s",status="%d"} 1`, stack.Default().Gateway.Stage, code)
	testutil.WaitFor(t, 30*time.Second, "the request counted", func() bool {
		var c int
		c, body = scrape(t, ep.ControlURL, token)
		return c == http.StatusOK && strings.Contains(body, want)
	})
	if strings.Contains(body, "no-such-bag") {
		t.Errorf("a raw path in the metrics:\n%s", body)
	}
	for _, want := range []string{
		`portway_gateway_authorizer_decisions_total{result="allow"} 1`,
		`portway_gateway_request_duration_seconds_bucket{method="GET",resource="/bags/{proxy+}"`,
		`portway_gateway_integration_duration_seconds_count{method="GET",resource="/bags/{proxy+}"`,
		`portway_auth_tokens_issued_total{client="` + creds.ClientID + `"}`,
		`portway_ecs_tasks{service="bags",status="RUNNING"} 2`,
		`portway_ecs_deployments{rollout_state="COMPLETED",service="bags"} 1`,
		`portway_nlb_connections_total{target="`,
		`go_goroutines `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	for _, tk := range tasksOf(ecsTasks(t, stateDir), "bags", "RUNNING") {
		want := fmt.Sprintf(`portway_nlb_target_health{state="healthy",target="%s:9000",target_group="bags"} 1`, tk.IP)
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	problems, err := promlint.New(strings.NewReader(body)).Lint()
	if err != nil || len(problems) > 0 {
		t.Errorf("promlint: %v %+v", err, problems)
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil && os.Getenv("PORTWAY_TEST_REQUIRE_PROMTOOL") != "" {
		t.Errorf("PORTWAY_TEST_REQUIRE_PROMTOOL is set but promtool is missing: %v", err)
	}
	if err == nil {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(body)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, out.String())
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
}
