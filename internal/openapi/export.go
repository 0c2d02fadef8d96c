package openapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"gopkg.in/yaml.v3"

	"github.com/portway/portway/internal/gateway"
)

// Export formats (API Gateway's GetExport exportType).
const (
	FormatOAS30   = "oas30"
	FormatSwagger = "swagger"
)

// ExportOptions are GetExport's parameters and what the export says about
// where the API runs.
type ExportOptions struct {
	Format string // FormatOAS30 (default) or FormatSwagger
	Stage  string // the stage exported; "" → the config's first stage
	// Extensions adds API Gateway's extensions: the integrations, the
	// authorizers and the gateway responses (GetExport's
	// extensions='integrations,authorizers' and 'apigateway').
	Extensions bool
	YAML       bool   // YAML instead of JSON (GetExport's Accept: application/yaml)
	Host       string // the servers' host[:port]; "" → the config's listen address
	Scheme     string // "https" or "http" (default)
	Title      string // info.title; "" → "portway"
	// UserPoolARN is the Cognito authorizer's providerARNs entry (the
	// stack's user pool); AuthorizerName names its security scheme
	// ("" → "portway-authorizer"); VPCLinkID is the connectionId of
	// VPC_LINK integrations ("" → "portway-vpc-link").
	UserPoolARN    string
	AuthorizerName string
	VPCLinkID      string
}

var (
	placeholder = regexp.MustCompile(`\{([A-Za-z0-9._-]+)\}`)    // in an integration URI
	pathParam   = regexp.MustCompile(`\{([A-Za-z0-9._-]+)\+?\}`) // in a resource path, {proxy+} too
)

// uriParams are the {placeholders} of an integration URI, not counting
// its ${stageVariables.x}.
func uriParams(uri string) []string {
	var out []string
	for _, m := range placeholder.FindAllStringSubmatch(stageVarRef.ReplaceAllString(uri, ""), -1) {
		out = append(out, m[1])
	}
	return out
}

// Export renders the gateway's API for one stage as API Gateway's
// get-export does, such that Import of the result gives the same
// resources, methods, scopes, integrations and gateway responses.
func Export(cfg gateway.Config, opts ExportOptions) ([]byte, error) {
	format := opts.Format
	if format == "" {
		format = FormatOAS30
	}
	if format != FormatOAS30 && format != FormatSwagger {
		return nil, fmt.Errorf("export type %q: must be %s or %s", format, FormatOAS30, FormatSwagger)
	}
	stage := opts.Stage
	if stage == "" {
		stage = cfg.Stage
		if stage == "" && len(cfg.Stages) > 0 {
			stage = cfg.Stages[0].Name
		}
	} else if stage != cfg.Stage && !hasStage(cfg.Stages, stage) {
		return nil, fmt.Errorf("no stage %q", stage)
	}
	authName := orString(opts.AuthorizerName, "portway-authorizer")
	host := orString(opts.Host, cfg.Listen)
	scheme := orString(opts.Scheme, "http")
	server := map[string]any{
		"url":       scheme + "://" + host + "/{basePath}",
		"variables": map[string]any{"basePath": map[string]any{"default": "/" + stage}},
	}
	if format == FormatSwagger {
		// openapi2conv takes host and basePath from a plain URL.
		server = map[string]any{"url": scheme + "://" + host + "/" + stage}
	}
	doc := map[string]any{
		"openapi": "3.0.1",
		"info":    map[string]any{"title": orString(opts.Title, "portway"), "version": "1.0"},
		"servers": []any{server},
	}
	paths := map[string]any{}
	idHeaders := map[string]bool{} // the identity headers of the Cognito methods ("": Authorization)
	for _, res := range cfg.Resources {
		item := map[string]any{}
		for _, m := range res.Methods {
			op, err := exportMethod(res.Path, m, authName, opts)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", m.HTTPMethod, res.Path, err)
			}
			if m.Authorization == gateway.AuthCognito {
				idHeaders[m.IdentityHeader] = true
			}
			if m.HTTPMethod == gateway.MethodAny {
				item[extAnyMethod] = op
			} else {
				item[strings.ToLower(m.HTTPMethod)] = op
			}
		}
		paths[res.Path] = item
	}
	doc["paths"] = paths
	components := map[string]any{}
	schemes := map[string]any{}
	for h := range idHeaders {
		header := orString(h, "Authorization")
		scheme := map[string]any{"type": "apiKey", "name": header, "in": "header", extAuthType: "cognito_user_pools"}
		if opts.Extensions {
			a := map[string]any{"type": "cognito_user_pools"}
			if opts.UserPoolARN != "" {
				a["providerARNs"] = []string{opts.UserPoolARN}
			}
			if h != "" {
				a["identitySource"] = "method.request.header." + h
			}
			scheme[extAuthorizer] = a
		}
		schemes[schemeName(authName, h)] = scheme
	}
	if len(schemes) > 0 {
		components["securitySchemes"] = schemes
	}
	if len(components) > 0 {
		doc["components"] = components
	}
	if opts.Extensions && len(cfg.Responses) > 0 {
		doc[extGatewayResponses] = exportResponses(cfg.Responses)
	}
	data, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	if format == FormatSwagger {
		if data, err = toSwagger(data); err != nil {
			return nil, err
		}
	}
	if opts.YAML {
		return jsonToYAML(data)
	}
	return indentJSON(data)
}

func exportMethod(path string, m gateway.Method, authName string, opts ExportOptions) (map[string]any, error) {
	op := map[string]any{}
	var params []any
	for _, p := range pathParam.FindAllStringSubmatch(path, -1) {
		params = append(params, map[string]any{"name": p[1], "in": "path", "required": true,
			"schema": map[string]any{"type": "string"}})
	}
	if params != nil {
		op["parameters"] = params
	}
	switch m.Authorization {
	case gateway.AuthCognito:
		scopes := m.Scopes
		if scopes == nil {
			scopes = []string{}
		}
		op["security"] = []any{map[string]any{schemeName(authName, m.IdentityHeader): scopes}}
	case gateway.AuthNone, "":
	default:
		return nil, fmt.Errorf("authorization %q cannot be exported", m.Authorization)
	}
	in := m.Integration
	switch in.Type {
	case gateway.IntegrationHTTPProxy:
		op["responses"] = map[string]any{}
		x := map[string]any{"type": "http_proxy", "httpMethod": orString(in.HTTPMethod, m.HTTPMethod), "uri": in.URI,
			"passthroughBehavior": "when_no_match", "responses": map[string]any{"default": map[string]any{"statusCode": "200"}}}
		if in.ConnectionType != "" {
			x["connectionType"] = in.ConnectionType
		}
		if in.ConnectionType == gateway.ConnectionVPCLink {
			x["connectionId"] = orString(opts.VPCLinkID, "portway-vpc-link")
		}
		if in.Timeout != 0 {
			x["timeoutInMillis"] = in.Timeout.Milliseconds()
		}
		rp := map[string]any{}
		for _, p := range uriParams(in.URI) {
			rp["integration.request.path."+p] = "method.request.path." + p
		}
		for k, v := range in.RequestParameters {
			rp[k] = v
		}
		if len(rp) > 0 {
			x["requestParameters"] = rp
		}
		if opts.Extensions {
			op[extIntegration] = x
		}
	case gateway.IntegrationMock:
		mr := in.Mock
		if mr == nil {
			mr = &gateway.MockResponse{}
		}
		status := mr.StatusCode
		if status == 0 {
			status = http.StatusOK
		}
		code := strconv.Itoa(status)
		resp := map[string]any{"statusCode": code}
		headers := map[string]any{}
		rp := map[string]any{}
		contentType := "application/json"
		for _, k := range sortedKeys(mr.Headers) {
			if strings.EqualFold(k, "Content-Type") && mr.Body != "" {
				contentType = mr.Headers[k]
				continue
			}
			rp["method.response.header."+k] = "'" + mr.Headers[k] + "'"
			headers[k] = map[string]any{"schema": map[string]any{"type": "string"}}
		}
		if len(rp) > 0 {
			resp["responseParameters"] = rp
		}
		if mr.Body != "" {
			resp["responseTemplates"] = map[string]any{contentType: mr.Body}
		}
		r := map[string]any{"description": code + " response"}
		if len(headers) > 0 {
			r["headers"] = headers
		}
		op["responses"] = map[string]any{code: r}
		if opts.Extensions {
			op[extIntegration] = map[string]any{"type": "mock", "passthroughBehavior": "when_no_match",
				"requestTemplates": map[string]any{"application/json": fmt.Sprintf(`{"statusCode": %d}`, status)},
				"responses":        map[string]any{"default": resp}}
		}
	default:
		return nil, fmt.Errorf("integration type %q cannot be exported", in.Type)
	}
	return op, nil
}

func exportResponses(rs map[string]gateway.ResponseTemplate) map[string]any {
	out := map[string]any{}
	for _, typ := range sortedKeys(rs) {
		rt := rs[typ]
		r := map[string]any{}
		if rt.StatusCode != 0 {
			r["statusCode"] = strconv.Itoa(rt.StatusCode)
		}
		contentType := "application/json"
		rp := map[string]any{}
		for _, k := range sortedKeys(rt.Headers) {
			if strings.EqualFold(k, "Content-Type") && rt.Body != "" {
				contentType = rt.Headers[k]
				continue
			}
			rp["gatewayresponse.header."+k] = "'" + rt.Headers[k] + "'"
		}
		if len(rp) > 0 {
			r["responseParameters"] = rp
		}
		if rt.Body != "" {
			r["responseTemplates"] = map[string]any{contentType: rt.Body}
		}
		out[typ] = r
	}
	return out
}

// toSwagger converts the OpenAPI 3 export with kin-openapi; the any-method
// operations (extensions, so not converted) get Swagger's parameter form.
func toSwagger(data []byte) ([]byte, error) {
	doc3, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	doc2, err := openapi2conv.FromV3(doc3)
	if err != nil {
		return nil, fmt.Errorf("export as swagger: %w", err)
	}
	for _, item := range doc2.Paths {
		op, ok := item.Extensions[extAnyMethod].(map[string]any)
		if !ok {
			continue
		}
		if params, ok := op["parameters"].([]any); ok {
			for _, p := range params {
				if pm, ok := p.(map[string]any); ok {
					delete(pm, "schema")
					pm["type"] = "string"
				}
			}
		}
		if rs, ok := op["responses"].(map[string]any); ok {
			for _, r := range rs {
				if rm, ok := r.(map[string]any); ok {
					if hs, ok := rm["headers"].(map[string]any); ok {
						for k := range hs {
							hs[k] = map[string]any{"type": "string"}
						}
					}
				}
			}
		}
	}
	return json.Marshal(doc2)
}

func indentJSON(data []byte) ([]byte, error) {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	out, err := json.MarshalIndent(v, "", "  ")
	return append(out, '\n'), err
}

func jsonToYAML(data []byte) ([]byte, error) {
	var n yaml.Node
	// JSON is YAML: decoding it as YAML keeps the keys' order.
	if err := yaml.Unmarshal(data, &n); err != nil {
		return nil, err
	}
	styleBlock(&n)
	return yaml.Marshal(&n)
}

// styleBlock turns JSON's flow style and quotes into YAML's block style;
// the encoder quotes the strings that plain style would retype ("200").
func styleBlock(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		styleBlock(c)
	}
}

func hasStage(stages []gateway.Stage, name string) bool {
	for _, s := range stages {
		if s.Name == name {
			return true
		}
	}
	return false
}

func orString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// schemeName names the authorizer of one identity header.
func schemeName(authName, header string) string {
	if header == "" {
		return authName
	}
	return authName + "-" + strings.ToLower(header)
}
