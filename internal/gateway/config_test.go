package gateway

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

func validConfig() Config {
	return Config{
		Listen: "127.0.0.1:0",
		Stage:  "v1",
		StageVariables: map[string]string{
			"nlb_host": "127.77.0.10", "bags_port": "65534", "ingests_port": "65535",
		},
		Resources: []Resource{
			{Path: "/bags", Methods: []Method{proxyMethod("ANY", AuthCognito, "http://${stageVariables.nlb_host}:${stageVariables.bags_port}/bags", scopeBags)}},
			{Path: "/bags/{proxy+}", Methods: []Method{proxyMethod("ANY", AuthCognito, "http://${stageVariables.nlb_host}:${stageVariables.bags_port}/bags/{proxy}", scopeBags)}},
			{Path: "/ingests/{id}", Methods: []Method{proxyMethod("GET", AuthNone, "http://${stageVariables.nlb_host}:${stageVariables.ingests_port}/ingests/{id}")}},
		},
		Authorizer: AuthorizerConfig{Issuer: testIssuer, JWKSURL: "http://127.0.0.1:8081/.well-known/jwks.json"},
	}
}

func TestConfigValidate(t *testing.T) {
	if err := validConfig().Validate(); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   string
	}{
		{"listen empty", func(c *Config) { c.Listen = "" }, "listen: must not be empty"},
		{"listen bad", func(c *Config) { c.Listen = "nope" }, "listen: must be host:port"},
		{"stage empty", func(c *Config) { c.Stage = "" }, "stage: must be"},
		{"stage slash", func(c *Config) { c.Stage = "v1/x" }, "stage: must be"},
		{"stage var name", func(c *Config) { c.StageVariables["bad-name"] = "x" }, "stageVariables.bad-name: name must be"},
		{"stage var value", func(c *Config) { c.StageVariables["x"] = "a b" }, "stageVariables.x: value must be"},
		{"proxy not last", func(c *Config) { c.Resources[1].Path = "/bags/{proxy+}/x" }, "resources[1].path: {proxy+} must be the last path part"},
		{"trailing slash", func(c *Config) { c.Resources[0].Path = "/bags/" }, "resources[0].path: must not end with /"},
		{"no leading slash", func(c *Config) { c.Resources[0].Path = "bags" }, "resources[0].path: must start with /"},
		{"empty part", func(c *Config) { c.Resources[0].Path = "/a//b" }, "resources[0].path: empty path part"},
		{"dot part", func(c *Config) { c.Resources[0].Path = "/a/../b" }, "resources[0].path: invalid path part"},
		{"bad param", func(c *Config) { c.Resources[0].Path = "/a/{x y}" }, "resources[0].path: invalid parameter name"},
		{"dup param", func(c *Config) { c.Resources[0].Path = "/a/{x}/{x}" }, "resources[0].path: parameter {x} is used twice"},
		{"duplicate resource", func(c *Config) { c.Resources[0].Path = "/bags/{proxy+}" }, "resources[1].path: /bags/{proxy+} is defined twice"},
		{"sibling variables", func(c *Config) {
			c.Resources = append(c.Resources, Resource{Path: "/ingests/{other}", Methods: []Method{proxyMethod("GET", AuthNone, "http://h/x")}})
		}, "resources[3].path: {other} conflicts with sibling {id} of resources[2]"},
		{"greedy next to variable", func(c *Config) {
			c.Resources = append(c.Resources, Resource{Path: "/ingests/{proxy+}", Methods: []Method{proxyMethod("GET", AuthNone, "http://h/x")}})
		}, "resources[3].path: {proxy+} conflicts with sibling {id}"},
		{"no methods", func(c *Config) { c.Resources[0].Methods = nil }, "resources[0].methods: must not be empty"},
		{"bad method", func(c *Config) { c.Resources[0].Methods[0].HTTPMethod = "FETCH" }, "resources[0].methods[0].httpMethod: must be ANY"},
		{"dup method", func(c *Config) { c.Resources[0].Methods = append(c.Resources[0].Methods, c.Resources[0].Methods[0]) }, "resources[0].methods[1].httpMethod: ANY is defined twice"},
		{"bad authorization", func(c *Config) { c.Resources[0].Methods[0].Authorization = "" }, "resources[0].methods[0].authorization: must be NONE or COGNITO_USER_POOLS"},
		{"scopes without cognito", func(c *Config) { c.Resources[2].Methods[0].Scopes = []string{"x"} }, "resources[2].methods[0].scopes: only allowed"},
		{"scope with space", func(c *Config) { c.Resources[0].Methods[0].Scopes = []string{"a b"} }, "resources[0].methods[0].scopes[0]: must be non-empty"},
		{"integration type", func(c *Config) { c.Resources[0].Methods[0].Integration.Type = "AWS_PROXY" }, "resources[0].methods[0].integration.type: must be HTTP_PROXY"},
		{"connection type", func(c *Config) { c.Resources[0].Methods[0].Integration.ConnectionType = "vpc_link" },
			`resources[0].methods[0].integration.connectionType: must be INTERNET or VPC_LINK, got "vpc_link"`},
		{"timeout low", func(c *Config) { c.Resources[0].Methods[0].Integration.Timeout = time.Millisecond }, "resources[0].methods[0].integration.timeout: must be between 50ms and 29s"},
		{"timeout high", func(c *Config) { c.Resources[0].Methods[0].Integration.Timeout = 30 * time.Second }, "integration.timeout: must be between"},
		{"timeout over the raised limit", func(c *Config) {
			c.MaxIntegrationTimeout = time.Minute
			c.Resources[0].Methods[0].Integration.Timeout = 61 * time.Second
		}, "resources[0].methods[0].integration.timeout: must be between 50ms and 1m0s (maxIntegrationTimeout), got 1m1s"},
		{"limit below 29s", func(c *Config) { c.MaxIntegrationTimeout = 10 * time.Second }, "maxIntegrationTimeout: must be between 29s (the default) and 24h, got 10s"},
		{"limit negative", func(c *Config) { c.MaxIntegrationTimeout = -time.Second }, "maxIntegrationTimeout: must be between 29s"},
		{"undefined stage var", func(c *Config) { c.Resources[0].Methods[0].Integration.URI = "http://${stageVariables.nope}/x" }, `resources[0].methods[0].integration.uri: stage variable "nope" is not defined`},
		{"uri not http", func(c *Config) { c.Resources[0].Methods[0].Integration.URI = "ftp://h/x" }, "integration.uri: must be an absolute http"},
		{"uri unknown param", func(c *Config) { c.Resources[0].Methods[0].Integration.URI = "http://h/{proxy}" }, "resources[0].methods[0].integration.uri: {proxy} is not a path parameter"},
		{"uri param in host", func(c *Config) { c.Resources[1].Methods[0].Integration.URI = "http://{proxy}/x" }, "resources[1].methods[0].integration.uri: placeholders are only allowed in the path"},
		{"issuer missing", func(c *Config) { c.Authorizer.Issuer = "" }, "authorizer.issuer: must be an absolute URL (required by resources[0].methods[0])"},
		{"jwks missing", func(c *Config) { c.Authorizer.JWKSURL = "" }, "authorizer.jwksUrl: must be an http(s) URL"},
		{"response type", func(c *Config) { c.Responses = map[string]ResponseTemplate{"NOPE": {}} }, "responses.NOPE: unknown gateway response type"},
		{"response status", func(c *Config) { c.Responses = map[string]ResponseTemplate{RespUnauthorized: {StatusCode: 99}} }, "responses.UNAUTHORIZED.statusCode: must be"},
		{"response header", func(c *Config) {
			c.Responses = map[string]ResponseTemplate{RespUnauthorized: {Headers: map[string]string{"X-A": "a\r\nb"}}}
		}, "responses.UNAUTHORIZED.headers.X-A: value must not contain CR"},
		{"throttle burst", func(c *Config) { c.Throttle.RateLimit = 10 }, "throttle.burstLimit: must be >= 1"},
		{"throttle rate", func(c *Config) { c.Throttle.RateLimit = -1 }, "throttle.rateLimit: must be >= 0"},
		{"client burst", func(c *Config) { c.Throttle.PerClient.RateLimit = 1 }, "throttle.perClient.burstLimit: must be >= 1"},
		{"client max", func(c *Config) { c.Throttle.PerClient.MaxClients = -1 }, "throttle.perClient.maxClients: must be >= 0"},
		{"stage throttle", func(c *Config) {
			c.Stages = []Stage{{Name: "v2", Variables: c.StageVariables, Throttle: &ThrottleConfig{RateLimit: 1}}}
		},
			"stages[0].throttle.burstLimit: must be >= 1"},
		{"timeout negative", func(c *Config) { c.Timeouts.Idle = -time.Second }, "timeouts.idle: must be >= 0"},
		{"write timeout", func(c *Config) { c.Timeouts.Write = 29 * time.Second }, "timeouts.write: must exceed the longest integration timeout (29s)"},
		{"no stage", func(c *Config) { c.Stage, c.StageVariables = "", nil }, "stage: must be"},
		{"vars without stage", func(c *Config) { c.Stage = ""; c.Stages = []Stage{{Name: "v2", Variables: c.StageVariables}} },
			"stageVariables: only allowed with stage"},
		{"stages name", func(c *Config) { c.Stages = []Stage{{Name: "a b", Variables: c.StageVariables}} }, `stages[0].name: must be 1-128 characters`},
		{"stages duplicate", func(c *Config) { c.Stages = []Stage{{Name: "v1", Variables: c.StageVariables}} }, `stages[0].name: "v1" is already defined by stage`},
		{"stages var", func(c *Config) {
			c.Stages = []Stage{{Name: "v2", Variables: map[string]string{"nlb_host": "h", "bags_port": "1", "ingests_port": "2", "x-y": ""}}}
		}, "stages[0].variables.x-y: name must be"},
		{"stage lacks variable", func(c *Config) { c.Stages = []Stage{{Name: "v2", Variables: map[string]string{"nlb_host": "h"}}} },
			`resources[0].methods[0].integration.uri: stage variable "bags_port" is not defined (stage "v2")`},
		{"domain name", func(c *Config) {
			c.Domains = []Domain{{Name: "api_x.localhost", Mappings: []BasePathMapping{{Stage: "v1"}}}}
		}, "domains[0].name: must be a host name"},
		{"domain port", func(c *Config) {
			c.Domains = []Domain{{Name: "api.localhost:8080", Mappings: []BasePathMapping{{Stage: "v1"}}}}
		}, "domains[0].name: must be a host name without port"},
		{"domain empty", func(c *Config) { c.Domains = []Domain{{Mappings: []BasePathMapping{{Stage: "v1"}}}} }, "domains[0].name: must not be empty"},
		{"domain twice", func(c *Config) {
			m := []BasePathMapping{{Stage: "v1"}}
			c.Domains = []Domain{{Name: "api.localhost", Mappings: m}, {Name: "API.localhost", Mappings: m}}
		}, `domains[1].name: "API.localhost" is already defined by domains[0]`},
		{"no mappings", func(c *Config) { c.Domains = []Domain{{Name: "api.localhost"}} }, "domains[0].mappings: must not be empty"},
		{"base path slash", func(c *Config) {
			c.Domains = []Domain{{Name: "a.b", Mappings: []BasePathMapping{{BasePath: "/storage", Stage: "v1"}}}}
		},
			"domains[0].mappings[0].basePath: must not start or end with /"},
		{"base path dots", func(c *Config) {
			c.Domains = []Domain{{Name: "a.b", Mappings: []BasePathMapping{{BasePath: "storage/../v1", Stage: "v1"}}}}
		},
			`domains[0].mappings[0].basePath: invalid segment ".."`},
		{"base path empty segment", func(c *Config) {
			c.Domains = []Domain{{Name: "a.b", Mappings: []BasePathMapping{{BasePath: "storage//v1", Stage: "v1"}}}}
		},
			`domains[0].mappings[0].basePath: invalid segment ""`},
		{"base path twice", func(c *Config) {
			c.Domains = []Domain{{Name: "a.b", Mappings: []BasePathMapping{{BasePath: "(none)", Stage: "v1"}, {BasePath: "", Stage: "v1"}}}}
		}, `domains[0].mappings[1].basePath: "" is already mapped by domains[0].mappings[0]`},
		{"host with port", func(c *Config) { c.Hosts = []string{"gw.example.org:8080"} }, `hosts[0]: must be a host name or IP address without port, got "gw.example.org:8080"`},
		{"host unspecified", func(c *Config) { c.Hosts = []string{"0.0.0.0"} }, `hosts[0]: must not be an unspecified address, got "0.0.0.0"`},
		{"host empty", func(c *Config) { c.Hosts = []string{"gw.example.org", ""} }, "hosts[1]: must not be empty"},
		{"host wildcard", func(c *Config) { c.Hosts = []string{"*.example.org"} }, `hosts[0]: must be a host name or IP address without port, got "*.example.org"`},
		{"host with scheme", func(c *Config) { c.Hosts = []string{"http://gw"} }, `hosts[0]: must be a host name or IP address without port`},
		{"host duplicate", func(c *Config) { c.Hosts = []string{"gw.example.org", "GW.example.org."} }, `hosts[1]: "GW.example.org." is already listed by hosts[0]`},
		{"host is a domain", func(c *Config) {
			c.Domains = []Domain{{Name: "api.example.org", Mappings: []BasePathMapping{{Stage: "v1"}}}}
			c.Hosts = []string{"API.example.org"}
		}, `hosts[0]: "API.example.org" is a custom domain (domains[0]), served already`},
		{"unknown stage", func(c *Config) {
			c.Domains = []Domain{{Name: "a.b", Mappings: []BasePathMapping{{BasePath: "x", Stage: "v1"}, {BasePath: "y", Stage: "v2"}}}}
		}, `domains[0].mappings[1].stage: "v2" is not a stage`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mutate(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want error containing %q", err, tt.want)
			}
			if _, err := New(c); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}

func TestValidateStagesAndDomains(t *testing.T) {
	c := validConfig()
	c.Stage, c.StageVariables = "", nil
	vars := validConfig().StageVariables
	c.Stages = []Stage{{Name: "v1", Variables: vars}, {Name: "v2", Variables: vars, Throttle: &ThrottleConfig{RateLimit: 5, BurstLimit: 10}}}
	c.Domains = []Domain{
		{Name: "api.localhost", Mappings: []BasePathMapping{{BasePath: "storage/v1", Stage: "v1"}, {BasePath: "(none)", Stage: "v2"}, {BasePath: "storage", Stage: "v2"}}},
		{Name: "Other.Example.org", Mappings: []BasePathMapping{{BasePath: "a$b-c_d.e+f!g*h'i(j)", Stage: "v2"}}},
	}
	c.Throttle = ThrottleConfig{RateLimit: 1, BurstLimit: 1, PerClient: ClientThrottleConfig{RateLimit: 1, BurstLimit: 1}}
	c.Timeouts = TimeoutsConfig{ReadHeader: time.Second, Read: time.Minute, Write: 30 * time.Second, Idle: time.Second}
	if err := c.Validate(); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	g, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Stages(); len(got) != 2 || got[0] != "v1" || got[1] != "v2" {
		t.Fatalf("Stages() = %v", got)
	}
}

func TestValidateNoAuthorizerNeeded(t *testing.T) {
	c := validConfig()
	c.Resources = c.Resources[2:]
	c.Authorizer = AuthorizerConfig{}
	if err := c.Validate(); err != nil {
		t.Fatalf("authorizer must not be required without COGNITO methods: %v", err)
	}
}

func TestIntegrationConnectionTypes(t *testing.T) {
	for _, ct := range []string{"", ConnectionInternet, ConnectionVPCLink} {
		c := validConfig()
		for i := range c.Resources {
			c.Resources[i].Methods[0].Integration.ConnectionType = ct
		}
		if err := c.Validate(); err != nil {
			t.Errorf("connectionType %q rejected: %v", ct, err)
		}
	}
}

func TestLifecycle(t *testing.T) {
	c := validConfig()
	g := startGateway(t, c)
	if !strings.HasPrefix(g.URL(), "http://127.0.0.1:") || g.InvokeURL() != g.URL()+"/v1" {
		t.Fatalf("URL() = %q, InvokeURL() = %q", g.URL(), g.InvokeURL())
	}
	if err := g.Start(context.Background()); err == nil {
		t.Fatal("second Start succeeded")
	}

	// A busy port fails Start with an error naming the address.
	busy := validConfig()
	busy.Listen = hostOf(g.URL())
	g2, err := New(busy)
	if err != nil {
		t.Fatal(err)
	}
	err = g2.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), busy.Listen) {
		t.Fatalf("Start on busy port: %v", err)
	}
	if g2.URL() != "" {
		t.Fatal("failed Start left a URL")
	}
	if err := g2.Stop(context.Background()); err != nil {
		t.Fatalf("Stop of never-started gateway: %v", err)
	}

	addr := hostOf(g.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := g.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("still listening after Stop")
	}
	if err := g.Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

// The integration timeout may be raised above 29 s where the limit is
// raised (AWS: Regional and private REST APIs, since June 2024, up to the
// account's quota); 29 s stays the default and the limit otherwise.
func TestRaisedIntegrationTimeout(t *testing.T) {
	c := validConfig()
	c.MaxIntegrationTimeout = 2 * time.Minute
	c.Resources[0].Methods[0].Integration.Timeout = 100 * time.Second
	if err := c.Validate(); err != nil {
		t.Fatalf("100s under maxIntegrationTimeout 2m: %v", err)
	}
	g, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	if got := g.router.root.literal["bags"].route.methods["ANY"].timeout; got != 100*time.Second {
		t.Fatalf("method timeout %s", got)
	}
	// The default write timeout outlasts the longest integration timeout,
	// so that a slow answer is not cut off on its way to the client.
	if g.timeouts.Write <= 100*time.Second {
		t.Fatalf("default write timeout %s does not outlast the 100s integration timeout", g.timeouts.Write)
	}
	c.Timeouts.Write = 90 * time.Second
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "timeouts.write: must exceed the longest integration timeout (1m40s)") {
		t.Fatalf("write timeout under the integration timeout: %v", err)
	}
}
