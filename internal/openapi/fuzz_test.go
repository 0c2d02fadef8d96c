package openapi

import (
	"os"
	"reflect"
	"testing"

	"github.com/portway/portway/internal/gateway"
)

// FuzzImport: any document is imported or refused without a panic, and
// what imports exports and imports again to the same resources and
// gateway responses.
func FuzzImport(f *testing.F) {
	for _, file := range []string{"testdata/storage-oas30.json", "testdata/storage-swagger.yaml"} {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"openapi":"3.0.1","info":{"title":"t","version":"1"},"paths":{"/a/{b}":{"get":{"x-amazon-apigateway-integration":{"type":"http_proxy","httpMethod":"GET","uri":"http://h/{b}","requestParameters":{"integration.request.header.X":"'v'"}}}}}}`))
	f.Add([]byte("swagger: \"2.0\"\ninfo: {title: t, version: \"1\"}\nbasePath: /s\npaths:\n  /x:\n    x-amazon-apigateway-any-method:\n      x-amazon-apigateway-integration: {type: mock, responses: {default: {statusCode: 204}}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		api, err := Import(data)
		if err != nil {
			return
		}
		cfg := gateway.Config{Listen: "127.0.0.1:8080", Stage: api.Stage, Resources: api.Resources, Responses: api.Responses}
		if cfg.Stage == "" {
			cfg.Stage = "v1"
		}
		for _, format := range []string{FormatOAS30, FormatSwagger} {
			out, err := Export(cfg, ExportOptions{Format: format, Extensions: true})
			if err != nil {
				t.Fatalf("%s export of an import: %v", format, err)
			}
			back, err := Import(out)
			if err != nil {
				t.Fatalf("%s export does not import: %v\n%s", format, err, out)
			}
			if !reflect.DeepEqual(sortedResources(back.Resources), sortedResources(api.Resources)) {
				t.Fatalf("%s round trip changed the resources:\n%+v\n%+v", format, back.Resources, api.Resources)
			}
			if len(api.Responses) > 0 && !reflect.DeepEqual(back.Responses, api.Responses) {
				t.Fatalf("%s round trip changed the gateway responses:\n%+v\n%+v", format, back.Responses, api.Responses)
			}
		}
	})
}
