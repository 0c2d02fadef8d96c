package stack

import (
	"context"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestExample: the ready summary's request comes from the stack's own
// routes, never the storage service's unless that is the stack.
func TestExample(t *testing.T) {
	route := func(path, method, auth string, scopes ...string) ResourceConfig {
		return ResourceConfig{Path: path, Methods: []MethodConfig{{HTTPMethod: method, Authorization: auth, Scopes: scopes}}}
	}
	custom := func(edit func(*Config)) Config {
		c := Config{Auth: AuthConfig{ResourceServers: []ResourceServerConfig{{Identifier: "https://widgets", Scopes: []string{"read", "write"}}}}}
		edit(&c)
		return c
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want Example
		curl string
	}{
		{"built-in", Default(), Example{Method: "GET", Path: "/bags", Resource: "/bags", Scope: StorageResourceServer + "/bags"},
			`curl -H "Authorization: Bearer $TOKEN" http://h/v1/bags`},
		{"first GET with a scope, parameters filled", custom(func(c *Config) {
			c.Gateway.Resources = []ResourceConfig{
				route("/widgets", "POST", "COGNITO_USER_POOLS", "https://widgets/write"),
				route("/health", "GET", "NONE"),
				route("/widgets/{id}/parts/{proxy+}", "GET", "COGNITO_USER_POOLS", "https://widgets/read"),
			}
		}), Example{Method: "GET", Path: "/widgets/example/parts/example", Resource: "/widgets/{id}/parts/{proxy+}", Scope: "https://widgets/read"},
			`curl -H "Authorization: Bearer $TOKEN" http://h/v1/widgets/example/parts/example`},
		{"a scope the default client lacks is passed over", custom(func(c *Config) {
			c.Auth.DefaultClient.Scopes = []string{"https://widgets/write"}
			c.Gateway.Resources = []ResourceConfig{
				route("/widgets", "GET", "COGNITO_USER_POOLS", "https://widgets/read"),
				route("/widgets/{proxy+}", "ANY", "COGNITO_USER_POOLS", "https://widgets/read", "https://widgets/write"),
			}
		}), Example{Method: "GET", Path: "/widgets/example", Resource: "/widgets/{proxy+}", Scope: "https://widgets/write"}, ""},
		{"no token needed", custom(func(c *Config) {
			c.Gateway.Resources = []ResourceConfig{route("/w", "POST", "COGNITO_USER_POOLS", "https://widgets/write"), route("/", "GET", "NONE")}
		}), Example{Method: "GET", Path: "/", Resource: "/"}, `curl http://h/v1/`},
		{"only POST", custom(func(c *Config) {
			c.Gateway.Resources = []ResourceConfig{route("/w", "POST", "COGNITO_USER_POOLS", "https://widgets/write")}
		}), Example{Method: "POST", Path: "/w", Resource: "/w", Scope: "https://widgets/write"},
			`curl -X POST -H "Authorization: Bearer $TOKEN" http://h/v1/w`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.cfg.Example()
			if !ok || got != tc.want {
				t.Fatalf("Example = %+v, %v; want %+v", got, ok, tc.want)
			}
			got.URL = "http://h/v1" + got.Path
			if tc.curl != "" && got.Curl("curl") != tc.curl {
				t.Errorf("Curl = %s, want %s", got.Curl("curl"), tc.curl)
			}
		})
	}
	if _, ok := (Config{}).Example(); ok {
		t.Error("an example without routes")
	}
}

// TestStartPicksFreeBlockAndSays: a stack that leaves its block to Start
// runs on the next free one when the first is taken, and the summary and
// endpoints.json describe it: its block, its resource servers, a request
// on its own routes.
func TestStartPicksFreeBlockAndSays(t *testing.T) {
	blocks := testBlocks(t, 10)[8:]
	ln, err := net.Listen("tcp", blocks[0].NLBAddress.String()+":65535")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := testConfig()
	cfg.UnsetBlock()
	cfg.Gateway.StageVariables["nlb_host"] = DefaultNLBAddress
	cfg.Auth.ResourceServers = append(cfg.Auth.ResourceServers, ResourceServerConfig{Identifier: "https://widgets", Scopes: []string{"read"}})
	cfg.Auth.DefaultClient.Scopes = nil // every scope
	cfg.Gateway.Resources = []ResourceConfig{{Path: "/items/{proxy+}", Methods: []MethodConfig{{
		HTTPMethod: "GET", Authorization: "COGNITO_USER_POOLS", Scopes: []string{"https://widgets/read"},
		Integration: IntegrationConfig{Type: "HTTP_PROXY", URI: "http://${stageVariables.nlb_host}:65534/{proxy}", Timeout: 5 * time.Second},
	}}}}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := Start(ctx, cfg, Options{StateDir: dir, Executable: exe, ReadyTimeout: 30 * time.Second, BlockLockDir: t.TempDir(), blocks: blocks})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopStack(t, st) })
	var sum strings.Builder
	st.Summary(&sum)
	for _, want := range []string{
		"private  nlb 127.76.38.10, tasks 127.76.39.0/24  (picked: 127.76.36.10 is taken: port 65535: address already in use)",
		"Try it (GET /items/{proxy+} needs scope https://widgets/read):",
		`curl -H "Authorization: Bearer $TOKEN" ` + st.Endpoint.APIURL + "/items/example\n",
	} {
		if !strings.Contains(sum.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum.String())
		}
	}
	if strings.Contains(sum.String(), "bags") {
		t.Errorf("summary of a custom stack mentions the storage service:\n%s", sum.String())
	}
	ep, err := ReadEndpoints(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ep.NLBAddress != "127.76.38.10" || ep.TaskSubnet != "127.76.39.0/24" || ep.Example == nil || ep.Example.URL != st.Endpoint.APIURL+"/items/example" ||
		!slices.Contains(ep.Scopes(), "https://widgets/read") || ep.TokenValidity != "1h0m0s" {
		t.Errorf("endpoints.json: %+v", ep)
	}
	// A reload keeps the block.
	res, err := st.Reload(cfg)
	if err != nil || len(res.NeedRestart) != 0 {
		t.Errorf("Reload of the same config: %+v, %v", res, err)
	}
}
