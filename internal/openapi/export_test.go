package openapi

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/portway/portway/internal/gateway"
)

// roundTripConfig uses every feature the export writes.
func roundTripConfig(t *testing.T) gateway.Config {
	data, err := os.ReadFile("testdata/storage-oas30.json")
	if err != nil {
		t.Fatal(err)
	}
	api, err := Import(data)
	if err != nil {
		t.Fatal(err)
	}
	res := append(api.Resources,
		gateway.Resource{Path: "/", Methods: []gateway.Method{
			{HTTPMethod: "GET", Authorization: gateway.AuthCognito, // no scopes: ID tokens
				Integration: gateway.Integration{Type: gateway.IntegrationHTTPProxy, URI: "http://127.0.0.1:9000/"}},
			{HTTPMethod: "PATCH", Authorization: gateway.AuthCognito, Scopes: []string{"a/b"}, IdentityHeader: "X-Token",
				Integration: gateway.Integration{Type: gateway.IntegrationHTTPProxy, URI: "http://127.0.0.1:9000/"}},
			{HTTPMethod: "OPTIONS", Authorization: gateway.AuthNone,
				Integration: gateway.Integration{Type: gateway.IntegrationHTTPProxy, HTTPMethod: "GET", URI: "http://127.0.0.1:9000/options"}},
			{HTTPMethod: "POST", Authorization: gateway.AuthNone,
				Integration: gateway.Integration{Type: gateway.IntegrationHTTPProxy, ConnectionType: gateway.ConnectionInternet, URI: "http://127.0.0.1:9000/in?x=1", Timeout: 1500 * time.Millisecond}},
		}},
		gateway.Resource{Path: "/a/{x}/b/{y}", Methods: []gateway.Method{
			{HTTPMethod: "DELETE", Authorization: gateway.AuthNone,
				Integration: gateway.Integration{Type: gateway.IntegrationHTTPProxy, URI: "http://127.0.0.1:9000/{y}/{x}",
					RequestParameters: map[string]string{"integration.request.header.X-Y": "method.request.path.y", "integration.request.querystring.s": "'static'"}}},
			{HTTPMethod: "PUT", Authorization: gateway.AuthNone, Integration: gateway.Integration{Type: gateway.IntegrationMock,
				Mock: &gateway.MockResponse{StatusCode: 418, Headers: map[string]string{"Content-Type": "text/plain", "X-It": "it's"}, Body: "short and stout"}}},
		}},
	)
	responses := api.Responses
	responses["THROTTLED"] = gateway.ResponseTemplate{Headers: map[string]string{"Retry-After": "1", "Content-Type": "text/plain"}}
	responses["ACCESS_DENIED"] = gateway.ResponseTemplate{Headers: map[string]string{"Content-Type": "application/problem+json"}, Body: `{"title":$context.error.messageString}`}
	return gateway.Config{Listen: "127.0.0.1:8080", Stage: "v1", Resources: res, Responses: responses}
}

func sortedResources(rs []gateway.Resource) []gateway.Resource {
	out := append([]gateway.Resource(nil), rs...)
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	for i := range out {
		ms := append([]gateway.Method(nil), out[i].Methods...)
		sort.Slice(ms, func(a, b int) bool { return ms[a].HTTPMethod < ms[b].HTTPMethod })
		for j := range ms {
			if len(ms[j].Scopes) == 0 {
				ms[j].Scopes = nil
			}
		}
		out[i].Methods = ms
	}
	return out
}

// config → export → import gives the same routes, scopes, integrations and
// gateway responses, in both formats, JSON and YAML.
func TestExportRoundTrip(t *testing.T) {
	cfg := roundTripConfig(t)
	for _, format := range []string{FormatOAS30, FormatSwagger} {
		for _, asYAML := range []bool{false, true} {
			data, err := Export(cfg, ExportOptions{Format: format, Extensions: true, YAML: asYAML, UserPoolARN: poolARN})
			if err != nil {
				t.Fatal(err)
			}
			api, err := Import(data)
			if err != nil {
				t.Fatalf("%s yaml=%v: %v\n%s", format, asYAML, err, data)
			}
			if api.Stage != "v1" {
				t.Errorf("%s: stage %q", format, api.Stage)
			}
			if got, want := sortedResources(api.Resources), sortedResources(cfg.Resources); !reflect.DeepEqual(got, want) {
				g, _ := json.MarshalIndent(got, "", " ")
				w, _ := json.MarshalIndent(want, "", " ")
				t.Fatalf("%s yaml=%v: resources\n%s\nwant\n%s", format, asYAML, g, w)
			}
			if !reflect.DeepEqual(api.Responses, cfg.Responses) {
				t.Fatalf("%s: responses\n%v\nwant\n%v", format, api.Responses, cfg.Responses)
			}
			if !reflect.DeepEqual(api.UserPoolARNs, []string{poolARN}) {
				t.Errorf("%s: pools %v", format, api.UserPoolARNs)
			}
		}
	}
}

func TestExportShape(t *testing.T) {
	cfg := roundTripConfig(t)
	data, err := Export(cfg, ExportOptions{Extensions: true, Host: "api.example.com", Scheme: "https"})
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["openapi"] != "3.0.1" || !strings.Contains(string(data), `"url": "https://api.example.com/{basePath}"`) ||
		!strings.Contains(string(data), `"default": "/v1"`) {
		t.Fatalf("servers: %s", data)
	}
	bags := doc["paths"].(map[string]any)["/bags/{proxy+}"].(map[string]any)[extAnyMethod].(map[string]any)
	if !reflect.DeepEqual(bags["parameters"], []any{map[string]any{"name": "proxy", "in": "path", "required": true, "schema": map[string]any{"type": "string"}}}) {
		t.Errorf("parameters: %v", bags["parameters"])
	}
	x := bags[extIntegration].(map[string]any)
	if x["type"] != "http_proxy" || x["connectionType"] != "VPC_LINK" || x["connectionId"] != "portway-vpc-link" ||
		x["timeoutInMillis"] != float64(29000) ||
		!reflect.DeepEqual(x["requestParameters"], map[string]any{"integration.request.path.proxy": "method.request.path.proxy"}) {
		t.Fatalf("integration: %v", x)
	}
	// Without extensions: no integrations, authorizers or gateway responses.
	data, err = Export(cfg, ExportOptions{Format: FormatSwagger})
	if err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{extIntegration, extAuthorizer, extGatewayResponses} {
		if strings.Contains(string(data), ext) {
			t.Errorf("%s without extensions", ext)
		}
	}
	var compact bytes.Buffer
	_ = json.Compact(&compact, data)
	if !strings.Contains(string(data), `"swagger": "2.0"`) || !strings.Contains(string(data), `"basePath": "/v1"`) ||
		!strings.Contains(compact.String(), `"parameters":[{"in":"path","name":"proxy","required":true,"type":"string"}]`) {
		t.Errorf("swagger: %s", data)
	}
	if _, err := Export(cfg, ExportOptions{Format: "raml"}); err == nil {
		t.Error("raml exported")
	}
	if _, err := Export(cfg, ExportOptions{Stage: "prod"}); err == nil || !strings.Contains(err.Error(), `no stage "prod"`) {
		t.Errorf("unknown stage: %v", err)
	}
}
