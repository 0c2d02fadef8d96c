package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portway/portway/internal/stack"
	"github.com/portway/portway/internal/storage/bagtest"
)

// TestUpGatewayFromOpenAPI runs the built-in stack twice, once with its
// gateway in YAML and once from an API Gateway export (gateway.openapi):
// token-authorized requests through both storage services get the same
// answers, the export's mock integrations answer their templates and its
// gateway responses apply.
func TestUpGatewayFromOpenAPI(t *testing.T) {
	light := func(n int) stack.Config {
		cfg := testStack(n)
		for i := range cfg.Services {
			cfg.Services[i].DesiredCount = 1
		}
		return cfg
	}
	yamlDir := t.TempDir()
	startUp(t, yamlDir, "--config", writeConfig(t, light(34)))

	cfg := light(35)
	cfg.Gateway.Resources = nil
	cfg.Gateway.OpenAPI = "api.json"
	dir := t.TempDir()
	doc, err := os.ReadFile("../internal/openapi/testdata/storage-oas30.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "api.json"), doc, 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	stackFile := filepath.Join(dir, "stack.yaml")
	if err := os.WriteFile(stackFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errOut, err := runPortway(t, "config", "check", stackFile); err != nil || !strings.Contains(errOut, "warning: gateway.openapi: api.json: ") {
		t.Fatalf("config check: %v\n%s%s", err, out, errOut)
	}
	apiDir := t.TempDir()
	startUp(t, apiDir, "--config", stackFile)

	yamlClient, yamlEP := stackClient(t, yamlDir)
	apiClient, apiEP := stackClient(t, apiDir)
	// The services may still be starting: retry 5xx for a while.
	get := func(client *http.Client, url string) (int, string, http.Header) {
		t.Helper()
		return getSettled(t, client, url)
	}
	for _, path := range []string{
		"/bags/digitised/b00000000",                     // /bags/{proxy+}
		"/ingests/3f1d2c9e-0000-4000-8000-000000000000", // /ingests/{proxy+}, whose URI placeholder the export renames
		"/bags",
	} {
		wantCode, wantBody, _ := get(yamlClient, yamlEP.APIURL+path)
		code, body, _ := get(apiClient, apiEP.APIURL+path)
		t.Logf("GET %s: %d %.80s", path, code, body)
		if code != wantCode || body != wantBody || code >= 500 {
			t.Errorf("GET %s: from the export %d %s; from YAML %d %s", path, code, body, wantCode, wantBody)
		}
	}

	// A bag stored through the export's routes, then read back.
	gen := bagtest.MustBuild(t, bagtest.Options{ExternalIdentifier: "b7", Prefix: "b7"})
	gen.WriteFile(t, filepath.Join(apiDir, "buckets", "uploads", "b7.tar.gz"))
	if in := postIngest(t, apiClient, apiEP.APIURL, "create", "b7.tar.gz", "b7"); in.Status.ID != "succeeded" {
		t.Fatalf("ingest: %+v", in)
	}
	if code, body, _ := get(apiClient, apiEP.APIURL+"/bags/digitised/b7"); code != http.StatusOK || !strings.Contains(body, `"id":"digitised/b7"`) {
		t.Errorf("GET the stored bag: %d %.200s", code, body)
	}

	// The mock integration answers its template, without a token.
	code, body, hdr := get(http.DefaultClient, apiEP.APIURL+"/status")
	want := `{"status": "ok", "stage": "v1", "requestId": "` + hdr.Get("x-amzn-RequestId") + `"}`
	if code != http.StatusOK || body != want || hdr.Get("Cache-Control") != "no-store" || hdr.Get("Content-Type") != "application/json" {
		t.Errorf("GET /status: %d %s %v, want %s", code, body, hdr, want)
	}
	req, _ := http.NewRequest(http.MethodOptions, apiEP.APIURL+"/bags", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("OPTIONS /bags: %d %v", resp.StatusCode, resp.Header)
	}
	// The export's gateway responses apply: UNAUTHORIZED with its header.
	code, body, hdr = get(http.DefaultClient, apiEP.APIURL+"/bags/x")
	if code != http.StatusUnauthorized || hdr.Get("WWW-Authenticate") != "Bearer" || !strings.Contains(body, `"label":"Unauthorized"`) {
		t.Errorf("no token: %d %s %v", code, body, hdr)
	}
}

// TestUpRefusesUnrunnableExport: an export with a Lambda integration stops
// `portway up` at once, naming the element's JSON path.
func TestUpRefusesUnrunnableExport(t *testing.T) {
	cfg := testStack(36)
	cfg.Gateway.Resources = nil
	cfg.Gateway.OpenAPI = "api.yaml"
	dir := t.TempDir()
	doc := `openapi: 3.0.1
info: {title: t, version: "1"}
paths:
  /v1/bags/{id}:
    get:
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:1:function:f/invocations
`
	if err := os.WriteFile(filepath.Join(dir, "api.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	stackFile := filepath.Join(dir, "stack.yaml")
	if err := os.WriteFile(stackFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, err := runPortway(t, "up", "--config", stackFile, "--state-dir", t.TempDir())
	want := "gateway.openapi: api.yaml: paths./v1/bags/{id}.get.x-amazon-apigateway-integration.type: aws_proxy (Lambda) integrations are not supported"
	if err == nil || !strings.Contains(errOut, want) {
		t.Fatalf("portway up: %v\n%s\nwant %s", err, errOut, want)
	}
}
