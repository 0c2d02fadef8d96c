package gateway

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func mockMethod(method, auth string, m *MockResponse, scopes ...string) Method {
	return Method{HTTPMethod: method, Authorization: auth, Scopes: scopes,
		Integration: Integration{Type: IntegrationMock, Mock: m}}
}

func TestMockIntegrationAnswers(t *testing.T) {
	g := startGateway(t, Config{Resources: []Resource{
		{Path: "/health", Methods: []Method{mockMethod(http.MethodGet, AuthNone, &MockResponse{
			StatusCode: 203,
			Headers:    map[string]string{"x-mock": "yes", "Content-Type": "text/plain"},
			Body:       "ok $context.stage $context.resourcePath $context.httpMethod $context.error.message",
		})}},
		{Path: "/empty", Methods: []Method{mockMethod(MethodAny, AuthNone, nil)}},
	}})
	res, body := get(t, g.InvokeURL()+"/health")
	if res.StatusCode != 203 || body != "ok v1 /health GET $context.error.message" ||
		res.Header.Get("X-Mock") != "yes" || res.Header.Get("Content-Type") != "text/plain" ||
		res.Header.Get(headerRequestID) == "" || res.Header.Get(headerAPIGWID) == "" {
		t.Fatalf("mock: %d %q %v", res.StatusCode, body, res.Header)
	}
	// A body is discarded and the connection closed; nil Mock is 200 empty JSON.
	res, body = rawRequest(t, hostOf(g.URL()), "POST /v1/empty HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n\r\nabc")
	if res.StatusCode != 200 || body != "" || res.Header.Get("Content-Type") != "application/json" || !res.Close {
		t.Fatalf("empty mock: %d %q %v close=%v", res.StatusCode, body, res.Header, res.Close)
	}
	// HEAD gets no body.
	req, _ := http.NewRequest(http.MethodHead, g.InvokeURL()+"/empty", nil)
	if res, _ := do(t, req); res.StatusCode != 200 {
		t.Fatalf("HEAD: %d", res.StatusCode)
	}
}

func TestMockIntegrationIsAuthorized(t *testing.T) {
	js := newJWKSServer(t)
	js.setKey("k1", testKey1())
	g := startGateway(t, Config{
		Authorizer: AuthorizerConfig{Issuer: testIssuer, JWKSURL: js.URL()},
		Resources: []Resource{{Path: "/m", Methods: []Method{
			mockMethod(http.MethodGet, AuthCognito, &MockResponse{Body: `{"ok":true}`}, scopeBags)}}},
	})
	if res, _ := get(t, g.InvokeURL()+"/m"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %d", res.StatusCode)
	}
}

func TestMockIntegrationValidation(t *testing.T) {
	for name, tc := range map[string]struct {
		in   Integration
		want string
	}{
		"uri on mock":     {Integration{Type: IntegrationMock, URI: "http://x/"}, "integration.type: MOCK takes no uri"},
		"bad status":      {Integration{Type: IntegrationMock, Mock: &MockResponse{StatusCode: 42}}, "integration.mock.statusCode"},
		"framing header":  {Integration{Type: IntegrationMock, Mock: &MockResponse{Headers: map[string]string{"Content-Length": "1"}}}, "integration.mock.headers.Content-Length: is set by the gateway"},
		"header injected": {Integration{Type: IntegrationMock, Mock: &MockResponse{Headers: map[string]string{"X": "a\r\nb"}}}, "integration.mock.headers.X: value must not contain"},
		"mock on proxy":   {Integration{Type: IntegrationHTTPProxy, URI: "http://x/", Mock: &MockResponse{}}, "integration.mock: only allowed with type MOCK"},
		"unknown type":    {Integration{Type: "HTTP"}, `integration.type: must be HTTP_PROXY or MOCK, got "HTTP"`},
	} {
		cfg := Config{Listen: "127.0.0.1:0", Stage: "v1", Resources: []Resource{{Path: "/x", Methods: []Method{{HTTPMethod: "GET", Authorization: AuthNone, Integration: tc.in}}}}}
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), "resources[0].methods[0]."+tc.want) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A method whose authorizer reads another header (AWS identitySource).
func TestIdentityHeader(t *testing.T) {
	js := newJWKSServer(t)
	js.setKey("k1", testKey1())
	be := newEchoBackend(t)
	m := proxyMethod(http.MethodGet, AuthCognito, be.URL+"/", scopeBags)
	m.IdentityHeader = "X-Token"
	g := startGateway(t, Config{
		Authorizer: AuthorizerConfig{Issuer: testIssuer, JWKSURL: js.URL()},
		Resources:  []Resource{{Path: "/t", Methods: []Method{m}}},
	})
	tok := signToken(t, testKey1(), "k1", tokenClaims(time.Now(), scopeBags))
	if res, _ := get(t, g.InvokeURL()+"/t", "Authorization", "Bearer "+tok); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("token in Authorization: %d", res.StatusCode)
	}
	if res, body := get(t, g.InvokeURL()+"/t", "X-Token", tok); res.StatusCode != http.StatusOK {
		t.Errorf("token in X-Token: %d %s", res.StatusCode, body)
	}
	bad := Config{Listen: "127.0.0.1:0", Stage: "v1", Resources: []Resource{{Path: "/t", Methods: []Method{
		{HTTPMethod: "GET", Authorization: AuthNone, IdentityHeader: "X-Token", Integration: Integration{Type: IntegrationMock}},
		{HTTPMethod: "POST", Authorization: AuthCognito, IdentityHeader: "Host", Integration: Integration{Type: IntegrationMock}},
	}}}, Authorizer: AuthorizerConfig{Issuer: testIssuer, JWKSURL: "http://127.0.0.1/j"}}
	err := bad.Validate()
	for _, want := range []string{"methods[0].identityHeader: only allowed with authorization COGNITO_USER_POOLS", `methods[1].identityHeader: "Host" is not a header`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %s", err, want)
		}
	}
}
