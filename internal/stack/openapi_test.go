package stack

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/portway/portway/internal/gateway"
)

// openapiStack writes the built-in stack with its gateway from the storage
// fixture (edited by edit) and returns the stack file's path.
func openapiStack(t *testing.T, mutate func(*Config), edit func(string) string) string {
	t.Helper()
	dir := t.TempDir()
	doc, err := os.ReadFile("../openapi/testdata/storage-oas30.json")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	if edit != nil {
		text = edit(text)
	}
	if err := os.MkdirAll(filepath.Join(dir, "api"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "api", "export.json"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := Default()
	cfg.Gateway.Resources = nil
	cfg.Gateway.Stage = ""
	cfg.Gateway.OpenAPI = "api/export.json"
	if mutate != nil {
		mutate(&cfg)
	}
	data, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "stack.yaml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadGatewayFromOpenAPI(t *testing.T) {
	path := openapiStack(t, func(c *Config) {
		c.Gateway.ResponseOverrides = map[string]gateway.ResponseTemplate{"UNAUTHORIZED": {StatusCode: 401, Body: "mine"}}
	}, nil)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Gateway.Stage != "v1" {
		t.Errorf("stage %q", cfg.Gateway.Stage)
	}
	// The document's resources are the built-in stack's, plus its mocks.
	def := Default().Gateway.Resources
	byPath := map[string]ResourceConfig{}
	for _, r := range cfg.Gateway.Resources {
		byPath[r.Path] = r
	}
	for _, want := range def {
		got := byPath[want.Path]
		if len(got.Methods) == 0 || !reflect.DeepEqual(got.Methods[0], want.Methods[0]) {
			t.Errorf("%s: %+v, want %+v", want.Path, got.Methods, want.Methods)
		}
	}
	if st := byPath["/status"].Methods[0].Integration; st.Type != gateway.IntegrationMock || st.Mock == nil || st.Mock.Headers["Cache-Control"] != "no-store" {
		t.Errorf("/status: %+v", st)
	}
	// The stack file's own overrides win over the document's.
	ro := cfg.Gateway.ResponseOverrides
	if ro["UNAUTHORIZED"].Body != "mine" || ro["MISSING_AUTHENTICATION_TOKEN"].StatusCode != 404 {
		t.Errorf("overrides: %+v", ro)
	}
	w := strings.Join(cfg.Warnings(), "\n")
	if !strings.Contains(w, "gateway.openapi: api/export.json: components.securitySchemes.storage-authorizer.x-amazon-apigateway-authorizer.providerARNs") {
		t.Errorf("warnings: %s", w)
	}
	// The gateway the stack builds from it is valid.
	if err := cfg.GatewayComponent("http://127.0.0.1/i", "http://127.0.0.1/j", nil).Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestLoadGatewayFromOpenAPIErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		edit   func(string) string
		want   string
	}{
		{"resources too", func(c *Config) { c.Gateway.Resources = Default().Gateway.Resources }, nil,
			"gateway.resources: not allowed with gateway.openapi"},
		{"missing file", func(c *Config) { c.Gateway.OpenAPI = "nope.json" }, nil, "gateway.openapi: open "},
		{"refused element", nil, func(s string) string {
			return strings.Replace(s, `"type" : "http_proxy"`, `"type" : "aws_proxy"`, 1)
		}, "gateway.openapi: api/export.json: paths./bags.x-amazon-apigateway-any-method.x-amazon-apigateway-integration.type: aws_proxy (Lambda) integrations are not supported"},
		{"unknown scope", func(c *Config) {
			c.Auth.ResourceServers[0].Scopes = []string{"bags"}
			c.Auth.DefaultClient.Scopes = nil
		}, nil,
			`gateway.openapi (api/export.json): paths./ingests.x-amazon-apigateway-any-method.scopes[0]: "https://api.wellcomecollection.org/storage/v1/ingests" is not a scope`},
		{"stage variable", func(c *Config) { delete(c.Gateway.StageVariables, "bags_port") }, nil,
			`gateway.openapi (api/export.json): paths./bags.x-amazon-apigateway-any-method.integration.uri: stage variable "bags_port" is not defined`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(openapiStack(t, tc.mutate, tc.edit))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestGatewayFromOpenAPIListsStageVariables(t *testing.T) {
	data, err := os.ReadFile("../openapi/testdata/storage-swagger.yaml")
	if err != nil {
		t.Fatal(err)
	}
	gc, notes, err := GatewayFromOpenAPI(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(gc.Resources) != 5 || gc.Stage != "v1" || len(notes) == 0 ||
		!reflect.DeepEqual(gc.StageVariables, map[string]string{"nlb_host": "", "bags_port": "", "ingests_port": ""}) {
		t.Fatalf("%+v %v", gc, notes)
	}
}
