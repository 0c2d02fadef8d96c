package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portway/portway/internal/stack"
	"github.com/portway/portway/internal/testutil"
)

// awsCLI runs the AWS CLI against the stack in stateDir with the
// credentials and region `up` wrote there, and decodes its JSON output into
// v (when v is not nil).
type awsCLI struct {
	t        *testing.T
	endpoint string
	env      []string
	caFile   string
}

func newAWSCLI(t *testing.T, stateDir string) *awsCLI {
	t.Helper()
	creds := filepath.Join(stateDir, "aws-credentials")
	lookPathAWS(t)
	var ep stack.Endpoints
	readJSONFile(t, filepath.Join(stateDir, stack.EndpointsFile), &ep)
	env := append(os.Environ(),
		"AWS_SHARED_CREDENTIALS_FILE="+creds,
		"AWS_CONFIG_FILE="+filepath.Join(stateDir, "aws-config"),
		"AWS_PROFILE=portway",
		"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_SESSION_TOKEN=", // the profile, not the environment
		"AWS_PAGER=",
	)
	return &awsCLI{t: t, endpoint: ep.ControlURL, env: env, caFile: ep.CAFile}
}

func (c *awsCLI) run(v any, args ...string) error {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := append([]string{"--endpoint-url", c.endpoint, "--output", "json"}, args...)
	if c.caFile != "" {
		full = append([]string{"--ca-bundle", c.caFile}, full...)
	}
	cmd := exec.CommandContext(ctx, "aws", full...)
	cmd.Env = c.env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("aws %s: %w: %s", strings.Join(args, " "), err, errOut.String())
	}
	if v != nil && out.Len() > 0 {
		if err := json.Unmarshal(out.Bytes(), v); err != nil {
			return fmt.Errorf("aws %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, out.String())
		}
	}
	return nil
}

func (c *awsCLI) must(v any, args ...string) {
	c.t.Helper()
	if err := c.run(v, args...); err != nil {
		c.t.Fatal(err)
	}
}

type cliTargetHealth struct {
	TargetHealthDescriptions []struct {
		Target struct {
			Id   string
			Port int
		}
		TargetHealth struct {
			State, Reason, Description string
		}
	}
}

// TestAWSCLIELBv2 drives the load balancer with the real AWS CLI: describe
// the target groups and the tasks' health, register a target (initial,
// then unhealthy: nothing listens there), deregister it.
func TestAWSCLIELBv2(t *testing.T) {
	stateDir := t.TempDir()
	cfg := testStack(51)
	startUp(t, stateDir, "--config", writeConfig(t, cfg))
	cli := newAWSCLI(t, stateDir)

	var groups struct {
		TargetGroups []struct {
			TargetGroupArn, TargetGroupName string
		}
	}
	cli.must(&groups, "elbv2", "describe-target-groups", "--names", "ingests")
	if len(groups.TargetGroups) != 1 || groups.TargetGroups[0].TargetGroupName != "ingests" {
		t.Fatalf("describe-target-groups: %+v", groups)
	}
	arn := groups.TargetGroups[0].TargetGroupArn
	testutil.WaitFor(t, 60*time.Second, "the ingests tasks healthy", func() bool {
		var th cliTargetHealth
		cli.must(&th, "elbv2", "describe-target-health", "--target-group-arn", arn)
		if len(th.TargetHealthDescriptions) == 0 {
			return false
		}
		for _, d := range th.TargetHealthDescriptions {
			if d.TargetHealth.State != "healthy" {
				return false
			}
		}
		return true
	})

	// A target in the task subnet where nothing listens.
	ip := strings.TrimSuffix(cfg.Tasks.Subnet, "0/24") + "250"
	target := "Id=" + ip + ",Port=9000"
	cli.must(nil, "elbv2", "register-targets", "--target-group-arn", arn, "--targets", target)
	var th cliTargetHealth
	cli.must(&th, "elbv2", "describe-target-health", "--target-group-arn", arn, "--targets", target)
	if len(th.TargetHealthDescriptions) != 1 || th.TargetHealthDescriptions[0].Target.Id != ip {
		t.Fatalf("describe-target-health --targets: %+v", th)
	}
	if h := th.TargetHealthDescriptions[0].TargetHealth; h.State != "initial" && h.State != "unhealthy" {
		t.Errorf("new target: %+v", h)
	}
	testutil.WaitFor(t, 60*time.Second, "the new target unhealthy", func() bool {
		var th cliTargetHealth
		cli.must(&th, "elbv2", "describe-target-health", "--target-group-arn", arn, "--targets", target)
		h := th.TargetHealthDescriptions[0].TargetHealth
		return h.State == "unhealthy" && h.Reason == "Target.FailedHealthChecks" && h.Description == "Health checks failed"
	})
	cli.must(nil, "elbv2", "deregister-targets", "--target-group-arn", arn, "--targets", target)
	testutil.WaitFor(t, 60*time.Second, "the target deregistered", func() bool {
		var th cliTargetHealth
		cli.must(&th, "elbv2", "describe-target-health", "--target-group-arn", arn, "--targets", target)
		h := th.TargetHealthDescriptions[0].TargetHealth
		return h.State == "unused" && h.Reason == "Target.NotRegistered"
	})

	// The deregistration delay, through the attributes.
	var attrs struct{ Attributes []struct{ Key, Value string } }
	cli.must(&attrs, "elbv2", "modify-target-group-attributes", "--target-group-arn", arn,
		"--attributes", "Key=deregistration_delay.timeout_seconds,Value=12")
	cli.must(&attrs, "elbv2", "describe-target-group-attributes", "--target-group-arn", arn)
	found := false
	for _, a := range attrs.Attributes {
		found = found || (a.Key == "deregistration_delay.timeout_seconds" && a.Value == "12")
	}
	if !found {
		t.Errorf("attributes after modify: %+v", attrs)
	}

	// AWS's error, as the CLI reports it.
	err := cli.run(nil, "elbv2", "describe-target-groups", "--names", "nope")
	if err == nil || !strings.Contains(err.Error(), "TargetGroupNotFound") {
		t.Errorf("unknown group: %v", err)
	}
}

// TestAWSCLIAPIGateway lists the REST API, its resources and stages, and
// exports it as OpenAPI 3 with the API Gateway extensions.
func TestAWSCLIAPIGateway(t *testing.T) {
	stateDir := t.TempDir()
	startUp(t, stateDir, "--config", writeConfig(t, testStack(52)))
	cli := newAWSCLI(t, stateDir)

	var apis struct {
		Items []struct{ Id, Name string }
	}
	cli.must(&apis, "apigateway", "get-rest-apis")
	if len(apis.Items) != 1 || apis.Items[0].Id == "" {
		t.Fatalf("get-rest-apis: %+v", apis)
	}
	id := apis.Items[0].Id
	var resources struct {
		Items []struct {
			Path            string
			ResourceMethods map[string]any
		}
	}
	cli.must(&resources, "apigateway", "get-resources", "--rest-api-id", id, "--embed", "methods")
	paths := map[string]bool{}
	for _, r := range resources.Items {
		paths[r.Path] = true
	}
	if !paths["/"] || !paths["/bags/{proxy+}"] {
		t.Errorf("get-resources: %+v", resources)
	}
	var stages struct{ Item []struct{ StageName string } }
	cli.must(&stages, "apigateway", "get-stages", "--rest-api-id", id)
	if len(stages.Item) == 0 {
		t.Fatalf("get-stages: %+v", stages)
	}
	out := filepath.Join(t.TempDir(), "export.json")
	cli.must(nil, "apigateway", "get-export", "--rest-api-id", id, "--stage-name", stages.Item[0].StageName,
		"--export-type", "oas30", "--parameters", "extensions='integrations,authorizers'", "--accepts", "application/json", out)
	var doc map[string]any
	readJSONFile(t, out, &doc)
	if !strings.HasPrefix(fmt.Sprint(doc["openapi"]), "3.0") || doc["paths"] == nil {
		t.Errorf("export: %v", doc)
	}
	err := cli.run(nil, "apigateway", "get-rest-api", "--rest-api-id", "nope")
	if err == nil || !strings.Contains(err.Error(), "NotFoundException") {
		t.Errorf("unknown API: %v", err)
	}

	// The export, imported into a second stack (gateway.openapi), answers
	// as the first: the round trip a team makes from AWS to portway.
	second := testStack(53)
	second.Gateway.Resources = nil
	second.Gateway.OpenAPI = "export.json"
	data, err := second.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	stackFile := filepath.Join(filepath.Dir(out), "stack.yaml")
	if err := os.WriteFile(stackFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	secondDir := t.TempDir()
	startUp(t, secondDir, "--config", stackFile)
	firstClient, firstEP := stackClient(t, stateDir)
	secondClient, secondEP := stackClient(t, secondDir)
	for _, path := range []string{"/bags/digitised/b00000000", "/ingests/3f1d2c9e-0000-4000-8000-000000000000", "/nope"} {
		wantCode, wantBody, _ := getSettled(t, firstClient, firstEP.APIURL+path)
		code, body, _ := getSettled(t, secondClient, secondEP.APIURL+path)
		if code != wantCode || body != wantBody || code >= 500 {
			t.Errorf("GET %s: from the imported export %d %s; from the exporting stack %d %s", path, code, body, wantCode, wantBody)
		}
	}
}
