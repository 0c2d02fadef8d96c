package openapi

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/portway/portway/internal/gateway"
)

const (
	bagsScope    = "https://api.wellcomecollection.org/storage/v1/bags"
	ingestsScope = "https://api.wellcomecollection.org/storage/v1/ingests"
	poolARN      = "arn:aws:cognito-idp:eu-west-1:975596993436:userpool/eu-west-1_Ab129faBb"
)

func proxy(verb, scope, uri string) gateway.Method {
	return gateway.Method{HTTPMethod: verb, Authorization: gateway.AuthCognito, Scopes: []string{scope},
		Integration: gateway.Integration{Type: gateway.IntegrationHTTPProxy, ConnectionType: gateway.ConnectionVPCLink, URI: uri, Timeout: 29 * time.Second}}
}

// wantStorage is what both fixtures say.
func wantStorage() *API {
	return &API{
		Stage: "v1",
		Resources: []gateway.Resource{
			{Path: "/bags", Methods: []gateway.Method{
				proxy("ANY", bagsScope, "http://${stageVariables.nlb_host}:${stageVariables.bags_port}/bags"),
				{HTTPMethod: "OPTIONS", Authorization: gateway.AuthNone, Integration: gateway.Integration{Type: gateway.IntegrationMock, Mock: &gateway.MockResponse{
					StatusCode: 200, Body: "{}",
					Headers: map[string]string{"Access-Control-Allow-Methods": "GET,POST,OPTIONS", "Access-Control-Allow-Origin": "*"},
				}}},
			}},
			{Path: "/bags/{proxy+}", Methods: []gateway.Method{proxy("ANY", bagsScope, "http://${stageVariables.nlb_host}:${stageVariables.bags_port}/bags/{proxy}")}},
			{Path: "/ingests", Methods: []gateway.Method{proxy("ANY", ingestsScope, "http://${stageVariables.nlb_host}:${stageVariables.ingests_port}/ingests")}},
			// integration.request.path.path: method.request.path.proxy renames the placeholder.
			{Path: "/ingests/{proxy+}", Methods: []gateway.Method{proxy("ANY", ingestsScope, "http://${stageVariables.nlb_host}:${stageVariables.ingests_port}/ingests/{proxy}")}},
			{Path: "/status", Methods: []gateway.Method{{HTTPMethod: "GET", Authorization: gateway.AuthNone, Integration: gateway.Integration{Type: gateway.IntegrationMock, Mock: &gateway.MockResponse{
				StatusCode: 200, Headers: map[string]string{"Cache-Control": "no-store"},
				Body: `{"status": "ok", "stage": "$context.stage", "requestId": "$context.requestId"}`,
			}}}}},
		},
		Responses: map[string]gateway.ResponseTemplate{
			"UNAUTHORIZED": {StatusCode: 401, Headers: map[string]string{"WWW-Authenticate": "Bearer"},
				Body: `{"errorType":"http","httpStatus":401,"label":"Unauthorized","description":$context.error.messageString,"type":"Error"}`},
			"DEFAULT_4XX": {Body: `{"message":$context.error.messageString,"requestId":"$context.requestId"}`},
			"MISSING_AUTHENTICATION_TOKEN": {StatusCode: 404,
				Body: `{"errorType":"http","httpStatus":404,"label":"Not Found","description":"Not Found","type":"Error"}`},
		},
		StageVariables: []string{"bags_port", "ingests_port", "nlb_host"},
		UserPoolARNs:   []string{poolARN},
	}
}

func TestImportFixtures(t *testing.T) {
	for _, file := range []string{"testdata/storage-oas30.json", "testdata/storage-swagger.yaml"} {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			api, err := Import(data)
			if err != nil {
				t.Fatal(err)
			}
			notes := api.Notes
			api.Notes = nil
			if want := wantStorage(); !reflect.DeepEqual(api, want) {
				got, _ := json.MarshalIndent(api, "", " ")
				exp, _ := json.MarshalIndent(want, "", " ")
				t.Fatalf("got\n%s\nwant\n%s", got, exp)
			}
			// What is read and not run is reported, with its JSON path.
			joined := strings.Join(notes, "\n")
			for _, want := range []string{
				"x-amazon-apigateway-binary-media-types: application/octet-stream, image/*",
				"storage-authorizer.x-amazon-apigateway-authorizer.providerARNs: " + poolARN,
				"paths./bags/{proxy+}.x-amazon-apigateway-any-method.x-amazon-apigateway-integration.cacheKeyParameters",
				`connectionId: VPC link "${stageVariables.vpc_link_id}"`,
			} {
				if !strings.Contains(joined, want) {
					t.Errorf("notes lack %q:\n%s", want, joined)
				}
			}
			// The imported API is a valid gateway config.
			cfg := gateway.Config{Listen: "127.0.0.1:0", Stage: api.Stage, Resources: api.Resources, Responses: api.Responses,
				StageVariables: map[string]string{"nlb_host": "127.0.0.1", "bags_port": "1", "ingests_port": "2"},
				Authorizer:     gateway.AuthorizerConfig{Issuer: "http://127.0.0.1/x", JWKSURL: "http://127.0.0.1/jwks"}}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
