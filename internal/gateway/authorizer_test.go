package gateway

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	gjwt "github.com/golang-jwt/jwt/v5"
)

type authFixture struct {
	g     *Gateway
	jwks  *jwksServer
	clock *fakeClock
	logs  *logBuffer
}

func newAuthFixture(t *testing.T) *authFixture {
	t.Helper()
	backend := newEchoBackend(t)
	js := newJWKSServer(t)
	js.setKey("k1", testKey1())
	clock := newFakeClock()
	logs := &logBuffer{}
	g := startGateway(t, Config{
		Resources: []Resource{
			{Path: "/bags/{proxy+}", Methods: []Method{proxyMethod("ANY", AuthCognito, backend.URL+"/bags/{proxy}", scopeBags)}},
			{Path: "/ingests", Methods: []Method{proxyMethod("ANY", AuthCognito, backend.URL+"/ingests", scopeBags, scopeIngests)}},
			{Path: "/any-scope", Methods: []Method{proxyMethod("GET", AuthCognito, backend.URL+"/any")}},
		},
		Authorizer: AuthorizerConfig{Issuer: testIssuer, JWKSURL: js.URL()},
		Now:        clock.Now,
		Logger:     logs.logger(),
	})
	return &authFixture{g: g, jwks: js, clock: clock, logs: logs}
}

func (f *authFixture) call(t *testing.T, path, authz string) (*http.Response, string) {
	t.Helper()
	if authz == "" {
		return get(t, f.g.URL()+path)
	}
	return get(t, f.g.URL()+path, "Authorization", authz)
}

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestAuthorizerOutcomes(t *testing.T) {
	f := newAuthFixture(t)
	now := f.clock.Now()
	k1 := testKey1()
	valid := signToken(t, k1, "k1", tokenClaims(now, scopeBags))
	with := func(edit func(c map[string]any)) string {
		c := tokenClaims(now, scopeBags)
		edit(c)
		return signToken(t, k1, "k1", c)
	}

	// A second, independent JWT library mints the odd ones.
	gc := func(c map[string]any) gjwt.MapClaims { return gjwt.MapClaims(c) }
	noneTok := gjwt.NewWithClaims(gjwt.SigningMethodNone, gc(tokenClaims(now, scopeBags)))
	noneTok.Header["kid"] = "k1"
	algNone, err := noneTok.SignedString(gjwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&k1.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	hsTok := gjwt.NewWithClaims(gjwt.SigningMethodHS256, gc(tokenClaims(now, scopeBags)))
	hsTok.Header["kid"] = "k1"
	hs256PubKey, err := hsTok.SignedString(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	rsTok := gjwt.NewWithClaims(gjwt.SigningMethodRS256, gc(tokenClaims(now, scopeIngests)))
	rsTok.Header["kid"] = "k1"
	otherLibValid, err := rsTok.SignedString(k1)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(valid, ".")
	edited := parts[0] + "." + b64(tokenClaims(now, scopeBags, scopeIngests)) + "." + parts[2]
	noKid := parts[0][:0] + b64(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." + parts[1] + "." + parts[2]

	// A genuine Cognito ID token: aud instead of client_id/scope, user claims.
	idToken := signToken(t, k1, "k1", map[string]any{
		"sub": "5b1c3f9e-0000-4000-8000-000000000001", "aud": testClientID, "token_use": "id",
		"cognito:username": "alice", "email": "alice@example.org", "email_verified": true,
		"iss": testIssuer, "iat": now.Unix(), "auth_time": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"event_id": "e-1", "origin_jti": "o-1", "jti": "j-1",
	})
	// ... and one that also carries the scope claim, which must not help it.
	idWithScope := with(func(c map[string]any) { c["token_use"] = "id"; c["aud"] = testClientID })
	truncated := valid[:len(valid)-10]

	const unauthorized = `{"message":"Unauthorized"}`
	tests := []struct {
		name, path, authz string
		status            int
		body              string // exact error body; "" for 200
	}{
		{"valid bearer", "/v1/bags/x", "Bearer " + valid, 200, ""},
		{"valid bare", "/v1/bags/x", valid, 200, ""},
		{"valid lowercase bearer", "/v1/bags/x", "bearer " + valid, 200, ""},
		{"one of several scopes", "/v1/ingests", "Bearer " + otherLibValid, 200, ""},
		// A method without scopes takes ID tokens only, as AWS's Cognito
		// authorizer does: an access token (all client credentials give) is 401.
		{"no scopes configured, access token", "/v1/any-scope", valid, 401, unauthorized},
		{"missing", "/v1/bags/x", "", 401, unauthorized},
		{"bearer only", "/v1/bags/x", "Bearer ", 401, unauthorized},
		{"malformed", "/v1/bags/x", "Bearer not-a-jwt", 401, unauthorized},
		{"three garbage parts", "/v1/bags/x", "a.b.c", 401, unauthorized},
		{"bad signature", "/v1/bags/x", signToken(t, testKeyForged(), "k1", tokenClaims(now, scopeBags)), 401, unauthorized},
		{"alg none", "/v1/bags/x", algNone, 401, unauthorized},
		{"HS256 with public key", "/v1/bags/x", hs256PubKey, 401, unauthorized},
		{"edited claims", "/v1/bags/x", edited, 401, unauthorized},
		{"no kid", "/v1/bags/x", noKid, 401, unauthorized},
		{"unknown kid", "/v1/bags/x", signToken(t, k1, "k9", tokenClaims(now, scopeBags)), 401, unauthorized},
		{"wrong issuer", "/v1/bags/x", with(func(c map[string]any) { c["iss"] = "http://127.0.0.1:9999/eu-west-1_portway" }), 401, unauthorized},
		{"issuer trailing slash", "/v1/bags/x", with(func(c map[string]any) { c["iss"] = testIssuer + "/" }), 401, unauthorized},
		{"expired", "/v1/bags/x", with(func(c map[string]any) { c["exp"] = now.Add(-time.Second).Unix() }), 401, `{"message":"The incoming token has expired"}`},
		{"expires now", "/v1/bags/x", with(func(c map[string]any) { c["exp"] = now.Unix() }), 401, `{"message":"The incoming token has expired"}`},
		{"no exp", "/v1/bags/x", with(func(c map[string]any) { delete(c, "exp") }), 401, unauthorized},
		{"not yet valid", "/v1/bags/x", with(func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() }), 401, unauthorized},
		{"id token", "/v1/bags/x", with(func(c map[string]any) { c["token_use"] = "id" }), 401, unauthorized},
		{"id token without aud, no scopes needed", "/v1/any-scope", with(func(c map[string]any) { c["token_use"] = "id" }), 401, unauthorized},
		{"ID token shape", "/v1/bags/x", "Bearer " + idToken, 401, unauthorized},
		{"ID token shape, no scopes needed", "/v1/any-scope", "Bearer " + idToken, 200, ""},
		{"ID token with scope claim", "/v1/bags/x", idWithScope, 401, unauthorized},
		{"truncated signature", "/v1/bags/x", truncated, 401, unauthorized},
		{"two tokens", "/v1/bags/x", "Bearer " + valid + " " + valid, 401, unauthorized},
		{"no token_use", "/v1/bags/x", with(func(c map[string]any) { delete(c, "token_use") }), 401, unauthorized},
		{"missing scope", "/v1/bags/x", otherLibValid, 401, unauthorized},
		{"scope prefix only", "/v1/bags/x", with(func(c map[string]any) { c["scope"] = scopeBags + "x" }), 401, unauthorized},
		{"empty scope", "/v1/bags/x", with(func(c map[string]any) { c["scope"] = "" }), 401, unauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := f.call(t, tt.path, tt.authz)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d; body %s", res.StatusCode, tt.status, body)
			}
			if tt.status == 200 {
				e := decodeEcho(t, body)
				if e.Header.Get("Authorization") != tt.authz {
					t.Fatalf("Authorization not forwarded as sent: %q", e.Header.Get("Authorization"))
				}
				return
			}
			if body != tt.body {
				t.Fatalf("body %s, want %s", body, tt.body)
			}
			if res.Header.Get("x-amzn-ErrorType") != "UnauthorizedException" {
				t.Fatalf("x-amzn-ErrorType %q", res.Header.Get("x-amzn-ErrorType"))
			}
		})
	}

	// Only verified tokens were cached; no access log line carries a token.
	f.g.auth.mu.Lock()
	n := len(f.g.auth.cache)
	f.g.auth.mu.Unlock()
	// valid, otherLibValid, the two genuine access tokens lacking the
	// scope and the two ID tokens (scopes and the kind of token a method
	// takes are checked per method, after the cache).
	if n != 6 {
		t.Fatalf("cache has %d entries, want 6", n)
	}
	logs := f.logs.String()
	if strings.Contains(logs, parts[1]) || strings.Contains(logs, parts[2]) || strings.Contains(logs, "eyJ") {
		t.Fatal("a token leaked into the logs")
	}
	for _, line := range f.logs.accessLines(t) {
		if line["status"] == float64(200) && line["client_id"] != testClientID {
			t.Fatalf("access line without client_id: %v", line)
		}
	}
}

func TestAuthorizerUnknownKidRefetch(t *testing.T) {
	f := newAuthFixture(t)
	start := f.clock.Now()
	tok1 := signToken(t, testKey1(), "k1", tokenClaims(start, scopeBags))
	tok2 := signToken(t, testKey2(), "k2", tokenClaims(start, scopeBags))

	expect := func(tok string, status int, fetches int64) {
		t.Helper()
		res, body := f.call(t, "/v1/bags/x", tok)
		if res.StatusCode != status {
			t.Fatalf("status %d, want %d (%s)", res.StatusCode, status, body)
		}
		if got := f.jwks.fetches.Load(); got != fetches {
			t.Fatalf("JWKS fetched %d times, want %d", got, fetches)
		}
	}
	expect(tok1, 200, 1) // first use fetches the key set
	expect(tok2, 401, 1) // unknown kid, but fetched less than 5 s ago
	f.clock.Advance(6 * time.Second)
	expect(tok2, 401, 2) // refetched; still unknown
	f.jwks.setKey("k2", testKey2())
	expect(tok2, 401, 2) // the key appeared, but no refetch within 5 s
	f.clock.Advance(5 * time.Second)
	expect(tok2, 200, 3) // refetched; the new key verifies
	expect(tok2, 200, 3) // cached
	expect(tok1, 200, 3)
}

func TestAuthorizerCache(t *testing.T) {
	f := newAuthFixture(t)
	now := f.clock.Now()
	c := tokenClaims(now, scopeBags)
	c["exp"] = now.Add(10 * time.Minute).Unix()
	tok := signToken(t, testKey1(), "k1", c)
	if res, body := f.call(t, "/v1/bags/x", tok); res.StatusCode != 200 {
		t.Fatalf("status %d %s", res.StatusCode, body)
	}
	// With the key endpoint gone and the keys forgotten, the cached token still works.
	f.jwks.down.Store(true)
	f.g.auth.keys.mu.Lock()
	f.g.auth.keys.keys = nil
	f.g.auth.keys.mu.Unlock()
	if res, body := f.call(t, "/v1/bags/x", tok); res.StatusCode != 200 {
		t.Fatalf("cached token: status %d %s", res.StatusCode, body)
	}
	// ... until it expires, by the injected clock.
	f.clock.Advance(10 * time.Minute)
	res, body := f.call(t, "/v1/bags/x", tok)
	if res.StatusCode != 401 || body != `{"message":"The incoming token has expired"}` {
		t.Fatalf("expired cached token: %d %s", res.StatusCode, body)
	}
	f.g.auth.mu.Lock()
	n := len(f.g.auth.cache)
	f.g.auth.mu.Unlock()
	if n != 0 {
		t.Fatalf("expired token still cached (%d entries)", n)
	}
	// A new token now needs the keys, which are unavailable: authorizer failure.
	f.clock.Advance(time.Minute)
	tok2 := signToken(t, testKey1(), "k1", tokenClaims(f.clock.Now(), scopeBags))
	res, body = f.call(t, "/v1/bags/x", tok2)
	if res.StatusCode != 500 || body != `{"message":"Internal server error"}` || res.Header.Get("x-amzn-ErrorType") != "AuthorizerFailureException" {
		t.Fatalf("keys unavailable: %d %s %v", res.StatusCode, body, res.Header)
	}
}

func TestAuthorizerCacheBound(t *testing.T) {
	clock := newFakeClock()
	a := newAuthorizer(testIssuer, nil, clock.Now, 10)
	for i := range 25 {
		a.store([32]byte{byte(i)}, &principal{exp: clock.Now().Add(time.Hour)})
		if len(a.cache) > 10 {
			t.Fatalf("cache grew to %d", len(a.cache))
		}
	}
	a.store([32]byte{99}, &principal{exp: clock.Now()}) // already expired: not stored
	if a.cached([32]byte{99}) != nil {
		t.Fatal("expired principal cached")
	}
}

func TestJWKSFetchBounds(t *testing.T) {
	clock := newFakeClock()
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"keys":[`))
		_, _ = w.Write([]byte(strings.Repeat(" ", maxJWKSBytes)))
	}))
	t.Cleanup(big.Close)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	mixed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"keys":[{"kty":"weird","kid":"x"},{"kty":"oct","kid":"h","k":"c2VjcmV0"},` + mustJWK(t, "k1") + `]}`))
	}))
	t.Cleanup(mixed.Close)

	client := &http.Client{Transport: newTransport(nil)}
	tests := []struct {
		name, url string
		wantErr   error
	}{
		{"oversized body", big.URL, errJWKSUnavailable},
		{"hanging server", slow.URL, errJWKSUnavailable},
		{"unusable keys skipped", mixed.URL, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := newJWKSCache(tt.url, client, clock.Now, 5*time.Second, 200*time.Millisecond)
			_, err := j.key(context.Background(), "k1")
			if !errors.Is(err, tt.wantErr) && !(tt.wantErr == nil && err == nil) {
				t.Fatalf("key() error %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil {
				if _, err := j.key(context.Background(), "h"); !errors.Is(err, errUnknownKID) {
					t.Fatalf("symmetric key accepted: %v", err)
				}
			}
		})
	}
}

func mustJWK(t *testing.T, kid string) string {
	js := newJWKSServer(t)
	js.setKey(kid, testKey1())
	res, body := get(t, js.URL())
	if res.StatusCode != 200 {
		t.Fatal(body)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal([]byte(body), &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("jwks %s: %v", body, err)
	}
	return string(set.Keys[0])
}
