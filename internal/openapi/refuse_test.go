package openapi

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// baseDoc is a small export: GET /items/{id} behind a Cognito authorizer.
func baseDoc() map[string]any {
	return map[string]any{
		"openapi": "3.0.1",
		"info":    map[string]any{"title": "t", "version": "1"},
		"servers": []any{map[string]any{"url": "https://x.execute-api.eu-west-1.amazonaws.com/{basePath}",
			"variables": map[string]any{"basePath": map[string]any{"default": "/prod"}}}},
		"paths": map[string]any{
			"/items/{id}": map[string]any{
				"get": map[string]any{
					"security": []any{map[string]any{"cognito": []any{"api/read"}}},
					"x-amazon-apigateway-integration": map[string]any{
						"type": "http_proxy", "httpMethod": "GET", "uri": "http://10.0.0.1/items/{id}",
						"connectionType": "VPC_LINK", "connectionId": "abc123",
						"requestParameters": map[string]any{"integration.request.path.id": "method.request.path.id"},
					},
				},
			},
		},
		"components": map[string]any{"securitySchemes": map[string]any{
			"cognito": map[string]any{"type": "apiKey", "name": "Authorization", "in": "header",
				"x-amazon-apigateway-authtype": "cognito_user_pools",
				"x-amazon-apigateway-authorizer": map[string]any{"type": "cognito_user_pools",
					"providerARNs": []any{"arn:aws:cognito-idp:eu-west-1:1:userpool/p"}}},
		}},
	}
}

func op(doc map[string]any) map[string]any {
	return doc["paths"].(map[string]any)["/items/{id}"].(map[string]any)["get"].(map[string]any)
}

func integ(doc map[string]any) map[string]any {
	return op(doc)["x-amazon-apigateway-integration"].(map[string]any)
}

func scheme(doc map[string]any, name string) map[string]any {
	return doc["components"].(map[string]any)["securitySchemes"].(map[string]any)[name].(map[string]any)
}

const opPath = "paths./items/{id}.get"
const intPath = opPath + ".x-amazon-apigateway-integration"

func TestImportBase(t *testing.T) {
	data, _ := json.Marshal(baseDoc())
	api, err := Import(data)
	if err != nil {
		t.Fatal(err)
	}
	m := api.Resources[0].Methods[0]
	if api.Stage != "prod" || m.HTTPMethod != "GET" || m.Scopes[0] != "api/read" || m.Integration.URI != "http://10.0.0.1/items/{id}" {
		t.Fatalf("%+v", api)
	}
}

// Each element portway cannot run is refused with its JSON path.
func TestImportRefuses(t *testing.T) {
	mockInt := func(d map[string]any, resp map[string]any, reqTmpl string) {
		op(d)["x-amazon-apigateway-integration"] = map[string]any{"type": "mock",
			"requestTemplates": map[string]any{"application/json": reqTmpl},
			"responses":        map[string]any{"default": resp}}
	}
	for _, tc := range []struct {
		name   string
		change func(map[string]any)
		want   string
	}{
		{"lambda proxy", func(d map[string]any) { integ(d)["type"] = "aws_proxy" },
			intPath + ".type: aws_proxy (Lambda) integrations are not supported"},
		{"aws service", func(d map[string]any) { integ(d)["type"] = "aws" },
			intPath + ".type: aws (AWS service) integrations are not supported"},
		{"http non-proxy", func(d map[string]any) { integ(d)["type"] = "http" },
			intPath + ".type: http (non-proxy) integrations are not supported"},
		{"uri placeholder of no path parameter", func(d map[string]any) { integ(d)["uri"] = "http://10.0.0.1/items/{id}/{other}" },
			intPath + ".uri: {other}: not a path parameter of /items/{id}; map it with requestParameters (integration.request.path.other)"},
		{"no integration", func(d map[string]any) { delete(op(d), "x-amazon-apigateway-integration") },
			opPath + ": has no x-amazon-apigateway-integration"},
		{"default request validator", func(d map[string]any) {
			d["x-amazon-apigateway-request-validators"] = map[string]any{"all": map[string]any{"validateRequestBody": true}}
			d["x-amazon-apigateway-request-validator"] = "all"
		}, "x-amazon-apigateway-request-validator: request validation is not supported"},
		{"method validator", func(d map[string]any) { op(d)["x-amazon-apigateway-request-validator"] = "all" },
			opPath + ".x-amazon-apigateway-request-validator: request validation is not supported"},
		{"api key source", func(d map[string]any) { d["x-amazon-apigateway-api-key-source"] = "HEADER" },
			"x-amazon-apigateway-api-key-source: API keys and usage plans are not supported"},
		{"api key scheme", func(d map[string]any) {
			d["components"].(map[string]any)["securitySchemes"].(map[string]any)["api_key"] = map[string]any{"type": "apiKey", "name": "x-api-key", "in": "header"}
			op(d)["security"] = []any{map[string]any{"cognito": []any{"api/read"}, "api_key": []any{}}}
		}, "components.securitySchemes.api_key: API keys (x-api-key) and usage plans are not supported"},
		{"api key use", func(d map[string]any) {
			d["components"].(map[string]any)["securitySchemes"].(map[string]any)["api_key"] = map[string]any{"type": "apiKey", "name": "x-api-key", "in": "header"}
			op(d)["security"] = []any{map[string]any{"api_key": []any{}}}
		}, opPath + ".security.api_key: uses components.securitySchemes.api_key, which is not supported"},
		{"lambda authorizer", func(d map[string]any) {
			s := scheme(d, "cognito")
			s["x-amazon-apigateway-authtype"] = "custom"
			s["x-amazon-apigateway-authorizer"] = map[string]any{"type": "token", "authorizerUri": "arn:aws:apigateway:…"}
		}, "components.securitySchemes.cognito.x-amazon-apigateway-authorizer.type: token (Lambda) authorizers are not supported"},
		{"iam", func(d map[string]any) { scheme(d, "cognito")["x-amazon-apigateway-authtype"] = "awsSigv4" },
			"components.securitySchemes.cognito.x-amazon-apigateway-authtype: IAM (awsSigv4) authorization is not supported"},
		{"identity source", func(d map[string]any) {
			scheme(d, "cognito")["x-amazon-apigateway-authorizer"].(map[string]any)["identitySource"] = "method.request.header.X-Token, method.request.querystring.t"
		}, `components.securitySchemes.cognito.x-amazon-apigateway-authorizer.identitySource: "method.request.header.X-Token, method.request.querystring.t": portway's authorizer reads the token from one header`},
		{"alternatives", func(d map[string]any) {
			op(d)["security"] = []any{map[string]any{"cognito": []any{"a/b"}}, map[string]any{"cognito": []any{"a/c"}}}
		}, opPath + ".security: alternative security requirements are not supported"},
		{"unknown scheme", func(d map[string]any) { op(d)["security"] = []any{map[string]any{"nope": []any{}}} },
			opPath + ".security.nope: no such security scheme"},
		{"resource policy", func(d map[string]any) { d["x-amazon-apigateway-policy"] = map[string]any{"Version": "2012-10-17"} },
			"x-amazon-apigateway-policy: resource policies are not supported"},
		{"iam on method", func(d map[string]any) { op(d)["x-amazon-apigateway-auth"] = map[string]any{"type": "AWS_IAM"} },
			opPath + ".x-amazon-apigateway-auth: IAM authorization is not supported"},
		{"context source", func(d map[string]any) {
			integ(d)["requestParameters"].(map[string]any)["integration.request.header.X-Request"] = "context.requestId"
		}, intPath + `.requestParameters.integration.request.header.X-Request: "context.requestId": a header comes from method.request.header|querystring|path.NAME or a 'static value'`},
		{"multivalue renamed", func(d map[string]any) {
			integ(d)["requestParameters"].(map[string]any)["integration.request.multivaluequerystring.v"] = "method.request.multivaluequerystring.w"
		}, intPath + `.requestParameters.integration.request.multivaluequerystring.v: "method.request.multivaluequerystring.w": multi-value mappings`},
		{"path from header", func(d map[string]any) {
			integ(d)["requestParameters"].(map[string]any)["integration.request.path.id"] = "method.request.header.X-Id"
		}, intPath + `.requestParameters.integration.request.path.id: "method.request.header.X-Id"`},
		{"method differs to HEAD", func(d map[string]any) { integ(d)["httpMethod"] = "HEAD" },
			intPath + ".httpMethod: HEAD: an integration method other than the method's (GET) is not supported for ANY or HEAD"},
		{"unknown integration field", func(d map[string]any) { integ(d)["credentials"] = "arn:aws:iam::1:role/r" },
			intPath + ".credentials: unknown integration field"},
		{"timeout", func(d map[string]any) { integ(d)["timeoutInMillis"] = 10 },
			intPath + ".timeoutInMillis: must be a number of milliseconds, at least 50"},
		{"mock logic", func(d map[string]any) {
			mockInt(d, map[string]any{"statusCode": "200"}, `#if($input.params('x') == "1"){"statusCode": 200}#else{"statusCode": 500}#end`)
		}, intPath + `.requestTemplates.application/json: only a static {"statusCode": N} template`},
		{"mock dynamic header", func(d map[string]any) {
			mockInt(d, map[string]any{"statusCode": "200", "responseParameters": map[string]any{"method.response.header.X-Id": "integration.response.header.X-Id"}}, `{"statusCode": 200}`)
		}, intPath + `.responses.default.responseParameters.method.response.header.X-Id: "integration.response.header.X-Id": only static values`},
		{"mock input template", func(d map[string]any) {
			mockInt(d, map[string]any{"statusCode": "200", "responseTemplates": map[string]any{"application/json": `{"id": "$input.params('id')"}`}}, `{"statusCode": 200}`)
		}, intPath + ".responses.default.responseTemplates.application/json: $input.params is not supported in templates"},
		{"mock no response", func(d map[string]any) {
			mockInt(d, nil, `{"statusCode": 200}`)
			integ(d)["responses"] = map[string]any{"4\\d{2}": map[string]any{"statusCode": "400"}}
		}, intPath + ".responses: no integration response for status 200"},
		{"gateway response dynamic header", func(d map[string]any) {
			d["x-amazon-apigateway-gateway-responses"] = map[string]any{"DEFAULT_4XX": map[string]any{
				"responseParameters": map[string]any{"gatewayresponse.header.Access-Control-Allow-Origin": "method.request.header.Origin"}}}
		}, `x-amazon-apigateway-gateway-responses.DEFAULT_4XX.responseParameters.gatewayresponse.header.Access-Control-Allow-Origin: "method.request.header.Origin": only static values`},
		{"gateway response template logic", func(d map[string]any) {
			d["x-amazon-apigateway-gateway-responses"] = map[string]any{"UNAUTHORIZED": map[string]any{
				"responseTemplates": map[string]any{"application/json": `#set($m = "x"){"m": "$m"}`}}}
		}, "x-amazon-apigateway-gateway-responses.UNAUTHORIZED.responseTemplates.application/json: template logic (#set) is not supported"},
		{"gateway response type", func(d map[string]any) {
			d["x-amazon-apigateway-gateway-responses"] = map[string]any{"TEAPOT": map[string]any{}}
		}, "x-amazon-apigateway-gateway-responses.TEAPOT: unknown gateway response type"},
		{"unknown extension", func(d map[string]any) { d["x-amazon-apigateway-cors"] = map[string]any{} },
			"x-amazon-apigateway-cors: this API Gateway extension is not supported"},
		{"execute-api disabled", func(d map[string]any) {
			d["x-amazon-apigateway-endpoint-configuration"] = map[string]any{"disableExecuteApiEndpoint": true}
		}, "x-amazon-apigateway-endpoint-configuration.disableExecuteApiEndpoint: true is not supported"},
		{"bad path", func(d map[string]any) {
			p := d["paths"].(map[string]any)
			p["/a/{rest+}/b"] = p["/items/{id}"]
		}, "paths./a/{rest+}/b: {rest+} must be the last path part"},
		{"trace", func(d map[string]any) {
			d["paths"].(map[string]any)["/items/{id}"].(map[string]any)["trace"] = op(d)
		}, "paths./items/{id}.trace: API Gateway has no TRACE method"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := baseDoc()
			tc.change(d)
			data, _ := json.Marshal(d)
			_, err := Import(data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
		})
	}
}

// Header and query mappings become the integration's request parameters;
// those passing a parameter on under its own name are what a proxy does.
func TestImportRequestParameters(t *testing.T) {
	d := baseDoc()
	rp := integ(d)["requestParameters"].(map[string]any)
	rp["integration.request.header.X-User"] = "method.request.header.X-Client"
	rp["integration.request.querystring.v"] = "'2'"
	rp["integration.request.querystring.item"] = "method.request.path.id"
	rp["integration.request.header.X-Same"] = "method.request.header.x-same"
	data, _ := json.Marshal(d)
	api, err := Import(data)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"integration.request.header.X-User":    "method.request.header.X-Client",
		"integration.request.querystring.v":    "'2'",
		"integration.request.querystring.item": "method.request.path.id",
	}
	if got := api.Resources[0].Methods[0].Integration.RequestParameters; !reflect.DeepEqual(got, want) {
		t.Fatalf("%v", got)
	}
}

// Elements that change neither who gets in nor what answers are notes.
func TestImportNotes(t *testing.T) {
	d := baseDoc()
	d["x-amazon-apigateway-minimum-compression-size"] = 1024
	d["x-amazon-apigateway-endpoint-configuration"] = map[string]any{"types": []any{"REGIONAL"}}
	integ(d)["requestTemplates"] = map[string]any{"application/json": "{}"}
	integ(d)["uri"] = "http://my-nlb-0123456789.elb.eu-west-1.amazonaws.com/items/{id}"
	integ(d)["tlsConfig"] = map[string]any{"insecureSkipVerification": true}
	integ(d)["requestParameters"].(map[string]any)["integration.request.header.X-Trace"] = "method.request.header.x-trace"
	d["x-amazon-apigateway-request-validators"] = map[string]any{"all": map[string]any{"validateRequestBody": true}}
	scheme := d["components"].(map[string]any)["securitySchemes"].(map[string]any)
	scheme["api_key"] = map[string]any{"type": "apiKey", "name": "x-api-key", "in": "header"}
	data, _ := json.Marshal(d)
	api, err := Import(data)
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(api.Notes, "\n")
	for _, want := range []string{
		"x-amazon-apigateway-minimum-compression-size: portway does not compress responses",
		"x-amazon-apigateway-endpoint-configuration: the endpoint type",
		intPath + ".requestTemplates: HTTP_PROXY integrations run no templates",
		intPath + ".tlsConfig",
		`connectionId: VPC link "abc123"`,
		"x-amazon-apigateway-request-validators: defined, but no method uses one",
		"components.securitySchemes.api_key: API keys (x-api-key) and usage plans are not supported (unused)",
		intPath + ".uri: VPC_LINK to my-nlb-0123456789.elb.eu-west-1.amazonaws.com: portway connects to the URI's host",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("notes lack %q:\n%s", want, joined)
		}
	}
}

func TestImportSwaggerPaths(t *testing.T) {
	doc := `swagger: "2.0"
info: {title: t, version: "1"}
basePath: /v1
paths:
  /x:
    get:
      security: [{key: []}]
      x-amazon-apigateway-integration: {type: aws_proxy, uri: "arn:aws:apigateway:eu-west-1:lambda:path/f", httpMethod: POST}
securityDefinitions:
  key: {type: apiKey, name: x-api-key, in: header}
`
	_, err := Import([]byte(doc))
	for _, want := range []string{
		"securityDefinitions.key: API keys (x-api-key) and usage plans are not supported",
		"paths./x.get.x-amazon-apigateway-integration.type: aws_proxy (Lambda) integrations are not supported",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v\nwant %s", err, want)
		}
	}
}

func TestImportBadDocuments(t *testing.T) {
	for doc, want := range map[string]string{
		`{"hello": 1}`:   "neither an OpenAPI 3",
		`swagger: "1.2"`: `swagger: "1.2" is not supported`,
		`openapi: 2.5.0`: `openapi: "2.5.0" is not supported`,
		"openapi: [\n":   "not JSON or YAML",
		`{"openapi": "3.0.1", "info": {"title": "t", "version": "1"}, "paths": {"/x": {"get": {"responses": {"200": {"$ref": "other.json#/r"}}}}}}`: "openapi document",
	} {
		_, err := Import([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %s", doc, err, want)
		}
	}
}
