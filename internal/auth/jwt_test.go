package auth

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("GET %s: Content-Type %q", url, ct)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

type jwksDoc struct {
	Keys []map[string]string `json:"keys"`
}

// rsaKeys turns a JWKS into public keys by kid without go-jose.
func rsaKeys(t *testing.T, doc jwksDoc) map[string]*rsa.PublicKey {
	t.Helper()
	out := map[string]*rsa.PublicKey{}
	for _, k := range doc.Keys {
		n, err := base64.RawURLEncoding.DecodeString(k["n"])
		if err != nil {
			t.Fatal(err)
		}
		e, err := base64.RawURLEncoding.DecodeString(k["e"])
		if err != nil {
			t.Fatal(err)
		}
		out[k["kid"]] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	return out
}

func TestJWKSAndDiscovery(t *testing.T) {
	s := startServer(t, testConfig(t, newFakeClock()))
	var root, pool jwksDoc
	getJSON(t, s.JWKSURL(), &root)
	getJSON(t, s.Issuer()+"/.well-known/jwks.json", &pool)
	// Like Cognito: two keys, the signing one first, then the next one.
	if len(root.Keys) != 2 || len(pool.Keys) != 2 {
		t.Fatalf("keys = %d and %d, want 2", len(root.Keys), len(pool.Keys))
	}
	if root.Keys[0]["kid"] == root.Keys[1]["kid"] {
		t.Errorf("the two published keys have the same kid")
	}
	k := root.Keys[0]
	var names []string
	for n := range k {
		names = append(names, n)
	}
	slices.Sort(names)
	if want := []string{"alg", "e", "kid", "kty", "n", "use"}; !slices.Equal(names, want) {
		t.Errorf("jwk members = %v, want %v", names, want)
	}
	if k["alg"] != "RS256" || k["kty"] != "RSA" || k["use"] != "sig" || k["e"] != "AQAB" || k["kid"] != s.KeyID() {
		t.Errorf("jwk = %v", k)
	}
	if pool.Keys[0]["kid"] != k["kid"] || pool.Keys[0]["n"] != k["n"] {
		t.Errorf("pool JWKS differs from root JWKS")
	}

	checkDiscovery(t, s, s.Issuer()+"/.well-known/openid-configuration")
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") || s.TokenURL() != s.URL()+"/oauth2/token" || s.JWKSURL() != s.URL()+"/.well-known/jwks.json" {
		t.Errorf("URL %q TokenURL %q JWKSURL %q", s.URL(), s.TokenURL(), s.JWKSURL())
	}
}

func TestTokenClaimsExact(t *testing.T) {
	clk := newFakeClock()
	s := startServer(t, testConfig(t, clk))
	id, secret := mustCreate(t, s.Clients(), "claims")
	resp, body := post(t, s, tokenReq{form: ccForm(), basic: true, basicUser: id, basicPass: secret})
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s", resp.Status, body)
	}
	token := tokenFrom(t, body).AccessToken
	parts := strings.Split(token, ".")
	hdr := decodeSegment(t, parts[0])
	if hdr["alg"] != "RS256" || hdr["kid"] != s.KeyID() {
		t.Errorf("header = %v", hdr)
	}
	if typ, ok := hdr["typ"]; ok && typ != "JWT" {
		t.Errorf("typ = %v", typ)
	}
	c := claimsOf(t, token)
	var names []string
	for n := range c {
		names = append(names, n)
	}
	slices.Sort(names)
	want := []string{"auth_time", "client_id", "exp", "iat", "iss", "jti", "scope", "sub", "token_use", "version"}
	if !slices.Equal(names, want) {
		t.Fatalf("claims = %v, want %v", names, want)
	}
	now := float64(clk.Now().Unix())
	checks := map[string]any{
		"sub": id, "client_id": id, "token_use": "access", "iss": s.Issuer(),
		"scope": scopeBags + " " + scopeIngests, "version": float64(2),
		"iat": now, "auth_time": now, "exp": now + 3600,
	}
	for k, v := range checks {
		if c[k] != v {
			t.Errorf("%s = %v (%T), want %v", k, c[k], c[k], v)
		}
	}
	u, err := uuid.Parse(c["jti"].(string))
	if err != nil || u.Version() != 4 {
		t.Errorf("jti %v not a v4 uuid: %v", c["jti"], err)
	}
	// jti is unique per token.
	_, body2 := post(t, s, tokenReq{form: ccForm(), basic: true, basicUser: id, basicPass: secret})
	if claimsOf(t, tokenFrom(t, body2).AccessToken)["jti"] == c["jti"] {
		t.Errorf("jti repeated")
	}
}

// TestTokenVerifiesWithIndependentLibrary checks a token with golang-jwt
// against the JWKS fetched over HTTP.
func TestTokenVerifiesWithIndependentLibrary(t *testing.T) {
	clk := newFakeClock()
	s := startServer(t, testConfig(t, clk))
	id, secret := mustCreate(t, s.Clients(), "verify", scopeBags)
	_, body := post(t, s, tokenReq{form: ccForm("client_id", id, "client_secret", secret)})
	token := tokenFrom(t, body).AccessToken

	var doc jwksDoc
	getJSON(t, s.JWKSURL(), &doc)
	keys := rsaKeys(t, doc)
	parse := func(tok string, now time.Time) (jwt.MapClaims, error) {
		return verifyJWT(tok, keys, s.Issuer(), now)
	}
	claims, err := parse(token, clk.Now().Add(time.Minute))
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if claims["client_id"] != id || claims["scope"] != scopeBags {
		t.Errorf("claims = %v", claims)
	}
	if aud, err := claims.GetAudience(); err != nil || len(aud) != 0 {
		t.Errorf("aud = %v, %v", aud, err)
	}
	if _, err := parse(token, clk.Now().Add(2*time.Hour)); err == nil {
		t.Errorf("expired token verified")
	}
	// A tampered payload fails.
	parts := strings.Split(token, ".")
	c := claimsOf(t, token)
	c["scope"] = scopeBags + " " + scopeIngests
	p, _ := json.Marshal(c)
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString(p) + "." + parts[2]
	if _, err := parse(forged, clk.Now()); err == nil {
		t.Errorf("forged token verified")
	}
}

// verifyJWT verifies a token with golang-jwt (not go-jose, which signs).
func verifyJWT(token string, keys map[string]*rsa.PublicKey, issuer string, now time.Time) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		if k, ok := keys[kid]; ok {
			return k, nil
		}
		return nil, jwt.ErrTokenUnverifiable
	},
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithIssuer(issuer),
		jwt.WithIssuedAt(),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	return claims, err
}

// TestKIDIsRFC7638Thumbprint recomputes the thumbprint without go-jose; the
// kid is it in standard base64, the form of Cognito's key ids.
func TestKIDIsRFC7638Thumbprint(t *testing.T) {
	s := startServer(t, testConfig(t, newFakeClock()))
	var doc jwksDoc
	getJSON(t, s.JWKSURL(), &doc)
	k := doc.Keys[0]
	sum := sha256.Sum256([]byte(`{"e":"` + k["e"] + `","kty":"RSA","n":"` + k["n"] + `"}`))
	if want := base64.StdEncoding.EncodeToString(sum[:]); k["kid"] != want {
		t.Errorf("kid = %s, want %s", k["kid"], want)
	}
}

// TestLogsHoldNoSecrets runs successful and failed requests and checks the
// log output for secrets and tokens.
func TestLogsHoldNoSecrets(t *testing.T) {
	var buf syncBuffer
	cfg := testConfig(t, newFakeClock())
	cfg.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := startServer(t, cfg)
	id, secret := mustCreate(t, s.Clients(), "logged")
	_, body := post(t, s, tokenReq{form: ccForm("client_id", id, "client_secret", secret)})
	token := tokenFrom(t, body).AccessToken
	post(t, s, tokenReq{form: ccForm("client_id", id, "client_secret", secret+"x")})
	post(t, s, tokenReq{form: ccForm(), basic: true, basicUser: id, basicPass: "guess"})
	rotated, err := s.Clients().RotateSecret(id)
	if err != nil {
		t.Fatal(err)
	}
	logs := buf.String()
	if !strings.Contains(logs, id) || !strings.Contains(logs, "token issued") {
		t.Errorf("expected client id and outcome in logs:\n%s", logs)
	}
	for _, s := range []string{secret, rotated, "guess", token, strings.Split(token, ".")[2]} {
		if strings.Contains(logs, s) {
			t.Errorf("logs contain a secret or token fragment %.12q…", s)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// checkDiscovery checks the OpenID configuration at url against the
// document a Cognito user pool serves: exactly these members, in this
// (alphabetical) order, with Cognito's values; the endpoints are this
// server's. A real one (localstack/localstack#12914, 2025):
// authorization_endpoint, end_session_endpoint,
// id_token_signing_alg_values_supported ["RS256"], issuer, jwks_uri,
// response_types_supported ["code","token"], revocation_endpoint,
// scopes_supported ["openid","email","phone","profile"],
// subject_types_supported ["public"], token_endpoint,
// token_endpoint_auth_methods_supported
// ["client_secret_basic","client_secret_post"], userinfo_endpoint.
func checkDiscovery(t *testing.T, s *Server, url string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	base := s.URL()
	want := []struct {
		name  string
		value any
	}{
		{"authorization_endpoint", base + "/oauth2/authorize"},
		{"end_session_endpoint", base + "/logout"},
		{"id_token_signing_alg_values_supported", []string{"RS256"}},
		{"issuer", s.Issuer()},
		{"jwks_uri", s.IssuerMetadataURL() + "/.well-known/jwks.json"},
		{"response_types_supported", []string{"code", "token"}},
		{"revocation_endpoint", base + "/oauth2/revoke"},
		{"scopes_supported", []string{"openid", "email", "phone", "profile"}},
		{"subject_types_supported", []string{"public"}},
		{"token_endpoint", base + "/oauth2/token"},
		{"token_endpoint_auth_methods_supported", []string{"client_secret_basic", "client_secret_post"}},
		{"userinfo_endpoint", base + "/oauth2/userInfo"},
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("discovery document is not an object: %s", body)
	}
	var names []string
	got := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		name := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
		got[name] = raw
	}
	var wantNames []string
	for _, w := range want {
		wantNames = append(wantNames, w.name)
		exp, _ := json.Marshal(w.value)
		if string(got[w.name]) != string(exp) {
			t.Errorf("%s = %s, want %s", w.name, got[w.name], exp)
		}
	}
	if !slices.Equal(names, wantNames) {
		t.Errorf("members %v, want exactly (in this order) %v", names, wantNames)
	}
}

// The discovery document of the "aws" issuer style names Cognito's issuer
// but this server's endpoints, which are the ones that answer.
func TestDiscoveryAWSIssuer(t *testing.T) {
	cfg := testConfig(t, newFakeClock())
	cfg.IssuerStyle = IssuerStyleAWS
	s := startServer(t, cfg)
	checkDiscovery(t, s, s.IssuerMetadataURL()+"/.well-known/openid-configuration")
}
