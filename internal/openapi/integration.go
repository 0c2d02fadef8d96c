package openapi

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/portway/portway/internal/gateway"
)

var (
	stageVarRef    = regexp.MustCompile(`\$\{stageVariables\.([A-Za-z0-9_]+)\}`)
	staticValue    = regexp.MustCompile(`^'(.*)'$`)
	uriHost        = regexp.MustCompile(`^https?://(\[[^\]]*\]|[^/:?#]+)`)
	mockStatusTmpl = regexp.MustCompile(`^\s*\{\s*"statusCode"\s*:\s*"?(\d{3})"?\s*\}\s*$`)
)

// integration reads an x-amazon-apigateway-integration.
func (im *importer) integration(field, verb, path string, v any) (gateway.Integration, bool) {
	raw, err := toJSON(v)
	if err != nil {
		im.refuse(field, "unreadable: %v", err)
		return gateway.Integration{}, false
	}
	var o map[string]json.RawMessage
	if json.Unmarshal(raw, &o) != nil {
		im.refuse(field, "must be an object")
		return gateway.Integration{}, false
	}
	str := func(key string) string {
		var s string
		_ = json.Unmarshal(o[key], &s)
		return s
	}
	typ := strings.ToLower(str("type"))
	switch typ {
	case "http_proxy":
		return im.httpProxy(field, verb, path, o, str)
	case "mock":
		return im.mock(field, o)
	case "aws_proxy":
		im.refuse(field+".type", "aws_proxy (Lambda) integrations are not supported")
	case "aws":
		im.refuse(field+".type", "aws (AWS service) integrations are not supported")
	case "http":
		im.refuse(field+".type", "http (non-proxy) integrations are not supported: they map requests and responses through templates; portway runs http_proxy")
	case "":
		im.refuse(field+".type", "missing")
	default:
		im.refuse(field+".type", "%q is not an integration type portway runs (http_proxy, mock)", typ)
	}
	return gateway.Integration{}, false
}

func (im *importer) httpProxy(field, verb, path string, o map[string]json.RawMessage, str func(string) string) (gateway.Integration, bool) {
	in := gateway.Integration{Type: gateway.IntegrationHTTPProxy, URI: str("uri")}
	ok := true
	bad := func(key, format string, a ...any) {
		im.refuse(field+"."+key, format, a...)
		ok = false
	}
	for _, m := range stageVarRef.FindAllStringSubmatch(in.URI, -1) {
		im.stageVars[m[1]] = true
	}
	for _, key := range sortedKeys(o) {
		switch key {
		case "type", "uri":
		case "httpMethod":
			switch hm := strings.ToUpper(str(key)); {
			case hm == verb || hm == gateway.MethodAny:
			case verb == gateway.MethodAny || verb == http.MethodHead || hm == http.MethodHead:
				bad(key, "%s: an integration method other than the method's (%s) is not supported for ANY or HEAD (the response's framing would change)", hm, verb)
			default:
				in.HTTPMethod = hm
			}
		case "connectionType":
			switch ct := strings.ToUpper(str(key)); ct {
			case gateway.ConnectionInternet, gateway.ConnectionVPCLink:
				in.ConnectionType = ct
			default:
				bad(key, "%q: must be INTERNET or VPC_LINK", ct)
			}
		case "connectionId":
			im.links[str(key)] = true
		case "timeoutInMillis":
			var ms int64
			if json.Unmarshal(o[key], &ms) != nil || ms < 50 {
				bad(key, "must be a number of milliseconds, at least 50")
				continue
			}
			in.Timeout = time.Duration(ms) * time.Millisecond
			im.maxTimeout = max(im.maxTimeout, in.Timeout)
		case "requestParameters":
			var params map[string]string
			if json.Unmarshal(o[key], &params) != nil {
				bad(key, "must map names to strings")
				continue
			}
			if !im.requestParameters(field+"."+key, path, params, &in) {
				ok = false
			}
		case "passthroughBehavior", "responses":
			// No templates run on a proxy integration: AWS ignores both.
		case "requestTemplates":
			im.note(field+"."+key, "HTTP_PROXY integrations run no templates")
		case "cacheKeyParameters", "cacheNamespace":
			im.note(field+"."+key, "portway has no stage cache")
		case "contentHandling":
			im.note(field+"."+key, "HTTP_PROXY integrations pass bodies unchanged")
		case "tlsConfig":
			im.note(field+"."+key, "portway's integrations verify nothing beyond what the URI names")
		default:
			bad(key, "unknown integration field")
		}
	}
	if in.URI == "" {
		bad("uri", "missing")
	}
	// What requestParameters did not fix or rename must be a path parameter
	// of the resource: the gateway fills the URI's placeholders from those.
	for _, name := range uriParams(in.URI) {
		if !strings.Contains(path, "{"+name+"}") && !strings.Contains(path, "{"+name+"+}") {
			bad("uri", "{%s}: not a path parameter of %s; map it with requestParameters (integration.request.path.%s)", name, path, name)
		}
	}
	if m := uriHost.FindStringSubmatch(in.URI); m != nil && in.ConnectionType == gateway.ConnectionVPCLink &&
		!strings.Contains(m[1], "${stageVariables.") && net.ParseIP(strings.Trim(m[1], "[]")) == nil {
		// AWS sends a VPC link's requests to its load balancer whatever the
		// host; portway connects to the host the URI names.
		im.note(field+".uri", "VPC_LINK to %s: portway connects to the URI's host; name the stack's load balancer (nlb.address) there, e.g. through a stage variable", m[1])
	}
	return in, ok
}

// requestParameters applies the mappings of an HTTP_PROXY integration:
// path parameters rename or fix the URI's {placeholders}; header and query
// mappings that pass a parameter on under its own name are what a proxy
// integration does anyway. Anything else would change the request the
// backend gets, and is refused.
func (im *importer) requestParameters(field, path string, params map[string]string, in *gateway.Integration) bool {
	ok := true
	for _, target := range sortedKeys(params) {
		src := params[target]
		f := field + "." + target
		kind, name, found := strings.Cut(strings.TrimPrefix(target, "integration.request."), ".")
		if !found || !strings.HasPrefix(target, "integration.request.") {
			im.refuse(f, "not an integration request parameter")
			ok = false
			continue
		}
		switch kind {
		case "path":
			placeholder := "{" + name + "}"
			if sm := staticValue.FindStringSubmatch(src); sm != nil {
				in.URI = strings.ReplaceAll(in.URI, placeholder, url.PathEscape(sm[1]))
				continue
			}
			from, isPath := strings.CutPrefix(src, "method.request.path.")
			if !isPath || !strings.Contains(path, "{"+from+"}") && !strings.Contains(path, "{"+from+"+}") {
				im.refuse(f, "%q: a path parameter comes from a path parameter of the resource or a static value", src)
				ok = false
				continue
			}
			in.URI = strings.ReplaceAll(in.URI, placeholder, "{"+from+"}")
		case "header", "querystring", "multivalueheader", "multivaluequerystring":
			if strings.EqualFold(src, "method.request."+kind+"."+name) {
				continue // passed on as it came, as the proxy does anyway
			}
			if strings.HasPrefix(kind, "multivalue") {
				im.refuse(f, "%q: multi-value mappings are only supported from the parameter of the same name", src)
				ok = false
				continue
			}
			if !supportedSource(src) {
				im.refuse(f, "%q: a %s comes from method.request.header|querystring|path.NAME or a 'static value' (not context or stage variables)", src, kind)
				ok = false
				continue
			}
			if in.RequestParameters == nil {
				in.RequestParameters = map[string]string{}
			}
			in.RequestParameters[target] = src
		default:
			im.refuse(f, "unknown request parameter location %q", kind)
			ok = false
		}
	}
	return ok
}

// mock reads a MOCK integration: the status its request template selects
// and that integration response's parameters and template.
func (im *importer) mock(field string, o map[string]json.RawMessage) (gateway.Integration, bool) {
	in := gateway.Integration{Type: gateway.IntegrationMock}
	ok := true
	status := "200"
	var responses map[string]json.RawMessage
	for _, key := range sortedKeys(o) {
		switch key {
		case "type", "passthroughBehavior", "httpMethod", "uri", "timeoutInMillis", "connectionType", "cacheKeyParameters", "cacheNamespace":
		case "requestTemplates":
			var tmpls map[string]string
			if json.Unmarshal(o[key], &tmpls) != nil {
				im.refuse(field+"."+key, "must map content types to templates")
				ok = false
				continue
			}
			ct, t := pickTemplate(tmpls)
			if ct == "" {
				continue
			}
			sm := mockStatusTmpl.FindStringSubmatch(t)
			if sm == nil {
				im.refuse(field+"."+key+"."+ct, "only a static {\"statusCode\": N} template is supported for a mock")
				ok = false
				continue
			}
			status = sm[1]
			if len(tmpls) > 1 {
				im.note(field+"."+key, "the %s template is used for every request", ct)
			}
		case "responses":
			if json.Unmarshal(o[key], &responses) != nil {
				im.refuse(field+"."+key, "must map selection patterns to responses")
				ok = false
			}
		case "requestParameters":
			im.note(field+"."+key, "a mock integration has no backend to map parameters to")
		default:
			im.refuse(field+"."+key, "unknown integration field")
			ok = false
		}
	}
	// The integration response whose selection pattern matches the status,
	// else "default".
	sel := "default"
	for _, pattern := range sortedKeys(responses) {
		if pattern == "default" {
			continue
		}
		if re, err := regexp.Compile("^(?:" + pattern + ")$"); err == nil && re.MatchString(status) {
			sel = pattern
			break
		}
	}
	rawResp, found := responses[sel]
	if !found {
		// No integration response: AWS answers 500 "Internal server error".
		im.refuse(field+".responses", "no integration response for status %s", status)
		return in, false
	}
	mr, rok := im.mockResponse(field+".responses."+sel, rawResp)
	in.Mock = mr
	return in, ok && rok
}

func (im *importer) mockResponse(field string, raw json.RawMessage) (*gateway.MockResponse, bool) {
	var r map[string]json.RawMessage
	if json.Unmarshal(raw, &r) != nil {
		im.refuse(field, "must be an object")
		return nil, false
	}
	mr := &gateway.MockResponse{StatusCode: 200}
	ok := true
	for _, key := range sortedKeys(r) {
		switch key {
		case "statusCode":
			n, err := statusCode(r[key])
			if err != nil {
				im.refuse(field+"."+key, "%v", err)
				ok = false
			}
			mr.StatusCode = n
		case "responseParameters":
			h, hok := im.staticHeaders(field+"."+key, "method.response.header.", r[key])
			mr.Headers, ok = h, ok && hok
		case "responseTemplates":
			body, ct, tok := im.responseTemplate(field+"."+key, r[key], false)
			mr.Body, ok = body, ok && tok
			if ct != "" && !strings.EqualFold(ct, "application/json") {
				if mr.Headers == nil {
					mr.Headers = map[string]string{}
				}
				mr.Headers["Content-Type"] = ct
			}
		case "contentHandling", "selectionPattern":
		default:
			im.refuse(field+"."+key, "unknown integration response field")
			ok = false
		}
	}
	return mr, ok
}

func supportedSource(src string) bool {
	if staticValue.MatchString(src) {
		return true
	}
	for _, p := range []string{"method.request.header.", "method.request.querystring.", "method.request.path."} {
		if strings.HasPrefix(src, p) && len(src) > len(p) {
			return true
		}
	}
	return false
}
