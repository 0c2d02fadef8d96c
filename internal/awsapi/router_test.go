package awsapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// recordingService answers "served <body>" and records auth errors.
type recordingService struct{ authCodes []string }

func (s *recordingService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	_, _ = w.Write(append([]byte("served "), b...))
}

func (s *recordingService) WriteAuthError(w http.ResponseWriter, _ *http.Request, status int, code, msg string) {
	s.authCodes = append(s.authCodes, code)
	w.WriteHeader(status)
	_, _ = w.Write([]byte(code + ": " + msg))
}

func newTestRouter(t *testing.T) (*Router, map[string]*recordingService) {
	t.Helper()
	svcs := map[string]*recordingService{ECS: {}, CognitoIDP: {}, ELBv2: {}, APIGateway: {}}
	services := Services{}
	for k, v := range svcs {
		services[k] = v
	}
	rt, err := NewRouter(Config{Services: services, Verifier: &Verifier{Credentials: testCreds, Region: "eu-west-1"},
		Next: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("control api")) }), MaxBody: 1 << 10})
	if err != nil {
		t.Fatal(err)
	}
	return rt, svcs
}

func sign(t *testing.T, r *http.Request, body, service string) {
	t.Helper()
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: testCreds.AccessKeyID, SecretAccessKey: testCreds.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), service, "eu-west-1", time.Now()); err != nil {
		t.Fatal(err)
	}
}

func TestRouterDispatch(t *testing.T) {
	rt, _ := newTestRouter(t)
	for _, tc := range []struct {
		name, method, path, body string
		headers                  map[string]string
		signFor                  string
		want                     string
		status                   int
	}{
		{name: "control api", method: "GET", path: "/ecs/services", headers: map[string]string{"Authorization": "Bearer x"}, want: "control api", status: 200},
		{name: "console", method: "GET", path: "/", want: "control api", status: 200},
		{name: "signed ecs", method: "POST", path: "/", body: "{}", signFor: ECS, headers: map[string]string{"X-Amz-Target": ECSTargetPrefix + "ListClusters"},
			want: "served {}", status: 200},
		{name: "signed elbv2 form", method: "POST", path: "/", body: "Action=DescribeLoadBalancers&Version=2015-12-01", signFor: ELBv2,
			headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, want: "served Action=DescribeLoadBalancers&Version=2015-12-01", status: 200},
		{name: "unsigned ecs", method: "POST", path: "/", body: "{}", headers: map[string]string{"X-Amz-Target": ECSTargetPrefix + "ListClusters"},
			want: "MissingAuthenticationTokenException: Missing Authentication Token", status: 400},
		{name: "unsigned cognito", method: "POST", path: "/", body: "{}", headers: map[string]string{"X-Amz-Target": CognitoTargetPrefix + "ListUserPools"},
			want: "MissingAuthenticationTokenException: Missing Authentication Token", status: 400},
		{name: "unsigned elbv2 form", method: "POST", path: "/", body: "Action=DescribeTargetHealth",
			headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, want: "MissingAuthenticationToken: Missing Authentication Token", status: 403},
		{name: "unsigned elbv2 query", method: "GET", path: "/?Action=DescribeLoadBalancers", want: "MissingAuthenticationToken: Missing Authentication Token", status: 403},
		{name: "unsigned apigateway", method: "GET", path: "/restapis", want: "MissingAuthenticationTokenException: Missing Authentication Token", status: 403},
		{name: "bearer on an aws call", method: "GET", path: "/restapis/abc", headers: map[string]string{"Authorization": "Bearer x"},
			want: "IncompleteSignatureException: Unsupported authorization type", status: 403},
		{name: "signed for another service", method: "POST", path: "/", body: "{}", signFor: "s3",
			headers: map[string]string{"X-Amz-Target": ECSTargetPrefix + "ListClusters"},
			want:    "InvalidSignatureException: Credential should be scoped to correct service: 'ecs'. ", status: 400},
		{name: "signed for another service, no shape", method: "GET", path: "/x", signFor: "s3", want: `{"message":"portway does not serve the AWS service \"s3\"`, status: 400},
		{name: "signed ecs, wrong key, query protocol words", method: "POST", path: "/", body: "Action=X", signFor: ELBv2,
			headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Test-Tamper": "1"},
			want:    "SignatureDoesNotMatch: The request signature", status: 403},
		{name: "body too large", method: "POST", path: "/", body: strings.Repeat("x", 2<<10), signFor: ECS,
			headers: map[string]string{"X-Amz-Target": ECSTargetPrefix + "ListClusters"}, want: "request body over 1024 bytes", status: 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "http://127.0.0.1:9999"+tc.path, strings.NewReader(tc.body))
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			if tc.signFor != "" {
				sign(t, r, tc.body, tc.signFor)
			}
			if r.Header.Get("X-Test-Tamper") != "" {
				r.Body = io.NopCloser(strings.NewReader(tc.body + "&more"))
			}
			w := httptest.NewRecorder()
			rt.ServeHTTP(w, r)
			if w.Code != tc.status || !strings.HasPrefix(w.Body.String(), tc.want) {
				t.Errorf("%d %q, want %d %q", w.Code, w.Body.String(), tc.status, tc.want)
			}
		})
	}
}

func TestJSONService(t *testing.T) {
	type in struct {
		Name  string `json:"name"`
		Count *int   `json:"count"`
	}
	s := &JSONService{TargetPrefix: "Svc.", InternalError: "ServerException", Operations: map[string]Operation{
		"Echo": func(_ context.Context, body []byte) (any, error) {
			var v in
			if err := DecodeInput(body, &v, "InvalidParameterException"); err != nil {
				return nil, err
			}
			if v.Name == "fail" {
				return nil, io.ErrUnexpectedEOF
			}
			return map[string]any{"name": v.Name, "at": Epoch(time.UnixMilli(1765076400123))}, nil
		},
	}}
	for _, tc := range []struct {
		name, target, ctype, body string
		status                    int
		want                      string
	}{
		{"ok", "Svc.Echo", JSONContentType, `{"name":"a"}`, 200, `{"at":1765076400.123,"name":"a"}`},
		{"empty body", "Svc.Echo", JSONContentType, ``, 200, `{"at":1765076400.123,"name":""}`},
		{"unknown operation", "Svc.Nope", JSONContentType, `{}`, 400, `{"__type":"UnknownOperationException","message":"unknown operation \"Svc.Nope\"; portway serves Echo"}`},
		{"other prefix", "Other.Echo", JSONContentType, `{}`, 400, `{"__type":"UnknownOperationException"`},
		{"bad json", "Svc.Echo", JSONContentType, `{"name":`, 400, `{"__type":"SerializationException"`},
		{"two values", "Svc.Echo", JSONContentType, `{} {}`, 400, `{"__type":"SerializationException"`},
		{"wrong type", "Svc.Echo", JSONContentType, `{"count":"x"}`, 400, `{"__type":"InvalidParameterException","message":"count: must be a integer, not a JSON string"}`},
		{"unknown member", "Svc.Echo", JSONContentType, `{"colour":1}`, 400, `{"__type":"InvalidParameterException","message":"colour: not a member portway supports for this operation"}`},
		{"content type", "Svc.Echo", "text/plain", `{}`, 400, `{"__type":"SerializationException"`},
		{"internal", "Svc.Echo", JSONContentType, `{"name":"fail"}`, 500, `{"__type":"ServerException"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", bytes.NewReader([]byte(tc.body)))
			r.Header.Set("X-Amz-Target", tc.target)
			r.Header.Set("Content-Type", tc.ctype)
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if w.Code != tc.status || !strings.HasPrefix(w.Body.String(), tc.want) {
				t.Errorf("%d %s, want %d %s", w.Code, w.Body.String(), tc.status, tc.want)
			}
			if w.Header().Get("Content-Type") != JSONContentType || w.Header().Get("x-amzn-RequestId") == "" {
				t.Errorf("headers %v", w.Header())
			}
			if tc.status != 200 && !json.Valid(w.Body.Bytes()) {
				t.Errorf("error body is not JSON: %s", w.Body)
			}
		})
	}
}

func TestPage(t *testing.T) {
	items := []int{1, 2, 3, 4, 5}
	two := 2
	p, next, err := Page(items, &two, 100, "", "max", "tok", "V")
	if err != nil || len(p) != 2 || next == nil || *next != "2" {
		t.Fatalf("%v %v %v", p, next, err)
	}
	p, next, err = Page(items, &two, 100, "4", "max", "tok", "V")
	if err != nil || len(p) != 1 || p[0] != 5 || next != nil {
		t.Fatalf("%v %v %v", p, next, err)
	}
	if _, _, err := Page(items, nil, 100, "x", "max", "tok", "V"); err == nil || !strings.Contains(err.Error(), "tok:") {
		t.Errorf("bad token: %v", err)
	}
	zero := 0
	if _, _, err := Page(items, &zero, 100, "", "max", "tok", "V"); err == nil || !strings.Contains(err.Error(), "max:") {
		t.Errorf("bad limit: %v", err)
	}
}
