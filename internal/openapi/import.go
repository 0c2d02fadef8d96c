package openapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/portway/portway/internal/gateway"
)

// API is what an exported REST API says that portway runs: the resources
// with their methods, authorization and integrations, the gateway
// responses and the stage, plus notes on what was read and has no effect.
type API struct {
	// Stage is the stage the document was exported from (servers' basePath
	// variable or URL path in OpenAPI 3, basePath in Swagger); "" if none.
	Stage     string
	Resources []gateway.Resource
	Responses map[string]gateway.ResponseTemplate
	// StageVariables are the stage variables the integration URIs use,
	// sorted: the stack must give each a value.
	StageVariables []string
	// MaxIntegrationTimeout is the longest integration timeout when one is
	// over 29 s (AWS's raised limit), else 0.
	MaxIntegrationTimeout time.Duration
	// UserPoolARNs are the Cognito user pools the authorizers name: portway's
	// own user pool (auth) stands for them.
	UserPoolARNs []string
	// Notes are elements read that portway does not run and that change
	// neither who gets in nor what answers, each with its JSON path.
	Notes []string
}

// Extension names (API Gateway's).
const (
	extPrefix           = "x-amazon-apigateway-"
	extAnyMethod        = "x-amazon-apigateway-any-method"
	extIntegration      = "x-amazon-apigateway-integration"
	extAuthorizer       = "x-amazon-apigateway-authorizer"
	extAuthType         = "x-amazon-apigateway-authtype"
	extGatewayResponses = "x-amazon-apigateway-gateway-responses"
	extBinaryMediaTypes = "x-amazon-apigateway-binary-media-types"
)

// importer collects refusals and notes while it reads a document.
type importer struct {
	swagger       bool
	errs          []error
	notes         []string
	authorizer    map[string]*authorizer // usable Cognito schemes by name
	refused       map[string][]error     // why each unusable scheme is: reported where it is used
	used          map[string]bool        // refused schemes a method uses
	validators    bool                   // request validators are defined
	validatorUsed bool                   // and a method uses one
	stageVars     map[string]bool
	links         map[string]bool
	pools         map[string]bool
	maxTimeout    time.Duration
}

// Import reads the document `aws apigateway get-export --export-type
// oas30|swagger --parameters extensions='integrations,authorizers'` gives,
// JSON or YAML, into the gateway's terms. What portway cannot run is an
// error naming the element's JSON path (all of them, joined); what it
// does not run but changes nothing for a client is in API.Notes.
func Import(data []byte) (*API, error) {
	doc, swagger, err := load(data)
	if err != nil {
		return nil, err
	}
	im := &importer{swagger: swagger, authorizer: map[string]*authorizer{}, refused: map[string][]error{}, used: map[string]bool{},
		stageVars: map[string]bool{}, links: map[string]bool{}, pools: map[string]bool{}}
	api := &API{}
	api.Stage = im.stage(doc)
	im.rootExtensions(doc.Extensions, api)
	im.securitySchemes(doc)
	defaultSec := im.rawSecurity(doc.Security)
	api.Resources = im.paths(doc, defaultSec)
	im.unusedSchemes()
	if im.validators && !im.validatorUsed {
		im.note("x-amazon-apigateway-request-validators", "defined, but no method uses one")
	}
	api.StageVariables = sortedSet(im.stageVars)
	api.UserPoolARNs = sortedSet(im.pools)
	if im.maxTimeout > gateway.MaxIntegrationTimeout {
		api.MaxIntegrationTimeout = im.maxTimeout
	}
	for _, id := range sortedSet(im.links) {
		im.note("x-amazon-apigateway-integration.connectionId", "VPC link %q: portway dials each integration URI's host (its load balancer's address) directly", id)
	}
	api.Notes = im.notes
	if len(im.errs) > 0 {
		return nil, errors.Join(im.errs...)
	}
	return api, nil
}

func (im *importer) refuse(path, format string, a ...any) {
	im.errs = append(im.errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, a...)))
}

func (im *importer) note(path, format string, a ...any) {
	im.notes = append(im.notes, fmt.Sprintf("%s: %s", path, fmt.Sprintf(format, a...)))
}

// stage is the stage the servers (or Swagger's basePath) name.
func (im *importer) stage(doc *openapi3.T) string {
	if len(doc.Servers) == 0 || doc.Servers[0] == nil {
		return ""
	}
	s := doc.Servers[0]
	base := ""
	if v := s.Variables["basePath"]; v != nil {
		base = v.Default
	} else if u, err := url.Parse(s.URL); err == nil {
		base = u.Path
	}
	base = strings.Trim(base, "/")
	if base == "" {
		return ""
	}
	field := "servers[0]"
	if im.swagger {
		field = "basePath"
	}
	if strings.Contains(base, "/") || !stageName.MatchString(base) {
		im.refuse(field, "%q is not a stage name (A-Z a-z 0-9 _ -)", base)
		return ""
	}
	return base
}

var stageName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// rootExtensions reads the document's x-amazon-apigateway-* extensions.
func (im *importer) rootExtensions(ext map[string]any, api *API) {
	for _, name := range sortedKeys(ext) {
		if !strings.HasPrefix(name, extPrefix) {
			continue
		}
		raw, err := toJSON(ext[name])
		if err != nil {
			im.refuse(name, "unreadable: %v", err)
			continue
		}
		switch name {
		case extGatewayResponses:
			api.Responses = im.gatewayResponses(name, raw)
		case extBinaryMediaTypes:
			var types []string
			_ = json.Unmarshal(raw, &types)
			im.note(name, "%s: HTTP_PROXY and MOCK integrations pass bodies as bytes; binary media types only change template and Lambda conversions, which portway does not run", strings.Join(types, ", "))
		case "x-amazon-apigateway-request-validators":
			im.validators = true // refused where a method uses one
		case "x-amazon-apigateway-request-validator":
			im.refuse(name, "request validation is not supported (portway forwards requests unvalidated)")
		case "x-amazon-apigateway-api-key-source":
			im.refuse(name, "API keys and usage plans are not supported")
		case "x-amazon-apigateway-policy":
			im.refuse(name, "resource policies are not supported (they decide who gets in)")
		case "x-amazon-apigateway-endpoint-configuration":
			var ec struct {
				Disable bool `json:"disableExecuteApiEndpoint"`
			}
			_ = json.Unmarshal(raw, &ec)
			if ec.Disable {
				im.refuse(name+".disableExecuteApiEndpoint", "true is not supported (portway always serves the invoke URL)")
			} else {
				im.note(name, "the endpoint type and VPC endpoints do not apply: portway listens where gateway.listen says")
			}
		case "x-amazon-apigateway-minimum-compression-size":
			im.note(name, "portway does not compress responses")
		case "x-amazon-apigateway-documentation", "x-amazon-apigateway-importexport-version":
		default:
			im.refuse(name, "this API Gateway extension is not supported")
		}
	}
}

// paths reads every path item into a resource.
func (im *importer) paths(doc *openapi3.T, defaultSec *[]map[string][]string) []gateway.Resource {
	if doc.Paths == nil {
		return nil
	}
	var out []gateway.Resource
	keys := doc.Paths.InMatchingOrder()
	sort.Strings(keys)
	for _, p := range keys {
		item := doc.Paths.Value(p)
		field := "paths." + p
		if err := gateway.ValidateResourcePath(p); err != nil {
			im.refuse(field, "%v", err)
			continue
		}
		if item == nil {
			im.note(field, "no methods: not a resource of its own")
			continue
		}
		res := gateway.Resource{Path: p}
		for _, name := range sortedKeys(item.Extensions) {
			if name == extAnyMethod || !strings.HasPrefix(name, extPrefix) {
				continue
			}
			im.refuse(field+"."+name, "this API Gateway extension is not supported")
		}
		if raw, ok := item.Extensions[extAnyMethod]; ok {
			if m, ok := im.method(field+"."+extAnyMethod, gateway.MethodAny, raw, p, defaultSec); ok {
				res.Methods = append(res.Methods, m)
			}
		}
		for _, verb := range []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"} {
			if op := item.GetOperation(verb); op != nil {
				if m, ok := im.method(field+"."+strings.ToLower(verb), verb, op, p, defaultSec); ok {
					res.Methods = append(res.Methods, m)
				}
			}
		}
		for _, verb := range []string{"TRACE", "CONNECT"} {
			if item.GetOperation(verb) != nil {
				im.refuse(field+"."+strings.ToLower(verb), "API Gateway has no %s method", verb)
			}
		}
		if len(res.Methods) == 0 {
			if len(item.Operations()) == 0 && item.Extensions[extAnyMethod] == nil {
				im.note(field, "no methods: not a resource of its own")
			}
			continue
		}
		out = append(out, res)
	}
	return out
}

// method reads one operation (a kin-openapi operation, or the raw
// any-method extension) in the form it is written in.
func (im *importer) method(field, verb string, op any, path string, defaultSec *[]map[string][]string) (gateway.Method, bool) {
	raw, err := toJSON(op)
	if err != nil {
		im.refuse(field, "unreadable: %v", err)
		return gateway.Method{}, false
	}
	var o map[string]json.RawMessage
	if err := json.Unmarshal(raw, &o); err != nil {
		im.refuse(field, "must be an object")
		return gateway.Method{}, false
	}
	m := gateway.Method{HTTPMethod: verb, Authorization: gateway.AuthNone}
	ok := true
	for _, name := range sortedKeys(o) {
		if !strings.HasPrefix(name, extPrefix) || name == extIntegration {
			continue
		}
		ok = false
		switch name {
		case "x-amazon-apigateway-request-validator":
			im.validatorUsed = true
			im.refuse(field+"."+name, "request validation is not supported (portway forwards requests unvalidated)")
		case "x-amazon-apigateway-auth":
			im.refuse(field+"."+name, "IAM authorization is not supported (only Cognito user pool authorizers)")
		default:
			im.refuse(field+"."+name, "this API Gateway extension is not supported")
		}
	}
	sec := defaultSec
	if rawSec, has := o["security"]; has {
		var s []map[string][]string
		if err := json.Unmarshal(rawSec, &s); err != nil {
			im.refuse(field+".security", "must be a list of security requirements")
			return m, false
		}
		sec = &s
	}
	if !im.applySecurity(field+".security", sec, &m) {
		ok = false
	}
	rawInt, has := o[extIntegration]
	if !has {
		im.refuse(field, "has no %s (portway runs HTTP_PROXY and MOCK integrations; export with extensions='integrations,authorizers')", extIntegration)
		return m, false
	}
	in, iok := im.integration(field+"."+extIntegration, verb, path, rawInt)
	m.Integration = in
	return m, ok && iok
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func sortedSet(m map[string]bool) []string {
	if len(m) == 0 {
		return nil
	}
	return sortedKeys(m)
}

// statusCode reads a status written as a string ("401", as AWS exports
// it) or a number.
func statusCode(raw json.RawMessage) (int, error) {
	var n int
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		var aerr error
		if n, aerr = strconv.Atoi(s); aerr != nil {
			return 0, fmt.Errorf("%q is not a status code", s)
		}
	} else if err := json.Unmarshal(raw, &n); err != nil {
		return 0, errors.New("must be a status code")
	}
	if n < 100 || n > 599 {
		return 0, fmt.Errorf("%d is not a status code (100-599)", n)
	}
	return n, nil
}
