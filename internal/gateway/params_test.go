package gateway

import (
	"net/http"
	"strings"
	"testing"
)

func TestRequestParameterMappings(t *testing.T) {
	be := newEchoBackend(t)
	m := proxyMethod(MethodAny, AuthNone, be.URL+"/items/{id}?fixed=1")
	m.Integration.RequestParameters = map[string]string{
		"integration.request.header.X-Stage":       "'v1'",
		"integration.request.header.X-Item":        "method.request.path.id",
		"integration.request.header.X-Client":      "method.request.header.X-Caller",
		"integration.request.header.X-Page":        "method.request.querystring.page",
		"integration.request.header.X-Absent":      "method.request.header.X-Nobody",
		"integration.request.querystring.source":   "method.request.header.X-Caller",
		"integration.request.querystring.item":     "method.request.path.id",
		"integration.request.querystring.override": "'fixed value'",
	}
	g := startGateway(t, Config{Resources: []Resource{{Path: "/items/{id}", Methods: []Method{m}}}})
	res, body := get(t, g.InvokeURL()+"/items/a%20b?page=2&override=client&keep=yes",
		"X-Caller", "tester & co", "X-Stage", "client's", "X-Item", "client's")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
	e := decodeEcho(t, body)
	for name, want := range map[string]string{"X-Stage": "v1", "X-Item": "a b", "X-Client": "tester & co", "X-Page": "2", "X-Caller": "tester & co"} {
		if got := e.Header.Values(name); len(got) != 1 || got[0] != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if _, ok := e.Header["X-Absent"]; ok {
		t.Error("a mapping without its source was sent")
	}
	// The URI's query, the mapped parameters (sorted by target), then the
	// client's others; the client's override is replaced.
	want := "/items/a%20b?fixed=1&item=a+b&override=fixed+value&source=tester+%26+co&page=2&keep=yes"
	if e.RequestURI != want {
		t.Errorf("request URI %s, want %s", e.RequestURI, want)
	}
}

func TestRequestParameterValidation(t *testing.T) {
	for target, tc := range map[string]struct{ source, want string }{
		"integration.request.header.Host":            {"'x'", "Host is set by the gateway"},
		"integration.request.header.X-Forwarded-For": {"'x'", "X-Forwarded-For is set by the gateway"},
		"integration.request.header.Bad Name":        {"'x'", `invalid header name "Bad Name"`},
		"integration.request.querystring.a&b":        {"'x'", "invalid query parameter name"},
		"integration.request.path.id":                {"method.request.path.id", "map path parameters in the uri: {id}"},
		"integration.request.body":                   {"'x'", "must be integration.request.header.NAME"},
		"integration.request.header.X-A":             {"method.request.path.nope", "{nope} is not a path parameter"},
		"integration.request.header.X-B":             {"context.requestId", `"context.requestId": must be`},
		"integration.request.header.X-C":             {"'a\r\nb'", "a static value must not contain CR"},
	} {
		m := proxyMethod("GET", AuthNone, "http://127.0.0.1:1/{id}")
		m.Integration.RequestParameters = map[string]string{target: tc.source}
		cfg := Config{Listen: "127.0.0.1:0", Stage: "v1", Resources: []Resource{{Path: "/x/{id}", Methods: []Method{m}}}}
		err := cfg.Validate()
		prefix := "resources[0].methods[0].integration.requestParameters." + target + ": "
		if err == nil || !strings.Contains(err.Error(), prefix+tc.want) {
			t.Errorf("%s: %v", target, err)
		}
	}
	mock := Method{HTTPMethod: "GET", Authorization: AuthNone, Integration: Integration{Type: IntegrationMock,
		RequestParameters: map[string]string{"integration.request.header.X": "'1'"}}}
	cfg := Config{Listen: "127.0.0.1:0", Stage: "v1", Resources: []Resource{{Path: "/m", Methods: []Method{mock}}}}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "MOCK takes no") {
		t.Errorf("mock with mappings: %v", err)
	}
}

func TestIntegrationHTTPMethod(t *testing.T) {
	be := newEchoBackend(t)
	m := proxyMethod(http.MethodGet, AuthNone, be.URL+"/search")
	m.Integration.HTTPMethod = http.MethodPost
	g := startGateway(t, Config{Resources: []Resource{{Path: "/s", Methods: []Method{m}}}})
	res, body := get(t, g.InvokeURL()+"/s")
	if e := decodeEcho(t, body); res.StatusCode != http.StatusOK || e.Method != http.MethodPost {
		t.Fatalf("%d %+v", res.StatusCode, e)
	}
	for name, tc := range map[string]struct {
		method string
		in     Integration
		want   string
	}{
		"any":  {MethodAny, Integration{Type: IntegrationHTTPProxy, URI: "http://h/", HTTPMethod: "POST"}, "POST cannot stand for ANY"},
		"head": {http.MethodGet, Integration{Type: IntegrationHTTPProxy, URI: "http://h/", HTTPMethod: "HEAD"}, "HEAD cannot stand for GET"},
		"mock": {http.MethodGet, Integration{Type: IntegrationMock, HTTPMethod: "POST"}, "only with type HTTP_PROXY"},
		"bad":  {http.MethodGet, Integration{Type: IntegrationHTTPProxy, URI: "http://h/", HTTPMethod: "FETCH"}, `must be ANY, GET, POST, PUT, DELETE, PATCH, HEAD or OPTIONS, got "FETCH"`},
	} {
		cfg := Config{Listen: "127.0.0.1:0", Stage: "v1", Resources: []Resource{{Path: "/x", Methods: []Method{{HTTPMethod: tc.method, Authorization: AuthNone, Integration: tc.in}}}}}
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "resources[0].methods[0].integration.httpMethod: "+tc.want) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
