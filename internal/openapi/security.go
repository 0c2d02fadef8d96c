package openapi

import (
	"encoding/json"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/portway/portway/internal/gateway"
)

// authorizer is a usable Cognito user pool authorizer.
type authorizer struct {
	name   string
	header string // identitySource's header; "" for Authorization
}

// identityAuthorization is the identity source portway's authorizer reads.
const identityAuthorization = "method.request.header.Authorization"

func (im *importer) schemesField() string {
	if im.swagger {
		return "securityDefinitions"
	}
	return "components.securitySchemes"
}

// securitySchemes reads the security schemes: Cognito user pool
// authorizers are portway's authorizer; everything else (API keys, IAM,
// Lambda authorizers) is refused where a method uses it, with the reason
// found at its definition; an unused one is only reported.
func (im *importer) securitySchemes(doc *openapi3.T) {
	if doc.Components == nil {
		return
	}
	for _, name := range sortedKeys(doc.Components.SecuritySchemes) {
		field := im.schemesField() + "." + name
		mark := len(im.errs)
		im.scheme(doc, name, field)
		if len(im.errs) > mark { // held until a method uses the scheme
			im.refused[name] = append([]error(nil), im.errs[mark:]...)
			im.errs = im.errs[:mark]
		}
	}
}

// scheme reads one security scheme.
func (im *importer) scheme(doc *openapi3.T, name, field string) {
	ref := doc.Components.SecuritySchemes[name]
	if ref == nil || ref.Value == nil {
		im.refuse(field, "empty security scheme")
		return
	}
	s := ref.Value
	authType, _ := s.Extensions[extAuthType].(string)
	rawAuth, hasAuth := s.Extensions[extAuthorizer]
	switch {
	case !hasAuth && s.Type == "apiKey" && strings.EqualFold(s.Name, "x-api-key"):
		im.refuse(field, "API keys (x-api-key) and usage plans are not supported")
	case strings.EqualFold(authType, "awsSigv4"):
		im.refuse(field+"."+extAuthType, "IAM (awsSigv4) authorization is not supported")
	case !hasAuth:
		im.refuse(field, "not an API Gateway authorizer (no %s): only Cognito user pool authorizers are supported", extAuthorizer)
	default:
		if a := im.cognito(field+"."+extAuthorizer, name, rawAuth); a != nil {
			im.authorizer[name] = a
		}
	}
}

// unusedSchemes reports the refused schemes no method uses.
func (im *importer) unusedSchemes() {
	for _, name := range sortedKeys(im.refused) {
		if im.used[name] {
			continue
		}
		for _, err := range im.refused[name] {
			im.notes = append(im.notes, err.Error()+" (unused)")
		}
	}
}

// cognito reads an x-amazon-apigateway-authorizer of type cognito_user_pools.
func (im *importer) cognito(field, name string, v any) *authorizer {
	raw, err := toJSON(v)
	if err != nil {
		im.refuse(field, "unreadable: %v", err)
		return nil
	}
	var o map[string]json.RawMessage
	if json.Unmarshal(raw, &o) != nil {
		im.refuse(field, "must be an object")
		return nil
	}
	var typ string
	_ = json.Unmarshal(o["type"], &typ)
	if !strings.EqualFold(typ, "cognito_user_pools") {
		im.refuse(field+".type", "%s (Lambda) authorizers are not supported; only cognito_user_pools", typ)
		return nil
	}
	ok := true
	a := &authorizer{name: name}
	for _, key := range sortedKeys(o) {
		switch key {
		case "type":
		case "providerARNs":
			var arns []string
			_ = json.Unmarshal(o[key], &arns)
			for _, a := range arns {
				im.pools[a] = true
			}
			im.note(field+".providerARNs", "%s: portway's own user pool (auth) issues and verifies the tokens", strings.Join(arns, ", "))
		case "identitySource":
			var src string
			_ = json.Unmarshal(o[key], &src)
			h, isHeader := strings.CutPrefix(src, "method.request.header.")
			switch {
			case strings.EqualFold(src, identityAuthorization):
			case isHeader && !strings.Contains(h, ",") && h != "":
				a.header = h
			default:
				im.refuse(field+".identitySource", "%q: portway's authorizer reads the token from one header (method.request.header.NAME)", src)
				ok = false
			}
		case "authorizerResultTtlInSeconds":
			im.note(field+"."+key, "portway caches verified tokens until they expire")
		case "identityValidationExpression":
			im.refuse(field+"."+key, "identity validation expressions are not supported")
			ok = false
		default:
			im.refuse(field+"."+key, "unknown authorizer field")
			ok = false
		}
	}
	if !ok {
		return nil
	}
	return a
}

// rawSecurity is the document's default security requirement (nil: none given).
func (im *importer) rawSecurity(s openapi3.SecurityRequirements) *[]map[string][]string {
	if s == nil {
		return nil
	}
	out := make([]map[string][]string, 0, len(s))
	for _, r := range s {
		out = append(out, map[string][]string(r))
	}
	return &out
}

// applySecurity sets a method's authorization from its security
// requirement: none → NONE; one Cognito authorizer → COGNITO_USER_POOLS
// with its scopes. Alternatives and combined schemes are refused.
func (im *importer) applySecurity(field string, sec *[]map[string][]string, m *gateway.Method) bool {
	if sec == nil || len(*sec) == 0 {
		return true
	}
	if len(*sec) > 1 {
		im.refuse(field, "alternative security requirements are not supported (API Gateway exports one)")
		return false
	}
	req := (*sec)[0]
	if len(req) == 0 {
		return true
	}
	ok := true
	for _, name := range sortedKeys(req) {
		switch {
		case im.refused[name] != nil:
			im.refuse(field+"."+name, "uses %s.%s, which is not supported", im.schemesField(), name)
			if !im.used[name] {
				im.errs = append(im.errs, im.refused[name]...)
			}
			im.used[name] = true
			ok = false
		case im.authorizer[name] == nil:
			im.refuse(field+"."+name, "no such security scheme")
			ok = false
		case m.Authorization == gateway.AuthCognito:
			im.refuse(field+"."+name, "only one authorizer per method")
			ok = false
		default:
			m.Authorization = gateway.AuthCognito
			m.Scopes = req[name]
			m.IdentityHeader = im.authorizer[name].header
		}
	}
	return ok
}
