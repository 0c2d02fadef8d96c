package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portway/portway/internal/stack"
)

// awsTool is the AWS CLI driving a stack with its <state>/aws-credentials
// and aws-config, as the README tells.
type awsTool struct {
	path, endpoint, stateDir string
	credsFile                string // default <state>/aws-credentials
}

// lookPathAWS returns the aws command, skipping the test when it is missing
// unless PORTWAY_TEST_REQUIRE_AWSCLI is set (CI installs Debian's awscli).
func lookPathAWS(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("aws")
	if err != nil {
		if os.Getenv("PORTWAY_TEST_REQUIRE_AWSCLI") != "" {
			t.Fatalf("PORTWAY_TEST_REQUIRE_AWSCLI is set but the aws command is missing: %v", err)
		}
		t.Skip("the aws command (AWS CLI) is not installed")
	}
	return p
}

// run runs `aws --endpoint-url <control> ARGS… --output json` and returns
// stdout, stderr and the error.
func (a awsTool) run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, a.path, append([]string{"--endpoint-url", a.endpoint, "--output", "json"}, args...)...)
	creds := a.credsFile
	if creds == "" {
		creds = filepath.Join(a.stateDir, "aws-credentials")
	}
	// Only the stack's profile: nothing of the developer's AWS setup.
	env := []string{
		"AWS_SHARED_CREDENTIALS_FILE=" + creds,
		"AWS_CONFIG_FILE=" + filepath.Join(a.stateDir, "aws-config"),
		"AWS_PROFILE=portway",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
		"AWS_MAX_ATTEMPTS=1",
		"HOME=" + t.TempDir(),
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	return o.String(), e.String(), err
}

// json runs the command and decodes its output.
func (a awsTool) json(t *testing.T, v any, args ...string) {
	t.Helper()
	out, errOut, err := a.run(t, args...)
	if err != nil {
		t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

type ecsServiceOut struct {
	ServiceName  string `json:"serviceName"`
	DesiredCount int    `json:"desiredCount"`
	RunningCount int    `json:"runningCount"`
	Deployments  []struct {
		ID                 string `json:"id"`
		Status             string `json:"status"`
		RolloutState       string `json:"rolloutState"`
		RolloutStateReason string `json:"rolloutStateReason"`
		TaskDefinition     string `json:"taskDefinition"`
	} `json:"deployments"`
	Events []struct {
		Message string `json:"message"`
	} `json:"events"`
}

func (a awsTool) describeService(t *testing.T, name string) ecsServiceOut {
	t.Helper()
	var out struct {
		Services []ecsServiceOut `json:"services"`
	}
	a.json(t, &out, "ecs", "describe-services", "--cluster", "portway", "--services", name)
	if len(out.Services) != 1 {
		t.Fatalf("describe-services %s: %+v", name, out)
	}
	return out.Services[0]
}

func (a awsTool) waitService(t *testing.T, name, what string, cond func(ecsServiceOut) bool) ecsServiceOut {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		s := a.describeService(t, name)
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %+v", what, s)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestAWSCLIDrivesStack manages a running stack with the real AWS CLI
// through the control listener: ECS scaling, a forced deployment and a
// stopped task, seen by `portway tasks` too (one model, two doors); a
// Cognito app client created with a scope gets a token for it; and the
// authentication failures carry AWS's error codes.
func TestAWSCLIDrivesStack(t *testing.T) {
	cli := lookPathAWS(t)
	stateDir := t.TempDir()
	cfg := testStack(45)
	for i := range cfg.Services {
		cfg.Services[i].DesiredCount = 1
	}
	startUp(t, stateDir, "--config", writeConfig(t, cfg))
	var ep stack.Endpoints
	readJSONFile(t, filepath.Join(stateDir, stack.EndpointsFile), &ep)
	aws := awsTool{path: cli, endpoint: ep.ControlURL, stateDir: stateDir}

	if fi, err := os.Stat(filepath.Join(stateDir, "aws-credentials")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("aws-credentials: %v %v, want mode 0600", fi, err)
	}

	var clusters struct {
		ClusterArns []string `json:"clusterArns"`
	}
	aws.json(t, &clusters, "ecs", "list-clusters")
	if len(clusters.ClusterArns) != 1 || clusters.ClusterArns[0] != "arn:aws:ecs:eu-west-1:000000000000:cluster/portway" {
		t.Errorf("list-clusters: %+v", clusters)
	}

	// Scale out: the supervisor starts the tasks; portway's own CLI sees them.
	var upd struct {
		Service ecsServiceOut `json:"service"`
	}
	aws.json(t, &upd, "ecs", "update-service", "--cluster", "portway", "--service", "bags", "--desired-count", "2")
	if upd.Service.DesiredCount != 2 {
		t.Errorf("update-service --desired-count 2: %+v", upd.Service)
	}
	aws.waitService(t, "bags", "2 running bags tasks", func(s ecsServiceOut) bool { return s.RunningCount == 2 })
	if n := len(tasksOf(ecsTasks(t, stateDir), "bags", "RUNNING")); n != 2 {
		t.Errorf("portway tasks shows %d running bags tasks, want 2", n)
	}

	// A forced deployment rolls the tasks over and completes.
	aws.json(t, &upd, "ecs", "update-service", "--cluster", "portway", "--service", "bags", "--force-new-deployment")
	if len(upd.Service.Deployments) < 2 || upd.Service.Deployments[0].RolloutState != "IN_PROGRESS" {
		t.Fatalf("update-service --force-new-deployment: %+v", upd.Service.Deployments)
	}
	newID := upd.Service.Deployments[0].ID
	s := aws.waitService(t, "bags", "the new deployment to complete", func(s ecsServiceOut) bool {
		return len(s.Deployments) == 1 && s.Deployments[0].ID == newID && s.Deployments[0].RolloutState == "COMPLETED" && s.RunningCount == 2
	})
	if s.Deployments[0].TaskDefinition != "arn:aws:ecs:eu-west-1:000000000000:task-definition/bags:1" || len(s.Events) == 0 {
		t.Errorf("describe-services after the deployment: %+v", s)
	}

	// Tasks: list, describe, stop one with a reason.
	var lt struct {
		TaskArns []string `json:"taskArns"`
	}
	aws.json(t, &lt, "ecs", "list-tasks", "--cluster", "portway", "--service-name", "bags")
	if len(lt.TaskArns) != 2 {
		t.Fatalf("list-tasks: %+v", lt)
	}
	var dt struct {
		Tasks []struct {
			TaskArn    string `json:"taskArn"`
			LastStatus string `json:"lastStatus"`
			Containers []struct {
				NetworkInterfaces []struct {
					PrivateIpv4Address string `json:"privateIpv4Address"`
				} `json:"networkInterfaces"`
			} `json:"containers"`
			StoppedReason string `json:"stoppedReason"`
			StopCode      string `json:"stopCode"`
		} `json:"tasks"`
	}
	aws.json(t, &dt, "ecs", "describe-tasks", "--cluster", "portway", "--tasks", lt.TaskArns[0])
	if len(dt.Tasks) != 1 || dt.Tasks[0].LastStatus != "RUNNING" || !strings.HasPrefix(dt.Tasks[0].Containers[0].NetworkInterfaces[0].PrivateIpv4Address, "127.77.191.") {
		t.Errorf("describe-tasks: %+v", dt)
	}
	aws.json(t, &struct{}{}, "ecs", "stop-task", "--cluster", "portway", "--task", lt.TaskArns[0], "--reason", "rotated by e2e")
	id := lt.TaskArns[0][strings.LastIndexByte(lt.TaskArns[0], '/')+1:]
	waitTasks(t, stateDir, "the stopped task", 60*time.Second, func(ts []ecsTask) bool {
		for _, tk := range ts {
			if tk.TaskID == id {
				return tk.LastStatus == "STOPPED" && tk.StoppedReason == "rotated by e2e" && tk.StopCode == "UserInitiated"
			}
		}
		return false
	})
	var td struct {
		TaskDefinition struct {
			Family   string `json:"family"`
			Revision int    `json:"revision"`
		} `json:"taskDefinition"`
	}
	aws.json(t, &td, "ecs", "describe-task-definition", "--task-definition", "bags")
	if td.TaskDefinition.Family != "bags" || td.TaskDefinition.Revision != 1 {
		t.Errorf("describe-task-definition: %+v", td)
	}

	// Cognito: an app client with one scope, then a token with it.
	var cc struct {
		UserPoolClient struct {
			ClientID     string `json:"ClientId"`
			ClientSecret string `json:"ClientSecret"`
		} `json:"UserPoolClient"`
	}
	aws.json(t, &cc, "cognito-idp", "create-user-pool-client", "--user-pool-id", "eu-west-1_portway", "--client-name", "from-aws-cli",
		"--generate-secret", "--allowed-o-auth-flows", "client_credentials", "--allowed-o-auth-flows-user-pool-client",
		"--allowed-o-auth-scopes", scopeBagsE2E)
	token := mustToken(t, ep.TokenURL, cc.UserPoolClient.ClientID, cc.UserPoolClient.ClientSecret)
	if claims := jwtPart(t, token, 1); claims["scope"] != scopeBagsE2E {
		t.Errorf("token claims: %v", claims)
	}
	if code, body := gatewayGet(t, ep.APIURL+"/bags/x/y", token); code != http.StatusNotFound {
		t.Errorf("the new client's token on bags: %d %s, want the app's 404", code, body)
	}
	out, errOut, err := runPortway(t, "clients", "list", "--state-dir", stateDir)
	if err != nil || !strings.Contains(out, cc.UserPoolClient.ClientID) {
		t.Errorf("portway clients list does not show the client: %v %s %s", err, out, errOut)
	}

	// Authentication failures, as AWS words them.
	wrong := filepath.Join(t.TempDir(), "creds")
	data, _ := os.ReadFile(filepath.Join(stateDir, "aws-credentials"))
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "aws_secret_access_key") {
			lines[i] = "aws_secret_access_key = " + strings.Repeat("x", 40)
		}
	}
	if err := os.WriteFile(wrong, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := aws
	bad.credsFile = wrong
	if _, errOut, err := bad.run(t, "ecs", "list-clusters"); err == nil || !strings.Contains(errOut, "(InvalidSignatureException)") {
		t.Errorf("wrong secret: %v %s", err, errOut)
	}
	unknown := filepath.Join(t.TempDir(), "creds")
	if err := os.WriteFile(unknown, []byte("[portway]\naws_access_key_id = AKIAUNKNOWNUNKNOWNUN\naws_secret_access_key = "+strings.Repeat("x", 40)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad.credsFile = unknown
	if _, errOut, err := bad.run(t, "cognito-idp", "list-user-pools", "--max-results", "5"); err == nil || !strings.Contains(errOut, "(UnrecognizedClientException)") {
		t.Errorf("unknown access key: %v %s", err, errOut)
	}
	if _, errOut, err := aws.run(t, "--no-sign-request", "ecs", "list-clusters"); err == nil || !strings.Contains(errOut, "(MissingAuthenticationTokenException)") {
		t.Errorf("unsigned: %v %s", err, errOut)
	}
	if _, errOut, err := aws.run(t, "ecs", "update-service", "--cluster", "portway", "--service", "nope", "--desired-count", "1"); err == nil ||
		!strings.Contains(errOut, "(ServiceNotFoundException)") {
		t.Errorf("unknown service: %v %s", err, errOut)
	}
}
