package awsapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

var testCreds = Credentials{AccessKeyID: "AKIAABCDEFGHIJKLMNOP", SecretAccessKey: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123"}

// verifyServer answers "ok" or "<failure> <message>" for each request,
// verified as service "ecs" at the given time.
func verifyServer(t *testing.T, now time.Time) *httptest.Server {
	t.Helper()
	v := &Verifier{Credentials: testCreds, Region: "eu-west-1", Now: func() time.Time { return now }}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if e := v.Verify(r, body, "ecs"); e != nil {
			fmt.Fprintf(w, "%d %s", e.Failure, e.Message)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv
}

func send(t *testing.T, req *http.Request) string {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func hashOf(b string) string {
	s := sha256.Sum256([]byte(b))
	return hex.EncodeToString(s[:])
}

type signCase struct {
	name     string
	method   string
	path     string // with raw query
	body     string
	headers  map[string]string
	creds    aws.Credentials
	region   string
	service  string
	signedAt time.Time
	mutate   func(*http.Request) // after signing
	want     string              // "ok" or a prefix of "<failure> <message>"
}

func TestVerifyHeaderSignatures(t *testing.T) {
	now := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	srv := verifyServer(t, now)
	good := aws.Credentials{AccessKeyID: testCreds.AccessKeyID, SecretAccessKey: testCreds.SecretAccessKey}
	fail := func(f AuthFailure) string { return fmt.Sprintf("%d ", f) }
	cases := []signCase{
		{name: "json post", method: "POST", path: "/", body: `{"cluster":"portway"}`,
			headers: map[string]string{"Content-Type": JSONContentType, "X-Amz-Target": ECSTargetPrefix + "ListServices"}, want: "ok"},
		{name: "empty body get", method: "GET", path: "/", want: "ok"},
		{name: "query sorted and encoded", method: "GET", path: "/restapis?b=2&a=x%20y&a=%2B&z=%7E~&empty=", want: "ok"},
		{name: "path with escapes", method: "GET", path: "/restapis/a%20b/c%2Fd/%C3%A9", want: "ok"},
		{name: "path with reserved chars", method: "GET", path: "/a:b@c!$'()*,;=", want: "ok"},
		{name: "header spaces collapsed", method: "POST", path: "/", body: "{}",
			headers: map[string]string{"X-Amz-Target": "  A   B  ", "Content-Type": JSONContentType}, want: "ok"},
		{name: "unsigned payload header", method: "POST", path: "/", body: "x",
			headers: map[string]string{"X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD"}, want: "ok"},
		{name: "content sha256 header", method: "POST", path: "/", body: "xyz",
			headers: map[string]string{"X-Amz-Content-Sha256": hashOf("xyz")}, want: "ok"},
		{name: "content sha256 header wrong", method: "POST", path: "/", body: "xyz",
			headers: map[string]string{"X-Amz-Content-Sha256": hashOf("abc")}, want: fail(FailSignature) + "The provided 'x-amz-content-sha256'"},
		{name: "wrong secret", method: "POST", path: "/", body: "{}",
			creds: aws.Credentials{AccessKeyID: testCreds.AccessKeyID, SecretAccessKey: strings.Repeat("x", 40)},
			want:  fail(FailSignature) + "The request signature we calculated does not match"},
		{name: "unknown key", method: "POST", path: "/", body: "{}",
			creds: aws.Credentials{AccessKeyID: "AKIAZZZZZZZZZZZZZZZZ", SecretAccessKey: testCreds.SecretAccessKey},
			want:  fail(FailUnknownKey) + "The security token included in the request is invalid."},
		{name: "session token", method: "GET", path: "/",
			creds: aws.Credentials{AccessKeyID: testCreds.AccessKeyID, SecretAccessKey: testCreds.SecretAccessKey, SessionToken: "tok"},
			want:  fail(FailUnknownKey) + "The security token included in the request is invalid."},
		{name: "wrong region", region: "us-east-1", method: "GET", path: "/",
			want: fail(FailSignature) + "Credential should be scoped to a valid region, not 'us-east-1'. "},
		{name: "wrong service", service: "s3", method: "GET", path: "/",
			want: fail(FailSignature) + "Credential should be scoped to correct service: 'ecs'. "},
		{name: "14 minutes old", signedAt: now.Add(-14 * time.Minute), method: "GET", path: "/", want: "ok"},
		{name: "16 minutes old", signedAt: now.Add(-16 * time.Minute), method: "GET", path: "/",
			want: fail(FailSignature) + "Signature expired: 20261207T024400Z is now earlier than 20261207T024500Z (20261207T030000Z - 15 min.)"},
		{name: "16 minutes ahead", signedAt: now.Add(16 * time.Minute), method: "GET", path: "/",
			want: fail(FailSignature) + "Signature not yet current: 20261207T031600Z is still later than 20261207T031500Z (20261207T030000Z + 15 min.)"},
		{name: "body changed", method: "POST", path: "/", body: `{"a":1}`,
			mutate: func(r *http.Request) { r.Body = io.NopCloser(strings.NewReader(`{"a":2}`)) },
			want:   fail(FailSignature) + "The request signature"},
		{name: "signed header changed", method: "POST", path: "/", body: "{}",
			headers: map[string]string{"X-Amz-Target": ECSTargetPrefix + "ListServices"},
			mutate:  func(r *http.Request) { r.Header.Set("X-Amz-Target", ECSTargetPrefix+"UpdateService") },
			want:    fail(FailSignature) + "The request signature"},
		{name: "query changed", method: "GET", path: "/?a=1",
			mutate: func(r *http.Request) { r.URL.RawQuery = "a=2" }, want: fail(FailSignature) + "The request signature"},
		{name: "path changed", method: "GET", path: "/x",
			mutate: func(r *http.Request) { r.URL.Path = "/y" }, want: fail(FailSignature) + "The request signature"},
		{name: "method changed", method: "GET", path: "/",
			mutate: func(r *http.Request) { r.Method = "DELETE" }, want: fail(FailSignature) + "The request signature"},
		{name: "signature tampered", method: "GET", path: "/",
			mutate: func(r *http.Request) {
				a := r.Header.Get("Authorization")
				last := a[len(a)-1]
				repl := byte('0')
				if last == '0' {
					repl = '1'
				}
				r.Header.Set("Authorization", a[:len(a)-1]+string(repl))
			}, want: fail(FailSignature) + "The request signature"},
		{name: "no date", method: "GET", path: "/", mutate: func(r *http.Request) { r.Header.Del("X-Amz-Date") },
			want: fail(FailIncomplete) + "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."},
		{name: "no signature", method: "GET", path: "/", mutate: func(r *http.Request) {
			a := r.Header.Get("Authorization")
			r.Header.Set("Authorization", a[:strings.Index(a, ", Signature=")])
		}, want: fail(FailIncomplete) + "Authorization header requires 'Signature' parameter."},
		{name: "no authorization", method: "GET", path: "/", mutate: func(r *http.Request) { r.Header.Del("Authorization") },
			want: fail(FailMissing) + "Missing Authentication Token"},
		{name: "other scheme", method: "GET", path: "/", mutate: func(r *http.Request) { r.Header.Set("Authorization", "Bearer abc") },
			want: fail(FailIncomplete) + "Unsupported authorization type"},
		{name: "bad credential scope", method: "GET", path: "/", mutate: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/aws4_request", "/aws5_request", 1))
		}, want: fail(FailIncomplete) + "Credential should be scoped to a valid region, service and date"},
		{name: "scope date differs", method: "GET", path: "/", mutate: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/20261207/", "/20261206/", 1))
		}, want: fail(FailSignature) + "Date in Credential scope does not match"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			creds := tc.creds
			if creds.AccessKeyID == "" {
				creds = good
			}
			region, service, at := "eu-west-1", "ecs", now
			if tc.region != "" {
				region = tc.region
			}
			if tc.service != "" {
				service = tc.service
			}
			if !tc.signedAt.IsZero() {
				at = tc.signedAt
			}
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, body)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			payload := hashOf(tc.body)
			if v := tc.headers["X-Amz-Content-Sha256"]; v != "" {
				payload = v
			}
			if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, payload, service, region, at); err != nil {
				t.Fatal(err)
			}
			if tc.mutate != nil {
				tc.mutate(req)
			}
			got := send(t, req)
			if tc.want == "ok" && got != "ok" || tc.want != "ok" && !strings.HasPrefix(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestVerifyPresigned(t *testing.T) {
	now := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	srv := verifyServer(t, now)
	good := aws.Credentials{AccessKeyID: testCreds.AccessKeyID, SecretAccessKey: testCreds.SecretAccessKey}
	presign := func(at time.Time, expires time.Duration, creds aws.Credentials) string {
		req, _ := http.NewRequest("GET", srv.URL+"/restapis?limit=5", nil)
		q := req.URL.Query()
		q.Set("X-Amz-Expires", fmt.Sprint(int(expires.Seconds())))
		req.URL.RawQuery = q.Encode()
		u, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, unsignedPayload, "ecs", "eu-west-1", at)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	get := func(u string) string {
		req, _ := http.NewRequest("GET", u, nil)
		return send(t, req)
	}
	if got := get(presign(now.Add(-time.Minute), 5*time.Minute, good)); got != "ok" {
		t.Errorf("valid presigned URL: %q", got)
	}
	if got := get(presign(now.Add(-10*time.Minute), 5*time.Minute, good)); !strings.HasPrefix(got, fmt.Sprintf("%d Signature expired", FailSignature)) {
		t.Errorf("expired presigned URL: %q", got)
	}
	bad := good
	bad.SecretAccessKey = strings.Repeat("y", 40)
	if got := get(presign(now, 5*time.Minute, bad)); !strings.HasPrefix(got, fmt.Sprintf("%d The request signature", FailSignature)) {
		t.Errorf("presigned with a wrong secret: %q", got)
	}
	u := presign(now, 5*time.Minute, good)
	if got := get(strings.Replace(u, "limit=5", "limit=6", 1)); !strings.HasPrefix(got, fmt.Sprintf("%d The request signature", FailSignature)) {
		t.Errorf("presigned URL with a changed parameter: %q", got)
	}
}

func TestURIEncode(t *testing.T) {
	for in, want := range map[string]string{
		"/a b/c":   "/a%20b/c",
		"a+b=c&d":  "a%2Bb%3Dc%26d",
		"~-._AZaz": "~-._AZaz",
		"é":        "%C3%A9",
	} {
		if got := uriEncode(in, false); got != want {
			t.Errorf("uriEncode(%q) = %q, want %q", in, got, want)
		}
	}
	if got := uriEncode("a/b", true); got != "a%2Fb" {
		t.Errorf("uriEncode with slash = %q", got)
	}
}

// FuzzVerify: no Authorization header or query, however malformed, makes
// the verifier panic or accept.
func FuzzVerify(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIAABCDEFGHIJKLMNOP/20261207/eu-west-1/ecs/aws4_request, SignedHeaders=host;x-amz-date, Signature=00", "", "20261207T030000Z")
	f.Add("AWS4-HMAC-SHA256 Credential=/, SignedHeaders=, Signature=", "", "")
	f.Add("AWS4-HMAC-SHA256 =,=,", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a/b/c/d/aws4_request", "x")
	f.Add("", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAABCDEFGHIJKLMNOP/20261207/eu-west-1/ecs/aws4_request&X-Amz-Date=20261207T030000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00", "")
	v := &Verifier{Credentials: testCreds, Region: "eu-west-1", Now: func() time.Time { return time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC) }}
	f.Fuzz(func(t *testing.T, authz, query, date string) {
		r := httptest.NewRequest("POST", "http://127.0.0.1:1/", strings.NewReader("{}"))
		r.URL.RawQuery = query
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		if date != "" {
			r.Header.Set("X-Amz-Date", date)
		}
		if err := v.Verify(r, []byte("{}"), "ecs"); err == nil {
			t.Fatalf("accepted %q %q %q", authz, query, date)
		}
		_, _ = SigningService(r)
	})
}
