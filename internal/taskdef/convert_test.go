package taskdef

import (
	"flag"
	"os"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func convertFile(t *testing.T, path string, opts Options) Result {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := Convert(f, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestDescribeOutput: a describe-task-definition document with an nginx
// sidecar, an app with health check, secrets and ulimits converts to the
// golden services[] entry, and every field left out is named.
func TestDescribeOutput(t *testing.T) {
	res := convertFile(t, "testdata/describe-bags.json", Options{DesiredCount: 1})
	got, err := res.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("testdata/describe-bags.yaml", got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("testdata/describe-bags.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("YAML:\n%s\nwant:\n%s", got, want)
	}
	var paths []string
	for _, n := range res.Notes {
		paths = append(paths, n.Path)
	}
	for _, p := range []string{
		"taskDefinition.containerDefinitions[0]", // nginx → sidecar
		"taskDefinition.containerDefinitions[0].logConfiguration",

		"taskDefinition.containerDefinitions[1].mountPoints",
		"taskDefinition.containerDefinitions[1].dockerLabels",
		"taskDefinition.containerDefinitions[1].portMappings[0].name",
		"taskDefinition.containerDefinitions[1].portMappings[0].appProtocol",
		"taskDefinition.containerDefinitions[1].secrets[0].valueFrom",
		"taskDefinition.containerDefinitions[1].secrets[1].valueFrom",
		"taskDefinition.cpu", "taskDefinition.memory", "taskDefinition.volumes",
		"taskDefinition.executionRoleArn", "taskDefinition.taskRoleArn", "taskDefinition.requiresCompatibilities",
		"taskDefinition.revision", "taskDefinition.registeredAt",
		"tags",
	} {
		if !slices.Contains(paths, p) {
			t.Errorf("no note for %s; notes:\n%s", p, notesText(res.Notes))
		}
	}
	for _, n := range res.Notes {
		if strings.HasPrefix(n.Path, "taskDefinition.containerDefinitions[1].") && strings.Contains(n.Path, "secrets[0]") &&
			!strings.Contains(n.Message, "Secrets Manager secret arn:aws:secretsmanager:") {
			t.Errorf("secret note %q does not name the secret", n)
		}
		if n.Path == "taskDefinition.networkMode" {
			t.Errorf("awsvpc noted: %s", n)
		}
	}
}

func notesText(notes []Note) string {
	var b strings.Builder
	for _, n := range notes {
		b.WriteString(n.String() + "\n")
	}
	return b.String()
}

// TestRegisterInput: register-task-definition input (fields at the top),
// flags, no nginx, a bridge network mode.
func TestRegisterInput(t *testing.T) {
	in := `{"family": "web", "networkMode": "bridge",
	  "containerDefinitions": [
	    {"name": "web", "image": "ghcr.io/acme/web:1", "essential": true, "portMappings": [{"containerPort": 8080}],
	     "links": ["db"], "healthCheck": {"command": ["CMD", "/healthz"], "interval": 5}},
	    {"name": "worker", "image": "ghcr.io/acme/worker:1", "essential": false, "frobnicate": 1}
	  ]}`
	res, err := Convert(strings.NewReader(in), Options{Service: "site", TargetGroup: "site-tg", DesiredCount: 3})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Service
	if s.Name != "site" || s.DesiredCount != 3 || s.TargetGroup != "site-tg" || s.ContainerName != "web" || s.ContainerPort != 8080 ||
		res.Sidecar != "" || len(s.Containers) != 2 || *s.Containers[1].Essential {
		t.Errorf("service %+v", s)
	}
	if hc := s.Containers[0].HealthCheck; hc == nil || hc.Interval.String() != "5s" || hc.Timeout != 0 {
		t.Errorf("health check %+v", hc)
	}
	text := notesText(res.Notes)
	for _, want := range []string{
		`networkMode: ignored: "bridge"`,
		"containerDefinitions[0].links: ignored: awsvpc",
		"containerDefinitions[1].frobnicate: ignored: not supported by portway",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("notes lack %q:\n%s", want, text)
		}
	}
	y, err := res.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(y), "sidecar") || !strings.Contains(string(y), "# Imported from the ECS task definition web by") {
		t.Errorf("YAML:\n%s", y)
	}
}

func TestConvertErrors(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{``, "not JSON"},
		{`[1]`, "want a JSON object"},
		{`{} {}`, "more than one value"},
		{`{"containerDefinitions": []}`, "family: required (or give --service)"},
		{`{"family": "x"}`, "containerDefinitions: required"},
		{`{"taskDefinition": {"family": "x", "containerDefinitions": [{"name": "a"}]}}`, "taskDefinition.containerDefinitions[0].image: required"},
		{`{"family": "x", "containerDefinitions": [{"name": "a", "image": "i", "memory": "lots"}]}`, `containerDefinitions[0].memory: want a whole number, got "lots"`},
		{`{"family": "x", "containerDefinitions": [{"name": "a", "image": "i", "command": "run"}]}`, "containerDefinitions[0].command: want a list of strings, got a string"},
		{`{"family": "x", "containerDefinitions": [{"name": "a", "image": "i", "portMappings": [{"containerPort": 80, "hostPort": 8080}]}]}`,
			"containerDefinitions[0].portMappings[0].hostPort: 8080 differs from containerPort 80"},
		{`{"family": "x", "containerDefinitions": [{"name": "a", "image": "i", "essential": "yes"}]}`, "containerDefinitions[0].essential: want true or false, got a string"},
	} {
		_, err := Convert(strings.NewReader(tt.in), Options{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Convert(%s) = %v, want %q", tt.in, err, tt.want)
		}
	}
	if _, err := Convert(strings.NewReader(`{"family":"`+strings.Repeat("x", MaxInput)+`"}`), Options{}); err == nil ||
		!strings.Contains(err.Error(), "larger than") {
		t.Errorf("a huge input: %v", err)
	}
}

func TestIsNginx(t *testing.T) {
	for image, want := range map[string]bool{
		"nginx": true, "nginx:1.27": true, "public.ecr.aws/nginx/nginx:stable": true, "nginxinc/nginx-unprivileged:1.27": true,
		"123.dkr.ecr.eu-west-1.amazonaws.com/storage/nginx:1.27-alpine": true, "nginx@sha256:abc": true,
		"bags": false, "nginx/nginx-prometheus-exporter:1": false, "acme/mynginx:1": false, "nginxproxy/acme:1": false,
	} {
		if got := isNginx(image); got != want {
			t.Errorf("isNginx(%q) = %v, want %v", image, got, want)
		}
	}
}

func TestPrintNotes(t *testing.T) {
	if testing.Verbose() {
		t.Log("\n" + notesText(convertFile(t, "testdata/describe-bags.json", Options{}).Notes))
	}
}
