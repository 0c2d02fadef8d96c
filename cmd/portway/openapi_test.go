package main

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/portway/portway/internal/gateway"
	"github.com/portway/portway/internal/stack"
)

func TestConfigFromOpenAPI(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"config", "from-openapi", "../../internal/openapi/testdata/storage-swagger.yaml"}, &out, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Gateway stack.GatewayConfig `yaml:"gateway"`
	}
	dec := yaml.NewDecoder(&out)
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	// Into the built-in stack (which gives the stage variables' values),
	// it is the built-in gateway plus the document's mocks and responses.
	cfg := stack.Default()
	cfg.Gateway.Resources = doc.Gateway.Resources
	cfg.Gateway.ResponseOverrides = doc.Gateway.ResponseOverrides
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if doc.Gateway.Stage != "v1" || len(doc.Gateway.Resources) != 5 || doc.Gateway.StageVariables["nlb_host"] != "" {
		t.Errorf("%+v", doc.Gateway)
	}
	for _, want := range []string{
		"note: securityDefinitions.storage-authorizer.x-amazon-apigateway-authorizer.providerARNs",
		"note: the methods need these scopes in auth.resourceServers: https://api.wellcomecollection.org/storage/v1/bags, https://api.wellcomecollection.org/storage/v1/ingests",
	} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
		}
	}
	if _, err := runCLI(t, "config", "from-openapi", "../../internal/openapi/testdata/nope.json"); err == nil {
		t.Error("a missing file is fine")
	}
}

// The built-in stack, exported and imported again, has the same resources.
func TestConfigToOpenAPIRoundTrip(t *testing.T) {
	for _, args := range [][]string{{}, {"--format", "swagger", "--yaml"}} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), append([]string{"config", "to-openapi"}, args...), &out, &errOut); err != nil {
			t.Fatal(err, errOut.String())
		}
		if !strings.Contains(out.String(), "arn:aws:cognito-idp:eu-west-1:000000000000:userpool/eu-west-1_portway") {
			t.Errorf("%v: no user pool ARN:\n%s", args, out.String())
		}
		gc, _, err := stack.GatewayFromOpenAPI(out.Bytes())
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		def := stack.Default().Gateway
		if !reflect.DeepEqual(gc.Resources, def.Resources) || gc.Stage != def.Stage {
			t.Errorf("%v: resources\n%+v\nwant\n%+v", args, gc.Resources, def.Resources)
		}
		if len(gc.ResponseOverrides) != len(openapiTypes()) {
			t.Errorf("%v: %d gateway responses (the storage ones), want %d", args, len(gc.ResponseOverrides), len(openapiTypes()))
		}
	}
	if out, err := runCLI(t, "config", "to-openapi", "--format", "raml"); err == nil || !strings.Contains(out+err.Error(), "raml") {
		t.Errorf("raml: %v %s", err, out)
	}
}

func openapiTypes() []string { return gateway.ResponseTypes() }
