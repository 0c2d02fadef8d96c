package gateway

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/portway/portway/internal/h1"
)

// awsDefaults: status (AWS documentation), x-amzn-ErrorType and message of
// every gateway response type when nothing is overridden.
var awsDefaults = []struct {
	typ, errorType, message string
	status                  int
}{
	{RespAccessDenied, "AccessDeniedException", "User is not authorized to access this resource", 403},
	{RespAPIConfigurationError, "InternalServerErrorException", "Internal server error", 500},
	{RespAuthorizerConfigError, "AuthorizerConfigurationException", "Internal server error", 500},
	{RespAuthorizerFailure, "AuthorizerFailureException", "Internal server error", 500},
	{RespBadRequestBody, "BadRequestException", "Invalid request body", 400},
	{RespBadRequestParameters, "BadRequestException", "Invalid request path", 400},
	{RespDefault4XX, "BadRequestException", "Bad Request", 400},
	{RespDefault5XX, "InternalServerErrorException", "Internal server error", 500},
	{RespExpiredToken, "ExpiredTokenException", "The security token included in the request is expired", 403},
	{RespIntegrationFailure, "InternalServerErrorException", "Internal server error", 504},
	{RespIntegrationTimeout, "InternalServerErrorException", "Endpoint request timed out", 504},
	{RespInvalidAPIKey, "ForbiddenException", "Forbidden", 403},
	{RespInvalidSignature, "InvalidSignatureException", "Forbidden", 403},
	{RespMissingAuthToken, "MissingAuthenticationTokenException", "Missing Authentication Token", 403},
	{RespQuotaExceeded, "LimitExceededException", "Limit Exceeded", 429},
	{RespRequestTooLarge, "RequestTooLargeException", "Request Too Long", 413},
	{RespResourceNotFound, "NotFoundException", "Not Found", 404},
	{RespThrottled, "TooManyRequestsException", "Too Many Requests", 429},
	{RespUnauthorized, "UnauthorizedException", "Unauthorized", 401},
	{RespUnsupportedMediaType, "UnsupportedMediaTypeException", "Unsupported Media Type", 415},
	{RespWAFFiltered, "ForbiddenException", "Forbidden", 403},
}

func TestEveryResponseTypeDefault(t *testing.T) {
	var types []string
	rs := resolveResponses(nil)
	for _, d := range awsDefaults {
		types = append(types, d.typ)
		g := &Gateway{responses: rs, now: time.Now}
		st := &reqState{requestID: "rid", path: "/v1/x"}
		res, body := renderError(t, g, st, newGWError(d.typ, "test"))
		want := fmt.Sprintf(`{"message":%q}`, d.message)
		if res.StatusCode != d.status || body != want || res.Header.Get(headerErrorType) != d.errorType ||
			res.Header.Get("Content-Type") != "application/json" || res.Header.Get("Content-Length") != fmt.Sprint(len(want)) {
			t.Errorf("%s: %d %s %v", d.typ, res.StatusCode, body, res.Header)
		}
		if st.errType != d.typ {
			t.Errorf("%s: logged as %q", d.typ, st.errType)
		}
	}
	all := ResponseTypes()
	if !sort.StringsAreSorted(all) || strings.Join(all, ",") != strings.Join(types, ",") {
		t.Fatalf("ResponseTypes() = %v, table has %v", all, types)
	}
}

// TestResponseFallbacks: a type without its own override takes DEFAULT_4XX or
// DEFAULT_5XX by its status class (status, headers and body), as in AWS.
func TestResponseFallbacks(t *testing.T) {
	rs := resolveResponses(map[string]ResponseTemplate{
		RespDefault4XX:   {StatusCode: 418, Headers: map[string]string{"X-Class": "4xx"}, Body: `4:$context.error.responseType:$context.error.message`},
		RespDefault5XX:   {Headers: map[string]string{"X-Class": "5xx", "content-type": "text/plain"}, Body: `5:$context.error.responseType`},
		RespUnauthorized: {Headers: map[string]string{"WWW-Authenticate": "Bearer"}},
	})
	for _, d := range awsDefaults {
		rr := rs[d.typ]
		body := rr.render("", renderContext{})
		switch {
		case d.typ == RespUnauthorized: // own override: default status and body, extra header
			if rr.status != 401 || body != `{"message":"Unauthorized"}` || rr.headers["WWW-Authenticate"] != "Bearer" || rr.headers["X-Class"] != "" {
				t.Errorf("%s: %+v %s", d.typ, rr, body)
			}
		case d.status < 500:
			if rr.status != 418 || body != "4:"+d.typ+":"+d.message || rr.headers["X-Class"] != "4xx" || rr.headers["Content-Type"] != "application/json" {
				t.Errorf("%s: %+v %s", d.typ, rr, body)
			}
		default:
			if rr.status != d.status || body != "5:"+d.typ || rr.headers["X-Class"] != "5xx" || rr.headers["Content-Type"] != "text/plain" {
				t.Errorf("%s: %+v %s", d.typ, rr, body)
			}
		}
		if rr.errorType != d.errorType {
			t.Errorf("%s: errorType %q", d.typ, rr.errorType)
		}
	}
}

// TestEmittedResponses triggers, end to end, every response type the gateway
// emits, with AWS's defaults and with the storage service's shape.
func TestEmittedResponses(t *testing.T) {
	backend := newEchoBackend(t)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	js := newJWKSServer(t)
	js.down.Store(true)
	refused := closedPortURL(t)

	for _, storage := range []bool{false, true} {
		t.Run(fmt.Sprintf("storage=%v", storage), func(t *testing.T) {
			cfg := Config{
				Stages: []Stage{{Name: "v1"}, {Name: "t", Throttle: &ThrottleConfig{RateLimit: 0.001, BurstLimit: 1}}},
				Resources: []Resource{
					anyResource("/ok", backend.URL+"/", 0),
					anyResource("/slow", slow.URL+"/", 100*time.Millisecond),
					anyResource("/refused", refused+"/", 0),
					{Path: "/auth", Methods: []Method{proxyMethod("GET", AuthCognito, backend.URL+"/", scopeBags)}},
				},
				Authorizer: AuthorizerConfig{Issuer: testIssuer, JWKSURL: js.URL()},
			}
			if storage {
				cfg.Responses = StorageResponses()
			}
			g := startGateway(t, cfg)
			addr := hostOf(g.URL())
			unknownKid := "Bearer " + signToken(t, testKey1(), "nope", tokenClaims(time.Now(), scopeBags))
			tests := []struct {
				typ, request string
			}{
				{RespMissingAuthToken, "GET /v1/nope HTTP/1.1\r\n"},
				{RespMissingAuthToken, "DELETE /v1/auth HTTP/1.1\r\n"},
				{RespBadRequestParameters, "GET /v1/bags/../ingests HTTP/1.1\r\n"},
				{RespUnauthorized, "GET /v1/auth HTTP/1.1\r\n"},
				{RespAuthorizerFailure, "GET /v1/auth HTTP/1.1\r\nAuthorization: " + unknownKid + "\r\n"},
				{RespRequestTooLarge, fmt.Sprintf("POST /v1/ok HTTP/1.1\r\nContent-Length: %d\r\n", MaxRequestBodyBytes+1)},
				{RespRequestTooLarge, "GET /v1/ok HTTP/1.1\r\nX-Big: " + strings.Repeat("b", MaxHeaderBytes) + "\r\n"},
				{RespIntegrationTimeout, "GET /v1/slow HTTP/1.1\r\n"},
				{RespAPIConfigurationError, "GET /v1/refused HTTP/1.1\r\n"},
				{"", "GET /t/ok HTTP/1.1\r\n"}, // the only token of the bucket
				{RespThrottled, "GET /t/ok HTTP/1.1\r\n"},
			}
			for _, tt := range tests {
				res, body := rawRequest(t, addr, tt.request+"Host: "+addr+"\r\nConnection: close\r\n\r\n")
				if tt.typ == "" {
					if res.StatusCode != 200 {
						t.Fatalf("%q: %d %s", tt.request, res.StatusCode, body)
					}
					continue
				}
				d := responseDefaults[tt.typ]
				want := fmt.Sprintf(`{"message":%q}`, d.message)
				if storage {
					want = fmt.Sprintf(`{"errorType":"http","httpStatus":%d,"label":%q,"description":%q,"type":"Error"}`, d.status, http.StatusText(d.status), d.message)
				}
				if res.StatusCode != d.status || body != want || res.Header.Get("x-amzn-ErrorType") != d.errorType {
					t.Errorf("%s (%.30q): %d %s %v", tt.typ, tt.request, res.StatusCode, body, res.Header)
				}
				assertGatewayIDs(t, res)
				var m map[string]any
				if err := json.Unmarshal([]byte(body), &m); err != nil {
					t.Errorf("%s: body is not JSON: %s", tt.typ, body)
				}
			}
		})
	}
}

// renderError writes the gateway response for e to a buffer and parses it
// back as a client would.
func renderError(t *testing.T, g *Gateway, st *reqState, e *gwError) (*http.Response, string) {
	t.Helper()
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	r := &request{sc: &h1.ServerConn{RemoteIP: "127.0.0.1"}, method: http.MethodGet, rawPath: "/v1/x"}
	g.writeError(w, r, st, e, false)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(&buf), nil)
	if err != nil {
		t.Fatalf("%s: unreadable response %q: %v", e.typ, buf.String(), err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(body)
}
