package e2e

import (
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portway/portway/internal/stack"
	"github.com/portway/portway/internal/testutil"
)

var freePorts = []string{"--listen", "127.0.0.1:0", "--auth-listen", "127.0.0.1:0", "--control-listen", "127.0.0.1:0"}

// TestTwoStacksOnOneMachine (issue 14): two `portway up` of the built-in
// stack, started at the same moment with state dirs of their own, both
// become ready on distinct private blocks (the default one when it is
// free) and each serves a token-authorized request through its own
// gateway to its own tasks. A third, whose config names the first one's
// taken address, fails with an error naming the field and leaves its state
// dir, new or an earlier run's, as it found it.
func TestTwoStacksOnOneMachine(t *testing.T) {
	dirs := []string{filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")}
	ups := []*upProcess{launchUp(t, dirs[0], freePorts...), launchUp(t, dirs[1], freePorts...)}
	for _, p := range ups {
		p.waitReady(t)
	}
	var eps [2]stack.Endpoints
	for i, d := range dirs {
		var err error
		if eps[i], err = stack.ReadEndpoints(d); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("blocks: nlb %s tasks %s; nlb %s tasks %s", eps[0].NLBAddress, eps[0].TaskSubnet, eps[1].NLBAddress, eps[1].TaskSubnet)
	if eps[0].NLBAddress == eps[1].NLBAddress || eps[0].TaskSubnet == eps[1].TaskSubnet {
		t.Fatalf("both stacks on one block: %+v and %+v", eps[0], eps[1])
	}
	auto := netip.MustParsePrefix("127.77.0.0/18") // 127.77.0.0/23 … 127.77.62.0/23 and more
	for i, ep := range eps {
		nlb := netip.MustParseAddr(ep.NLBAddress)
		tasks := netip.MustParsePrefix(ep.TaskSubnet)
		if !auto.Contains(nlb) || nlb.As4()[3] != 10 || tasks.Bits() != 24 || tasks.Addr().As4()[2] != nlb.As4()[2]+1 {
			t.Errorf("stack %d: nlb %s, tasks %s: not a block of the automatic range", i, nlb, tasks)
		}
		// endpoints.json comes first, the summary and the batched log
		// lines a moment later.
		testutil.WaitFor(t, 30*time.Second, fmt.Sprintf("stack %d's summary and log naming its block", i), func() bool {
			return strings.Contains(ups[i].stdout.String(), "private  nlb "+ep.NLBAddress+", tasks "+ep.TaskSubnet) &&
				strings.Contains(ups[i].stderr.String(), "msg=\"private block\" nlb="+ep.NLBAddress)
		})
	}

	for i, d := range dirs {
		tok, errOut, err := runPortway(t, "token", "--state-dir", d)
		if err != nil {
			t.Fatalf("portway token: %v %s", err, errOut)
		}
		status, body := gatewayGet(t, eps[i].APIURL+"/bags/digitised/b-two-stacks", strings.TrimSpace(tok))
		if status != 404 || !strings.Contains(body, `"httpStatus":404`) {
			t.Errorf("stack %d: GET a bag: %d %s, want the bags app's 404", i, status, body)
		}
		// The request went to this stack's own tasks.
		var conns int64
		tasks := netip.MustParsePrefix(eps[i].TaskSubnet)
		for _, td := range describeTargets(t, d, "bags") {
			if !tasks.Contains(netip.MustParseAddr(td.Target.ID)) {
				t.Errorf("stack %d: target %s outside its task subnet %s", i, td.Target.ID, tasks)
			}
			conns += td.Connections
		}
		if conns == 0 {
			t.Errorf("stack %d: its bags targets got no connection", i)
		}
	}

	// A third stack names the first one's block in its config.
	cfg := testStack(15)
	cfg.NLB.Address = eps[0].NLBAddress
	cfg.Gateway.StageVariables["nlb_host"] = eps[0].NLBAddress
	cfg.Tasks.Subnet = eps[0].TaskSubnet
	path := writeConfig(t, cfg)
	earlier := t.TempDir()
	for name, content := range map[string]string{"notes.txt": "mine", "auth/README": "kept", stack.EndpointsFile: "{}"} {
		p := filepath.Join(earlier, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, dir := range []string{filepath.Join(t.TempDir(), "new"), t.TempDir(), earlier} {
		before := testutil.Tree(t, dir)
		_, errOut, err := runPortway(t, "up", "--config", path, "--state-dir", dir)
		want := "nlb.address " + eps[0].NLBAddress + " (with tasks.subnet " + eps[0].TaskSubnet + ") is in use by another `portway up`"
		if err == nil || !strings.Contains(errOut, want) || !strings.Contains(errOut, "--subnet") {
			t.Errorf("third stack: %v\n%s\nwant %q and a --subnet hint", err, errOut, want)
		}
		if after := testutil.Tree(t, dir); !maps.Equal(before, after) {
			t.Errorf("the failed start changed %s:\nbefore %v\nafter  %v", dir, before, after)
		}
	}

	// --subnet is checked before anything starts.
	_, errOut, err := runPortway(t, "up", "--subnet", "10.1.0.0/23", "--state-dir", filepath.Join(t.TempDir(), "x"))
	if err == nil || !strings.Contains(errOut, "--subnet: 10.1.0.0/23 is not a loopback network") {
		t.Errorf("up --subnet 10.1.0.0/23: %v %s", err, errOut)
	}
	for _, p := range ups {
		p.stop(t)
	}
}

// TestCustomStackTellsTheTruth (issue 15): a custom stack's summary shows
// a request on its own routes; `portway clients create` takes its own
// scopes without --config and refuses others naming the valid ones; the
// new client's token passes its gateway.
func TestCustomStackTellsTheTruth(t *testing.T) {
	cfg := testStack(16)
	cfg.Auth.ResourceServers = append(cfg.Auth.ResourceServers, stack.ResourceServerConfig{Identifier: "https://widgets", Scopes: []string{"read"}})
	cfg.Auth.DefaultClient.Scopes = []string{"https://widgets/read"}
	cfg.Gateway.Resources = []stack.ResourceConfig{{Path: "/items/{proxy+}", Methods: []stack.MethodConfig{{
		HTTPMethod: "GET", Authorization: "COGNITO_USER_POOLS", Scopes: []string{"https://widgets/read"},
		Integration: stack.IntegrationConfig{Type: "HTTP_PROXY", URI: "http://${stageVariables.nlb_host}:${stageVariables.bags_port}/bags/{proxy}", Timeout: cfg.Gateway.Resources[0].Methods[0].Integration.Timeout},
	}}}}
	dir := t.TempDir()
	up := startUp(t, dir, "--config", writeConfig(t, cfg))
	ep, err := stack.ReadEndpoints(dir)
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 30*time.Second, "the ready summary", func() bool { return strings.Contains(up.stdout.String(), "Ctrl-C stops the stack") })
	sum := up.stdout.String()
	for _, want := range []string{"Try it (GET /items/{proxy+} needs scope https://widgets/read)", ep.APIURL + "/items/example\n"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
	if strings.Contains(sum, "digitised") || strings.Contains(sum, "/bags") {
		t.Errorf("a custom stack's summary names the storage service:\n%s", sum)
	}

	_, errOut, err := runPortway(t, "clients", "create", "--state-dir", dir, "--name", "other", "--scope", "https://example.org/nope")
	if err == nil || !strings.Contains(errOut, "valid scopes: "+stack.StorageResourceServer+"/bags, "+stack.StorageResourceServer+"/ingests, https://widgets/read") {
		t.Errorf("clients create with a foreign scope: %v %s", err, errOut)
	}
	id, secret := createClient(t, dir, "", "reader", "https://widgets/read") // no --config: the running stack's scopes
	tok := mustToken(t, ep.TokenURL, id, secret)
	if status, body := gatewayGet(t, ep.APIURL+"/items/digitised/b-custom", tok); status != 404 || !strings.Contains(body, `"httpStatus":404`) {
		t.Errorf("GET items with the new client's token: %d %s, want the app's 404", status, body)
	}
	if out, _, err := runPortway(t, "--version"); err != nil || !strings.HasPrefix(out, "portway ") {
		t.Errorf("portway --version: %v %q", err, out)
	}
}

// TestConfigCheckFindsWhatUpWould (issue 15): `portway config check`
// fails on what `portway up` would refuse, naming each YAML path, and
// `up` refuses the same file with the same words before it starts.
func TestConfigCheckFindsWhatUpWould(t *testing.T) {
	cfg := testStack(17)
	cfg.Services[0].ContainerPort = 9001                                 // the sidecar listens on 9000
	cfg.Services[1].Containers[1].Executable = "portway-no-such-program" // not on $PATH
	path := writeConfig(t, cfg)
	_, errOut, err := runPortway(t, "config", "check", path)
	wants := []string{
		path + ": services[0].containerPort: 9001, but the built-in sidecar (services[0].containers[0]) listens on ${TASK_IP}:9000 (its --listen)",
		path + `: services[1].containers[1].executable: exec: "portway-no-such-program": executable file not found in $PATH`,
		"portway: " + path + ": 2 problem(s)",
	}
	for _, want := range wants {
		if err == nil || !strings.Contains(errOut, want) {
			t.Errorf("config check: %v\n%s\nwant %q", err, errOut, want)
		}
	}
	dir := filepath.Join(t.TempDir(), "state")
	_, errOut, err = runPortway(t, "up", "--config", path, "--state-dir", dir)
	if err == nil || !strings.Contains(errOut, "services[0].containerPort: 9001, but the built-in sidecar") || !strings.Contains(errOut, "portway-no-such-program") {
		t.Errorf("up: %v\n%s", err, errOut)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("up refused by its preflight made the state dir")
	}
}
