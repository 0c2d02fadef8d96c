package awsapi_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portway/portway/internal/awsapi"
	"github.com/portway/portway/internal/awsapi/awsapitest"
)

// cannedService answers every verified request with a fixed body and
// records what reached it.
type cannedService struct {
	ctype, body string
	mu          sync.Mutex
	got         []string // "METHOD PATH?QUERY BODY"
}

func (s *cannedService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.got = append(s.got, r.Method+" "+r.URL.RequestURI()+" "+string(b))
	s.mu.Unlock()
	w.Header().Set("Content-Type", s.ctype)
	_, _ = io.WriteString(w, s.body)
}

func (s *cannedService) WriteAuthError(w http.ResponseWriter, _ *http.Request, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-amzn-ErrorType", code)
	w.WriteHeader(status)
	_, _ = io.WriteString(w, `{"__type":"`+code+`","message":"`+strings.ReplaceAll(msg, `"`, `'`)+`"}`)
}

func (s *cannedService) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

// TestRealCLISignaturesVerify: the verifier accepts what the real AWS CLI
// signs in each protocol portway serves (JSON 1.1, Query form POST, REST
// with paths and query parameters), and refuses a wrong secret.
func TestRealCLISignaturesVerify(t *testing.T) {
	cli, err := exec.LookPath("aws")
	if err != nil {
		if os.Getenv("PORTWAY_TEST_REQUIRE_AWSCLI") != "" {
			t.Fatal("PORTWAY_TEST_REQUIRE_AWSCLI is set but the aws command is missing")
		}
		t.Skip("the aws command (AWS CLI) is not installed")
	}
	ecs := &cannedService{ctype: awsapi.JSONContentType, body: `{"clusterArns":[]}`}
	elb := &cannedService{ctype: "text/xml", body: `<DescribeLoadBalancersResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">` +
		`<DescribeLoadBalancersResult><LoadBalancers/></DescribeLoadBalancersResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeLoadBalancersResponse>`}
	apigw := &cannedService{ctype: "application/json", body: `{"item":[]}`}
	srv := awsapitest.Serve(t, awsapi.Services{awsapi.ECS: ecs, awsapi.ELBv2: elb, awsapi.APIGateway: apigw})

	dir := t.TempDir()
	writeCreds := func(secret string) string {
		p := filepath.Join(dir, "creds-"+secret[:4])
		data := "[portway]\naws_access_key_id = " + awsapitest.Creds.AccessKeyID + "\naws_secret_access_key = " + secret + "\n"
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := writeCreds(awsapitest.Creds.SecretAccessKey)
	cfg := filepath.Join(dir, "config")
	if err := os.WriteFile(cfg, []byte("[profile portway]\nregion = "+awsapitest.Region+"\ncli_follow_urlparam = false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(creds string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, cli, append([]string{"--endpoint-url", srv.URL, "--output", "json"}, args...)...)
		env := []string{"AWS_SHARED_CREDENTIALS_FILE=" + creds, "AWS_CONFIG_FILE=" + cfg, "AWS_PROFILE=portway",
			"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1", "HOME=" + dir}
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "HOME=") {
				env = append(env, kv)
			}
		}
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	for _, tc := range []struct {
		args []string
		svc  *cannedService
		want string // a prefix of the request the service saw
	}{
		{[]string{"ecs", "list-clusters"}, ecs, "POST / {}"},
		{[]string{"elbv2", "describe-load-balancers", "--names", "a b", "x+y"}, elb, "POST / Action=DescribeLoadBalancers"},
		{[]string{"apigateway", "get-rest-apis", "--limit", "5"}, apigw, "GET /restapis?limit=5"},
		{[]string{"apigateway", "get-resources", "--rest-api-id", "a b~c", "--embed", "methods,x"}, apigw, "GET /restapis/a%20b~c/resources?embed=methods"},
		{[]string{"apigateway", "get-export", "--rest-api-id", "abc", "--stage-name", "v1", "--export-type", "oas30",
			"--parameters", `{"extensions":"integrations,authorizers"}`, filepath.Join(dir, "export.json")}, apigw, "GET /restapis/abc/stages/v1/exports/oas30?extensions=integrations%2Cauthorizers"},
	} {
		before := len(tc.svc.requests())
		if out, err := run(good, tc.args...); err != nil {
			t.Errorf("aws %s: %v\n%s", strings.Join(tc.args, " "), err, out)
			continue
		}
		got := tc.svc.requests()
		if len(got) != before+1 || !strings.HasPrefix(got[before], tc.want) {
			t.Errorf("aws %s: the service saw %q, want %q…", strings.Join(tc.args, " "), got[before:], tc.want)
		}
	}

	bad := writeCreds(strings.Repeat("q", 40))
	if out, err := run(bad, "ecs", "list-clusters"); err == nil || !strings.Contains(out, "(InvalidSignatureException)") {
		t.Errorf("wrong secret: %v %s", err, out)
	}
	// (This canned service answers JSON, which the CLI cannot parse as the
	// Query protocol's XML: the code is in its output all the same.)
	if out, err := run(bad, "elbv2", "describe-load-balancers"); err == nil || !strings.Contains(out, "SignatureDoesNotMatch") {
		t.Errorf("wrong secret, Query protocol: %v %s", err, out)
	}
}
