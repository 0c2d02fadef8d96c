package stack

import (
	"github.com/portway/portway/internal/pki"
	"strings"
	"testing"
	"time"

	"github.com/portway/portway/internal/gateway"
)

func TestDefaultIsValidAndRoundTrips(t *testing.T) {
	cfg := Default()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("built-in stack invalid: %v", err)
	}
	data, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(data)
	if err != nil {
		t.Fatalf("built-in stack does not parse back: %v\n%s", err, data)
	}
	if back.NLB.TargetGroups[0].HealthCheck.Interval != time.Second {
		t.Errorf("durations lost in YAML round trip: %v", back.NLB.TargetGroups[0].HealthCheck.Interval)
	}
	if len(back.Services) != 2 || back.Services[1].Containers[1].Command[0] != "app" {
		t.Errorf("services lost in round trip: %+v", back.Services)
	}
}

func TestParseErrorsNameTheField(t *testing.T) {
	base := func() Config { return Default() }
	cases := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"listen", func(c *Config) { c.Gateway.Listen = "nonsense" }, "gateway.listen"},
		{"listener group", func(c *Config) { c.NLB.Listeners[1].TargetGroup = "nope" }, `nlb.listeners[1].targetGroup: "nope"`},
		{"service group", func(c *Config) { c.Services[0].TargetGroup = "x" }, "services[0].targetGroup"},
		{"scope", func(c *Config) { c.Gateway.Resources[2].Methods[0].Scopes = []string{"foo/bar"} }, "gateway.resources[2].methods[0].scopes[0]"},
		{"subnet", func(c *Config) { c.Tasks.Subnet = "10.0.0.1" }, "tasks.subnet"},
		{"nlb address", func(c *Config) { c.NLB.Address = "" }, "nlb.address"},
		{"target CIDRs", func(c *Config) { c.NLB.TargetCIDRs = []string{"10.0.1.0/24", "10.0.2.0"} }, `nlb.targetCIDRs[1]: "10.0.2.0" is not a CIDR`},
		{"gateway link", func(c *Config) { c.NLB.GatewayLink = "pipe" }, `nlb.gatewayLink: must be "in-process" or "tcp", got "pipe"`},
		{"container name", func(c *Config) { c.Services[1].ContainerName = "web" }, "services[1].containerName"},
		{"duplicate service", func(c *Config) { c.Services[1].Name = "bags" }, `services[1].name: "bags" is used twice`},
		{"responses", func(c *Config) { c.Gateway.Responses = "json" }, "gateway.responses"},
		{"nlb component", func(c *Config) { c.NLB.TargetGroups[0].HealthCheck.HealthyThreshold = 99 }, "nlb.targetGroups[0].healthCheck.healthyThreshold"},
		{"gateway component", func(c *Config) { c.Gateway.Resources[0].Path = "/a/{proxy+}/b" }, "gateway.resources[0].path"},
		{"auth component", func(c *Config) { c.Auth.TokenValidity = time.Minute }, "auth.tokenValidity"},
		{"gateway hosts", func(c *Config) { c.Gateway.Hosts = []string{"gw.example.org", "gw.example.org:8080"} }, "gateway.hosts[1]: must be a host name or IP address without port"},
		{"ecs component", func(c *Config) { c.Services[0].Containers[0].Env = []string{"NOEQUALS"} }, "services[0].containers[0].env[0]"},
		{"tls pair", func(c *Config) { c.Gateway.TLS.CertFile = "/nonexistent/cert.pem" }, "gateway.tls: certFile and keyFile go together"},
		{"tls files", func(c *Config) { c.Auth.TLS.CertFile, c.Auth.TLS.KeyFile = "/nonexistent/c.pem", "/nonexistent/k.pem" }, "auth.tls: certFile/keyFile"},
		{"tls extra", func(c *Config) {
			c.Control.TLS = pki.ListenerTLS{Certificates: []pki.Files{{CertFile: "/z", KeyFile: "/k"}}}
		}, "control.tls: certFile and keyFile go together (a listener with more certificates needs its default one too)"},
		{"tls caFile", func(c *Config) { c.TLS.CAFile = "/nonexistent/ca.pem" }, "tls.caFile"},
		{"callback allow", func(c *Config) { c.Storage.Callbacks.Allow = []string{"127.0.0.0/8", "localhost"} },
			`storage.callbacks.allow[1]: "localhost" is not a CIDR`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base()
			tc.mutate(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

func TestParseStrict(t *testing.T) {
	cases := map[string]string{
		"unknown top-level": "gatewy: {}\n",
		"unknown nested":    "nlb:\n  targetGroups:\n    - name: a\n      helthCheck: {}\n",
		"bad duration":      "auth:\n  tokenValidity: forever\n",
		"empty":             "",
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse([]byte(doc)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	_, err := Parse([]byte("nlb:\n  targetGroups:\n    - name: a\n      helthCheck: {}\n"))
	if !strings.Contains(err.Error(), "helthCheck") || !strings.Contains(err.Error(), "line 4") {
		t.Errorf("error does not name field and line: %v", err)
	}
}

func TestHealthCheckPortYAML(t *testing.T) {
	doc := func(port string) []byte {
		cfg := Default()
		data, err := cfg.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return []byte(strings.Replace(string(data), "port: traffic-port", "port: "+port, 1))
	}
	if !strings.Contains(string(doc("traffic-port")), "port: traffic-port") {
		t.Fatal("the built-in stack does not write its health check port as traffic-port")
	}
	cfg, err := Parse(doc("8080"))
	if err != nil || cfg.NLB.TargetGroups[0].HealthCheck.Port != 8080 {
		t.Fatalf("port 8080: %v %v", cfg.NLB.TargetGroups[0].HealthCheck.Port, err)
	}
	if cfg.NLBComponent(nil).TargetGroups[0].HealthCheck.Port != 8080 {
		t.Error("health check port not passed to the load balancer")
	}
	for _, bad := range []string{"0", "70000", "web"} {
		if _, err := Parse(doc(bad)); err == nil || !strings.Contains(err.Error(), "traffic-port or 1..65535") {
			t.Errorf("port %s: %v", bad, err)
		}
	}
}

func TestResponseOverrides(t *testing.T) {
	cfg := Default()
	cfg.Gateway.ResponseOverrides = map[string]gateway.ResponseTemplate{
		"THROTTLED": {StatusCode: 429, Body: `{"slow":"down"}`},
	}
	gc := cfg.GatewayComponent("http://i", "http://j", nil)
	if gc.Responses["THROTTLED"].Body != `{"slow":"down"}` {
		t.Errorf("override lost: %+v", gc.Responses["THROTTLED"])
	}
	if gc.Responses["UNAUTHORIZED"].Body != gateway.StorageResponses()["UNAUTHORIZED"].Body {
		t.Error("the storage responses must stay under the override")
	}
	cfg.Gateway.ResponseOverrides = map[string]gateway.ResponseTemplate{"NOT_A_TYPE": {StatusCode: 400}}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "gateway.responses") {
		t.Errorf("unknown response type: %v", err)
	}
}

// TestGatewayHosts: gateway.hosts reaches the gateway's config.
func TestGatewayHosts(t *testing.T) {
	data, err := Default().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	yaml := strings.Replace(string(data), "gateway:\n", "gateway:\n  hosts: [gw.example.org, 10.0.0.8]\n", 1)
	cfg, err := Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	gc := cfg.GatewayComponent("http://127.0.0.1/issuer", "http://127.0.0.1/jwks", nil)
	if strings.Join(gc.Hosts, ",") != "gw.example.org,10.0.0.8" {
		t.Fatalf("gateway hosts %q", gc.Hosts)
	}
}

func TestUpTargetCIDRs(t *testing.T) {
	cfg := Default()
	if got := strings.Join(cfg.upTargetCIDRs(), ","); got != DefaultTaskSubnet {
		t.Errorf("no nlb.targetCIDRs: %s, want the task subnet", got)
	}
	cfg.NLB.TargetCIDRs = []string{"10.0.1.0/24"}
	if got := strings.Join(cfg.upTargetCIDRs(), ","); got != "10.0.1.0/24,"+DefaultTaskSubnet {
		t.Errorf("nlb.targetCIDRs 10.0.1.0/24: %s, want it and the task subnet", got)
	}
	cfg.NLB.TargetCIDRs = []string{DefaultTaskSubnet}
	if got := strings.Join(cfg.upTargetCIDRs(), ","); got != DefaultTaskSubnet {
		t.Errorf("nlb.targetCIDRs = the task subnet: %s", got)
	}
}

// The callbacks' allow list in YAML: the built-in stack allows loopback,
// and a bad entry is named by its YAML path.
func TestCallbacksAllowYAML(t *testing.T) {
	d := Default()
	if got := d.Storage.Callbacks.Allow; len(got) != 2 || got[0] != "127.0.0.0/8" || got[1] != "::1/128" {
		t.Fatalf("built-in storage.callbacks.allow = %q", got)
	}
	data, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "callbacks:\n    allow:\n      - 127.0.0.0/8\n      - ::1/128\n") {
		t.Fatalf("built-in stack YAML lacks storage.callbacks.allow:\n%s", data)
	}
	bad := strings.Replace(string(data), "- ::1/128", "- ::1/129", 1)
	_, err = Parse([]byte(bad))
	if want := `storage.callbacks.allow[1]: "::1/129" is not a CIDR`; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Parse: %v, want %q", err, want)
	}
}

// The built-in user pool id has the form AWS gives pool ids,
// "<region>_<id>", so code that parses it (aws-jwt-verify derives the
// region and issuer from it) works; a config may still use the old local
// form.
func TestDefaultUserPoolIDHasAWSForm(t *testing.T) {
	if got := Default().Auth.UserPoolID; got != "eu-west-1_portway" {
		t.Errorf("default userPoolId = %q, want eu-west-1_portway", got)
	}
	cfg := Default()
	cfg.Auth.UserPoolID = "local_portway"
	if err := cfg.Validate(); err != nil {
		t.Errorf("old local pool id refused: %v", err)
	}
}
