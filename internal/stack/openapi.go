package stack

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/portway/portway/internal/gateway"
	"github.com/portway/portway/internal/openapi"
)

// GatewayFromOpenAPI reads an API Gateway export into the stack's gateway
// terms: the stage, the resources, the gateway responses (as overrides)
// and a raised integration timeout when the export has one. The stage
// variables the integrations use are listed with empty values, to be
// filled in. It also returns the notes on what portway does not run.
func GatewayFromOpenAPI(data []byte) (GatewayConfig, []string, error) {
	api, err := openapi.Import(data)
	if err != nil {
		return GatewayConfig{}, nil, err
	}
	gc := GatewayConfig{Stage: api.Stage, MaxIntegrationTimeout: api.MaxIntegrationTimeout}
	if len(api.Responses) > 0 {
		gc.ResponseOverrides = api.Responses
	}
	if len(api.StageVariables) > 0 {
		gc.StageVariables = map[string]string{}
		for _, v := range api.StageVariables {
			gc.StageVariables[v] = ""
		}
	}
	for _, r := range api.Resources {
		rc := ResourceConfig{Path: r.Path}
		for _, m := range r.Methods {
			rc.Methods = append(rc.Methods, MethodConfig{
				HTTPMethod: m.HTTPMethod, Authorization: m.Authorization, Scopes: m.Scopes, IdentityHeader: m.IdentityHeader,
				Integration: IntegrationConfig{
					Type: m.Integration.Type, ConnectionType: m.Integration.ConnectionType,
					URI: m.Integration.URI, Timeout: m.Integration.Timeout, Mock: m.Integration.Mock,
					RequestParameters: m.Integration.RequestParameters, HTTPMethod: m.Integration.HTTPMethod,
				},
			})
		}
		gc.Resources = append(gc.Resources, rc)
	}
	return gc, api.Notes, nil
}

// importOpenAPI fills the gateway from gateway.openapi (relative to dir):
// the document's resources, its gateway responses under the file's own
// responseOverrides, its stage unless gateway.stage is set.
func (c *Config) importOpenAPI(dir string) error {
	file := c.Gateway.OpenAPI
	if file == "" {
		return nil
	}
	if len(c.Gateway.Resources) > 0 {
		return errors.New("gateway.resources: not allowed with gateway.openapi (the document's paths are the resources)")
	}
	path := file
	if !filepath.IsAbs(path) && dir != "" {
		path = filepath.Join(dir, path)
	}
	data, err := readBounded(path, openapi.MaxDocumentBytes)
	if err != nil {
		return fmt.Errorf("gateway.openapi: %w", err)
	}
	gc, notes, err := GatewayFromOpenAPI(data)
	if err != nil {
		return fmt.Errorf("gateway.openapi: %s: %w", file, err)
	}
	c.Gateway.Resources = gc.Resources
	if c.Gateway.Stage == "" && len(c.Gateway.Stages) == 0 {
		c.Gateway.Stage = gc.Stage
	}
	if len(gc.ResponseOverrides) > 0 {
		merged := map[string]gateway.ResponseTemplate{}
		for typ, rt := range gc.ResponseOverrides {
			merged[typ] = rt
		}
		for typ, rt := range c.Gateway.ResponseOverrides { // the stack file's own win
			merged[typ] = rt
		}
		c.Gateway.ResponseOverrides = merged
	}
	if c.Gateway.MaxIntegrationTimeout == 0 {
		c.Gateway.MaxIntegrationTimeout = gc.MaxIntegrationTimeout
	}
	for _, n := range notes {
		c.openapiNotes = append(c.openapiNotes, "gateway.openapi: "+file+": "+n)
	}
	return nil
}

func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s is over %d bytes", path, limit)
	}
	return os.ReadFile(path)
}
