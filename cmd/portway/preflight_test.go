package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/portway/portway/internal/stack"
)

// TestConfigCheckRunsUpsChecks: `config check` reports every problem `up`
// would refuse to start with, each with its YAML path, and fails.
func TestConfigCheckRunsUpsChecks(t *testing.T) {
	cfg := stack.Default()
	cfg.Tasks.Subnet = "127.77.0.0/16"                                   // holds the NLB
	cfg.Control.Listen = "10.0.0.6:8082"                                 // needs TLS
	cfg.Services[0].ContainerPort = 9001                                 // the sidecar listens on 9000
	cfg.Services[1].Containers[1].Executable = "portway-no-such-program" // not on $PATH
	data, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "stack.yaml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, "config", "check", path)
	if err == nil || err.Error() != path+": 4 problem(s)" {
		t.Errorf("config check = %v, want 4 problems", err)
	}
	for _, want := range []string{
		path + ": tasks.subnet: 127.77.0.0/16 holds nlb.address 127.77.0.10",
		path + ": control.listen 10.0.0.6:8082 is not a loopback address",
		path + ": services[0].containerPort: 9001, but the built-in sidecar (services[0].containers[0]) listens on ${TASK_IP}:9000",
		path + `: services[1].containers[1].executable: exec: "portway-no-such-program": executable file not found in $PATH`,
	} {
		if !strings.Contains(out, want+"") {
			t.Errorf("config check output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, ": ok") {
		t.Errorf("config check says ok:\n%s", out)
	}
	// A file that does not decode is a problem too, by its path.
	if err := os.WriteFile(path, []byte("nlb:\n  adress: 127.77.0.10\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runCLI(t, "config", "check", path); err == nil || !strings.Contains(out, path+": nlb.adress: unknown field; did you mean address?") {
		t.Errorf("config check of a misspelt field: %v\n%s", err, out)
	}
}

func TestVersion(t *testing.T) {
	info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-12-07T03:00:00Z"}, {Key: "vcs.modified", Value: "true"},
	}}
	for _, tc := range []struct {
		override string
		info     *debug.BuildInfo
		want     string
	}{
		{"", info, "portway v1.4.0 (commit 0123456789ab+dirty, built from 2026-12-07T03:00:00Z, go1.26.8)"},
		{"v2.0.0-rc1", info, "portway v2.0.0-rc1 (commit 0123456789ab+dirty, built from 2026-12-07T03:00:00Z, go1.26.8)"},
		{"", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, "portway (devel) (go1.26.8)"},
	} {
		if got := formatVersion(tc.override, tc.info); got != tc.want {
			t.Errorf("formatVersion(%q) = %q, want %q", tc.override, got, tc.want)
		}
	}
	a, err := runCLI(t, "--version")
	if err != nil {
		t.Fatal(err)
	}
	b, err := runCLI(t, "version")
	if err != nil {
		t.Fatal(err)
	}
	if a != b || !strings.HasPrefix(a, "portway ") || !strings.Contains(a, "go1.") {
		t.Errorf("--version %q, version %q", a, b)
	}
}

// runningStack makes a state dir that looks like a running custom stack's:
// endpoints.json with its resource servers and example.
func runningStack(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ep := stack.Endpoints{
		APIURL: "http://127.0.0.1:1/prod", TokenURL: "http://127.0.0.1:2/oauth2/token", ControlURL: "http://127.0.0.1:3",
		ResourceServers: []stack.ResourceServerJSON{{Identifier: "https://widgets", Scopes: []string{"read", "write"}}},
		TokenValidity:   (2 * time.Hour).String(),
		Example: &stack.Example{Method: "GET", Path: "/widgets/example", Resource: "/widgets/{proxy+}", Scope: "https://widgets/read",
			URL: "http://127.0.0.1:1/prod/widgets/example"},
	}
	data, err := json.Marshal(ep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, stack.EndpointsFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestClientsCreateUsesRunningStack: without --config, `clients create`
// takes the scopes of the stack running on the state dir, and names them
// when one is wrong.
func TestClientsCreateUsesRunningStack(t *testing.T) {
	dir := runningStack(t)
	out, err := runCLI(t, "clients", "create", "--state-dir", dir, "--name", "reader", "--scope", "https://widgets/read")
	if err != nil {
		t.Fatalf("clients create: %v %s", err, out)
	}
	var creds clientCredentialsJSON
	if err := json.Unmarshal([]byte(out), &creds); err != nil || creds.ClientID == "" {
		t.Fatalf("clients create printed %q: %v", out, err)
	}
	list, err := runCLI(t, "clients", "list", "--state-dir", dir)
	if err != nil || !strings.Contains(list, "https://widgets/read") || !strings.Contains(list, "2h0m0s") {
		t.Errorf("clients list: %v\n%s", err, list)
	}
	_, err = runCLI(t, "clients", "create", "--state-dir", dir, "--name", "r2", "--scope", stack.StorageResourceServer+"/bags")
	want := `--scope "` + stack.StorageResourceServer + `/bags": no resource server of the stack running on ` + dir + ` defines this scope; valid scopes: https://widgets/read, https://widgets/write`
	if err == nil || err.Error() != want {
		t.Errorf("clients create with a scope of another stack: %v\nwant %s", err, want)
	}
	// A resource server created at runtime (CreateResourceServer on the AWS
	// front door) is the pool's too.
	if err := os.MkdirAll(filepath.Join(dir, "auth"), 0o700); err != nil {
		t.Fatal(err)
	}
	created := `{"resource_servers": [{"identifier": "https://gadgets", "name": "gadgets",
		"scopes": [{"name": "use", "description": "use gadgets"}], "created_at": "2026-12-07T00:00:00Z"}]}`
	if err := os.WriteFile(filepath.Join(dir, "auth", "resource-servers.json"), []byte(created), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := runCLI(t, "clients", "create", "--state-dir", dir, "--name", "gadgeteer", "--scope", "https://gadgets/use"); err != nil {
		t.Errorf("clients create with a runtime resource server's scope: %v %s", err, out)
	}
	// Without a running stack, the built-in stack's scopes, as before.
	if _, err := runCLI(t, "clients", "create", "--state-dir", t.TempDir(), "--name", "r3", "--scope", "https://widgets/read"); err == nil ||
		!strings.Contains(err.Error(), "the built-in stack") {
		t.Errorf("clients create without a running stack: %v", err)
	}
}

func TestTokenHintsDescribeTheStack(t *testing.T) {
	dir := runningStack(t)
	ep, err := stack.ReadEndpoints(dir)
	if err != nil {
		t.Fatal(err)
	}
	hint := tokenHint(ep, dir)
	for _, want := range []string{"GET /widgets/{proxy+} needs scope https://widgets/read", `curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:1/prod/widgets/example`} {
		if !strings.Contains(hint, want) {
			t.Errorf("hint lacks %q:\n%s", want, hint)
		}
	}
	if strings.Contains(hint, "bags") {
		t.Errorf("hint names the storage service:\n%s", hint)
	}
	if err := checkTokenScopes(ep, []string{"https://widgets/write"}); err != nil {
		t.Error(err)
	}
	err = checkTokenScopes(ep, []string{"https://widgets/delete"})
	if err == nil || !strings.Contains(err.Error(), "valid scopes: https://widgets/read, https://widgets/write") {
		t.Errorf("unknown scope: %v", err)
	}
	// Through the command: refused before any token endpoint is asked.
	creds := `{"client_id": "x", "client_secret": "y", "token_url": "http://127.0.0.1:2/oauth2/token"}`
	if err := os.WriteFile(filepath.Join(dir, stack.CredentialsFile), []byte(creds), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI(t, "token", "--state-dir", dir, "--scope", "https://widgets/delete"); err == nil || !strings.Contains(err.Error(), "valid scopes") {
		t.Errorf("token --scope unknown: %v", err)
	}
}
