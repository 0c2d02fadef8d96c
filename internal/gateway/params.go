package gateway

import (
	"bufio"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/portway/portway/internal/h1"
)

// Request parameter mappings of an HTTP_PROXY integration
// (Integration.RequestParameters), as API Gateway writes them:
//
//	integration.request.header.NAME      ← method.request.header.NAME2
//	integration.request.querystring.NAME ← method.request.querystring.NAME2
//	                                       method.request.path.NAME2
//	                                       'static value'
//
// A mapped header replaces the client's header of that name, a mapped
// query parameter the client's parameters of that name (the URI's own
// query stays as written). A source the request lacks maps nothing, as on
// AWS without a request validator. Path parameters are mapped in the URI
// itself ({name}).
const (
	targetHeader = "integration.request.header."
	targetQuery  = "integration.request.querystring."
	sourceHeader = "method.request.header."
	sourceQuery  = "method.request.querystring."
	sourcePath   = "method.request.path."
)

// reservedHeaders are set by the gateway or frame the message: no
// mapping may write them.
var reservedHeaders = []string{
	"host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer", "upgrade",
	"expect", "proxy-connection", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-port",
	"x-forwarded-host", "x-forwarded-prefix", "forwarded", "x-amzn-trace-id",
}

// paramMapping is one validated mapping.
type paramMapping struct {
	header bool   // the target is a header (else a query parameter)
	name   string // the target's name
	kind   byte   // source: 'h' header, 'q' query, 'p' path, 's' static
	source string // the source's name, or the static value
}

func validateRequestParameters(m map[string]string, pathParams []string) []error {
	var errs []error
	for _, k := range sortedKeys(m) {
		if _, err := parseMapping(k, m[k], pathParams); err != nil {
			errs = append(errs, fmt.Errorf("requestParameters.%s: %w", k, err))
		}
	}
	return errs
}

func parseMapping(target, source string, pathParams []string) (paramMapping, error) {
	var p paramMapping
	switch {
	case strings.HasPrefix(target, targetHeader):
		p.header, p.name = true, target[len(targetHeader):]
		if !headerNameRe().MatchString(p.name) {
			return p, fmt.Errorf("invalid header name %q", p.name)
		}
		if slices.Contains(reservedHeaders, strings.ToLower(p.name)) {
			return p, fmt.Errorf("%s is set by the gateway", p.name)
		}
	case strings.HasPrefix(target, targetQuery):
		p.name = target[len(targetQuery):]
		if p.name == "" || strings.ContainsAny(p.name, "&=#;%+ \t\r\n") {
			return p, fmt.Errorf("invalid query parameter name %q", p.name)
		}
	case strings.HasPrefix(target, "integration.request.path."):
		return p, fmt.Errorf("map path parameters in the uri: {%s}", strings.TrimPrefix(target, "integration.request.path."))
	default:
		return p, fmt.Errorf("must be %sNAME or %sNAME", targetHeader, targetQuery)
	}
	switch {
	case len(source) >= 2 && source[0] == '\'' && source[len(source)-1] == '\'':
		p.kind, p.source = 's', source[1:len(source)-1]
		if strings.ContainsAny(p.source, "\r\n\x00") {
			return p, fmt.Errorf("a static value must not contain CR, LF or NUL")
		}
	case strings.HasPrefix(source, sourceHeader) && headerNameRe().MatchString(source[len(sourceHeader):]):
		p.kind, p.source = 'h', source[len(sourceHeader):]
	case strings.HasPrefix(source, sourceQuery) && len(source) > len(sourceQuery):
		p.kind, p.source = 'q', source[len(sourceQuery):]
	case strings.HasPrefix(source, sourcePath):
		p.kind, p.source = 'p', source[len(sourcePath):]
		if !slices.Contains(pathParams, p.source) {
			return p, fmt.Errorf("{%s} is not a path parameter of the resource", p.source)
		}
	default:
		return p, fmt.Errorf("%q: must be %sNAME, %sNAME, %sNAME or a 'static value'", source, sourceHeader, sourceQuery, sourcePath)
	}
	return p, nil
}

func buildMappings(m map[string]string, pathParams []string) []paramMapping {
	var out []paramMapping
	for _, k := range sortedKeys(m) {
		if p, err := parseMapping(k, m[k], pathParams); err == nil { // validated
			out = append(out, p)
		}
	}
	return out
}

// mappedParams are a request's mapped values, in the form they are written.
type mappedParams struct {
	headers     []h1.Field // name and value
	query       string     // "a=1&b=2", escaped
	clientQuery string     // the client's query without the mapped names
}

// resolveMappings takes each mapping's value from the request.
func resolveMappings(ms []paramMapping, req *h1.Head, rawQuery string, params []param) *mappedParams {
	mp := &mappedParams{clientQuery: rawQuery}
	var queryNames []string
	var q strings.Builder
	for _, m := range ms {
		var v string
		ok := true
		switch m.kind {
		case 's':
			v = m.source
		case 'h':
			var b []byte
			b, ok = req.Get(m.source)
			v = string(b)
		case 'q':
			v, ok = queryValue(rawQuery, m.source)
		case 'p':
			ok = false
			for _, p := range params {
				if p.name == m.source {
					v, ok = p.value, true
					if dec, err := url.PathUnescape(v); err == nil {
						v = dec
					}
				}
			}
		}
		if m.header {
			if ok && !strings.ContainsAny(v, "\r\n\x00") {
				mp.headers = append(mp.headers, h1.Field{Name: []byte(m.name), Value: []byte(v)})
			}
			continue
		}
		queryNames = append(queryNames, m.name)
		if ok {
			if q.Len() > 0 {
				q.WriteByte('&')
			}
			q.WriteString(url.QueryEscape(m.name))
			q.WriteByte('=')
			q.WriteString(url.QueryEscape(v))
		}
	}
	mp.query = q.String()
	if len(queryNames) > 0 {
		mp.clientQuery = dropQueryNames(rawQuery, queryNames)
	}
	return mp
}

// queryValue is the decoded value of the first parameter name in q.
func queryValue(q, name string) (string, bool) {
	for _, part := range splitQuery(q) {
		k, v, _ := strings.Cut(part, "=")
		if dk, err := url.QueryUnescape(k); err == nil && dk == name {
			dv, err := url.QueryUnescape(v)
			if err != nil {
				return "", false
			}
			return dv, true
		}
	}
	return "", false
}

func splitQuery(q string) []string {
	return strings.FieldsFunc(q, func(r rune) bool { return r == '&' || r == ';' })
}

// dropQueryNames removes the parameters named names from q.
func dropQueryNames(q string, names []string) string {
	var kept []string
	for _, part := range splitQuery(q) {
		k, _, _ := strings.Cut(part, "=")
		if dk, err := url.QueryUnescape(k); err == nil && slices.Contains(names, dk) {
			continue
		}
		kept = append(kept, part)
	}
	return strings.Join(kept, "&")
}

// mappedHeader reports whether a client's field is replaced by a mapping.
func (mp *mappedParams) mappedHeader(name []byte) bool {
	for _, f := range mp.headers {
		if h1.Fold(name, f.Name) {
			return true
		}
	}
	return false
}

// writeMappedQuery writes the integration request's query: the URI's own,
// the mapped parameters, then the client's others.
func writeMappedQuery(w *bufio.Writer, uriQuery string, mp *mappedParams) {
	first := true
	for i, part := range [...]string{uriQuery, mp.query, mp.clientQuery} {
		if part == "" {
			continue
		}
		if first {
			w.WriteByte('?')
		} else {
			w.WriteByte('&')
		}
		if i == 2 {
			writeClientQuery(w, part)
		} else {
			w.WriteString(part)
		}
		first = false
	}
}
