// Package awsclitest runs the real AWS CLI against the ELBv2 and API
// Gateway services, behind a test-only dispatcher by SigV4 signing name
// (no signature check: the control listener's framework does that).
package awsclitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portway/portway/internal/awsapi/apigwapi"
	"github.com/portway/portway/internal/awsapi/elbv2api"
	"github.com/portway/portway/internal/gateway"
	"github.com/portway/portway/internal/nlb"
	"github.com/portway/portway/internal/testutil"
)

var scopeRE = regexp.MustCompile(`Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request`)

// dispatch routes by the signing name in the Authorization header.
func dispatch(services map[string]http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := scopeRE.FindStringSubmatch(r.Header.Get("Authorization"))
		if m == nil || services[m[1]] == nil {
			http.Error(w, "no service", http.StatusForbidden)
			return
		}
		services[m[1]].ServeHTTP(w, r)
	})
}

var exporter = apigwapi.ExporterFunc(func(stage, exportType, format string, extensions []string) ([]byte, error) {
	return fmt.Appendf(nil, `{"openapi":"3.0.1","info":{"title":"%s %s %s"},"paths":{}}`, stage, exportType, strings.Join(extensions, ",")), nil
})

type cli struct {
	t   *testing.T
	url string
	env []string
}

func (c cli) run(v any, args ...string) error {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "aws", append([]string{"--endpoint-url", c.url, "--output", "json"}, args...)...)
	cmd.Env = c.env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("aws %s: %w: %s", strings.Join(args, " "), err, errOut.String())
	}
	if v != nil && out.Len() > 0 {
		if err := json.Unmarshal(out.Bytes(), v); err != nil {
			return fmt.Errorf("aws %s: %v\n%s", strings.Join(args, " "), err, out.String())
		}
	}
	return nil
}

func (c cli) must(v any, args ...string) {
	c.t.Helper()
	if err := c.run(v, args...); err != nil {
		c.t.Fatal(err)
	}
}

func TestAWSCLI(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("the AWS CLI (aws) is not installed")
	}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(backend.Close)
	host, port, _ := net.SplitHostPort(backend.Listener.Addr().String())
	lb, err := nlb.New(nlb.Config{
		Name: "cli-nlb", Address: "127.0.0.1",
		Listeners: []nlb.ListenerConfig{{TargetGroup: "web"}},
		TargetGroups: []nlb.TargetGroupConfig{{Name: "web", Port: 80, HealthCheck: nlb.HealthCheck{Protocol: "HTTP",
			Interval: 100 * time.Millisecond, Timeout: 50 * time.Millisecond, HealthyThreshold: 2, UnhealthyThreshold: 2}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := lb.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		lb.Stop(ctx)
	})
	gw, err := apigwapi.New(apigwapi.Config{Name: "portway", Exporter: exporter, Created: time.Now(), Gateway: gateway.Config{
		Stage: "v1",
		Resources: []gateway.Resource{{Path: "/bags/{proxy+}", Methods: []gateway.Method{{HTTPMethod: "ANY",
			Integration: gateway.Integration{Type: "HTTP_PROXY", URI: "http://127.0.0.1:1/{proxy}"}}}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(dispatch(map[string]http.Handler{
		elbv2api.SigningName: elbv2api.New(lb, nil), apigwapi.SigningName: gw,
	}))
	t.Cleanup(srv.Close)
	home := t.TempDir()
	c := cli{t: t, url: srv.URL, env: append(os.Environ(), "HOME="+home, "AWS_ACCESS_KEY_ID=AKIDPORTWAYTEST",
		"AWS_SECRET_ACCESS_KEY=secret", "AWS_DEFAULT_REGION=us-east-1", "AWS_PAGER=",
		"AWS_CONFIG_FILE="+filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "none"))}

	t.Run("elbv2", func(t *testing.T) {
		c := c
		c.t = t
		var lbs struct {
			LoadBalancers []struct{ LoadBalancerName, Type string }
		}
		c.must(&lbs, "elbv2", "describe-load-balancers")
		if len(lbs.LoadBalancers) != 1 || lbs.LoadBalancers[0].LoadBalancerName != "cli-nlb" {
			t.Errorf("describe-load-balancers: %+v", lbs)
		}
		var groups struct {
			TargetGroups []struct{ TargetGroupArn, HealthCheckPath string }
		}
		c.must(&groups, "elbv2", "describe-target-groups", "--names", "web")
		arn := groups.TargetGroups[0].TargetGroupArn
		var ls struct{ Listeners []struct{ Port int } }
		c.must(&ls, "elbv2", "describe-listeners", "--load-balancer-arn", lb.DescribeLoadBalancer().LoadBalancerArn)
		if len(ls.Listeners) != 1 || ls.Listeners[0].Port == 0 {
			t.Errorf("describe-listeners: %+v", ls)
		}
		target := "Id=" + host + ",Port=" + port
		c.must(nil, "elbv2", "register-targets", "--target-group-arn", arn, "--targets", target)
		type health struct {
			TargetHealthDescriptions []struct {
				Target       struct{ Id string }
				TargetHealth struct{ State, Reason, Description string }
			}
		}
		testutil.WaitFor(t, 10*time.Second, "healthy", func() bool {
			var h health
			c.must(&h, "elbv2", "describe-target-health", "--target-group-arn", arn)
			return len(h.TargetHealthDescriptions) == 1 && h.TargetHealthDescriptions[0].TargetHealth.State == "healthy"
		})
		var tg struct {
			TargetGroups []struct{ HealthCheckPath string }
		}
		c.must(&tg, "elbv2", "modify-target-group", "--target-group-arn", arn, "--health-check-path", "/live",
			"--health-check-interval-seconds", "5", "--matcher", "HttpCode=200")
		if tg.TargetGroups[0].HealthCheckPath != "/live" {
			t.Errorf("modify-target-group: %+v", tg)
		}
		var attrs struct{ Attributes []struct{ Key, Value string } }
		c.must(&attrs, "elbv2", "modify-target-group-attributes", "--target-group-arn", arn,
			"--attributes", "Key=deregistration_delay.timeout_seconds,Value=0")
		c.must(nil, "elbv2", "deregister-targets", "--target-group-arn", arn, "--targets", target)
		var h health
		c.must(&h, "elbv2", "describe-target-health", "--target-group-arn", arn, "--targets", target)
		if st := h.TargetHealthDescriptions[0].TargetHealth; st.State != "unused" || st.Reason != "Target.NotRegistered" {
			t.Errorf("after deregistering (delay 0, no connections): %+v", st)
		}
		err := c.run(nil, "elbv2", "describe-target-health", "--target-group-arn", arn+"x")
		if err == nil || !strings.Contains(err.Error(), "(TargetGroupNotFound)") {
			t.Errorf("unknown group: %v", err)
		}
		err = c.run(nil, "elbv2", "modify-target-group-attributes", "--target-group-arn", arn, "--attributes", "Key=bogus,Value=1")
		if err == nil || !strings.Contains(err.Error(), "(ValidationError)") || !strings.Contains(err.Error(), "bogus") {
			t.Errorf("bad attribute: %v", err)
		}
	})

	t.Run("apigateway", func(t *testing.T) {
		c := c
		c.t = t
		var apis struct{ Items []struct{ Id, Name string } }
		c.must(&apis, "apigateway", "get-rest-apis")
		id := apis.Items[0].Id
		if id != gw.RestAPIID() {
			t.Fatalf("get-rest-apis: %+v", apis)
		}
		var res struct {
			Items []struct{ Path, PathPart string }
		}
		c.must(&res, "apigateway", "get-resources", "--rest-api-id", id, "--embed", "methods")
		if len(res.Items) != 3 || res.Items[2].Path != "/bags/{proxy+}" {
			t.Errorf("get-resources: %+v", res)
		}
		var st struct{ Item []struct{ StageName string } }
		c.must(&st, "apigateway", "get-stages", "--rest-api-id", id)
		if len(st.Item) != 1 || st.Item[0].StageName != "v1" {
			t.Errorf("get-stages: %+v", st)
		}
		out := filepath.Join(t.TempDir(), "api.json")
		c.must(nil, "apigateway", "get-export", "--rest-api-id", id, "--stage-name", "v1", "--export-type", "oas30",
			"--parameters", "extensions='integrations,authorizers'", out)
		b, _ := os.ReadFile(out)
		if !strings.Contains(string(b), `"title":"v1 oas30 integrations,authorizers"`) {
			t.Errorf("get-export: %s", b)
		}
		outYAML := filepath.Join(t.TempDir(), "api.yaml")
		c.must(nil, "apigateway", "get-export", "--rest-api-id", id, "--stage-name", "v1", "--export-type", "swagger",
			"--accepts", "application/yaml", outYAML)
		err := c.run(nil, "apigateway", "get-stage", "--rest-api-id", id, "--stage-name", "v9")
		if err == nil || !strings.Contains(err.Error(), "(NotFoundException)") {
			t.Errorf("unknown stage: %v", err)
		}
	})
}
