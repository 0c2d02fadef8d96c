package openapi

import "testing"

// Odd but parseable documents give errors or results, never a panic.
func TestImportOddDocuments(t *testing.T) {
	for _, doc := range []string{
		`{"openapi":"3.0.1","info":{"title":"t","version":"1"},"paths":{"/x":null}}`,
		`{"openapi":"3.0.1","info":{"title":"t","version":"1"},"paths":{"/x":{"get":null}}}`,
		`{"openapi":"3.0.1","info":{"title":"t","version":"1"},"paths":{"/x":{"x-amazon-apigateway-any-method":null}}}`,
		`{"openapi":"3.0.1","info":{"title":"t","version":"1"},"paths":{"/x":{"x-amazon-apigateway-any-method":{"x-amazon-apigateway-integration":null}}}}`,
		`{"openapi":"3.0.1","info":{"title":"t","version":"1"},"paths":{"/x":{"x-amazon-apigateway-any-method":{"x-amazon-apigateway-integration":{"type":"mock","responses":null}}}}}`,
		`{"openapi":"3.0.1","info":{"title":"t","version":"1"},"paths":{"/x":{"x-amazon-apigateway-any-method":{"x-amazon-apigateway-integration":{"type":"mock","responses":{"default":null}}}}}}`,
		`{"openapi":"3.0.1","info":{"title":"t","version":"1"},"paths":{"/x":{"x-amazon-apigateway-any-method":{"x-amazon-apigateway-integration":{"type":"mock","responses":{"(":{"statusCode":"200"}}}}}}}`,
		`{"openapi":"3.0.1","info":{"title":"t","version":"1"},"paths":{"/x":{"x-amazon-apigateway-any-method":{"x-amazon-apigateway-integration":{"type":7}}}}}`,
		`{"openapi":"3.0.1","info":{"title":"t","version":"1"},"paths":{"/x":{"x-amazon-apigateway-any-method":"no"}}}`,
		`{"openapi":"3.0.1","info":{"title":"t","version":"1"},"paths":{"/x":{"get":{"security":[{"a":[]}],"x-amazon-apigateway-integration":{"type":"http_proxy","uri":"http://h/","requestParameters":{"integration.request.path":"x"}}}}}}`,
		`{"openapi":"3.0.1","info":{"title":"t","version":"1"},"paths":{},"components":null}`,
		`{"openapi":"3.0.1","info":{"title":"t","version":"1"},"paths":{},"components":{"securitySchemes":{"a":null}}}`,
		`{"openapi":"3.0.1","info":{"title":"t","version":"1"},"paths":{},"components":{"securitySchemes":{"a":{"type":"apiKey","x-amazon-apigateway-authorizer":null}}}}`,
		`{"openapi":"3.0.1","info":{"title":"t","version":"1"},"paths":{},"components":{"securitySchemes":{"a":{"type":"apiKey","x-amazon-apigateway-authorizer":{"type":"cognito_user_pools","providerARNs":"x"}}}}}`,
		`{"openapi":"3.0.1","info":{"title":"t","version":"1"},"servers":[null],"paths":{}}`,
		`{"openapi":"3.0.1","info":{"title":"t","version":"1"},"servers":[{"url":"http://h/{basePath}","variables":{"basePath":null}}],"paths":{}}`,
		`{"openapi":"3.0.1","info":{"title":"t","version":"1"},"paths":{},"x-amazon-apigateway-gateway-responses":{"UNAUTHORIZED":null}}`,
		`{"openapi":"3.0.1","info":{"title":"t","version":"1"},"paths":{},"x-amazon-apigateway-gateway-responses":[1]}`,
		`{"openapi":"3.0.1","info":{"title":"t","version":"1"},"paths":{},"x-amazon-apigateway-binary-media-types":null}`,
		`{"openapi":"3.0.1","info":{"title":"t","version":"1"},"paths":{},"x-amazon-apigateway-endpoint-configuration":"x"}`,
		"swagger: \"2.0\"\ninfo: {title: t, version: \"1\"}\npaths:\n  /x:\n    x-amazon-apigateway-any-method:\n      x-amazon-apigateway-integration: {type: mock, responses: {default: {statusCode: 204}}}\n",
		"swagger: \"2.0\"\npaths: null\n",
		"swagger: \"2.0\"\nsecurityDefinitions: {a: null}\n",
		`{"openapi":"3.0.1"}`,
		`null`,
		``,
	} {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s: panic %v", doc, p)
				}
			}()
			_, _ = Import([]byte(doc))
		}()
	}
}
