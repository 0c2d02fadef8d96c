package auth

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// tokenFixture is a server (not listening) with a few clients.
type tokenFixture struct {
	s                    *Server
	fullID, fullSecret   string // both scopes
	bagsID, bagsSecret   string // bags only
	noFlowID, noFlowSecr string // client_credentials disabled
}

func newTokenFixture(t *testing.T) *tokenFixture {
	t.Helper()
	cfg := testConfig(t, newFakeClock())
	cfg.AuthFailureBurst = -1 // rate limiting is tested separately
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := &tokenFixture{s: s}
	f.fullID, f.fullSecret = mustCreate(t, s.Clients(), "full")
	f.bagsID, f.bagsSecret = mustCreate(t, s.Clients(), "bags", scopeBags)
	f.noFlowID, f.noFlowSecr = mustCreate(t, s.Clients(), "noflow")
	if _, err := s.Clients().Update(f.noFlowID, ClientUpdate{Flows: []string{}}); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestTokenEndpointErrors(t *testing.T) {
	f := newTokenFixture(t)
	full := func(kv ...string) url.Values {
		return ccForm(append([]string{"client_id", f.fullID, "client_secret", f.fullSecret}, kv...)...)
	}
	tests := []struct {
		name   string
		req    tokenReq
		status int
		code   string
		allow  string
	}{
		{"GET", tokenReq{method: http.MethodGet}, 405, errMethodNotAllowed, "OPTIONS, POST"},
		{"PUT", tokenReq{method: http.MethodPut, form: full()}, 405, errMethodNotAllowed, "OPTIONS, POST"},
		{"no content type", tokenReq{contentType: "-", form: full()}, 400, errInvalidRequest, ""},
		{"json content type", tokenReq{contentType: "application/json", rawBody: `{"grant_type":"client_credentials"}`}, 400, errInvalidRequest, ""},
		{"multipart", tokenReq{contentType: "multipart/form-data; boundary=x", form: full()}, 400, errInvalidRequest, ""},
		{"malformed body", tokenReq{rawBody: "grant_type=client_credentials&scope=%zz"}, 400, errInvalidRequest, ""},
		{"body too large", tokenReq{rawBody: "grant_type=client_credentials&x=" + strings.Repeat("a", maxTokenBody)}, 413, errInvalidRequest, ""},
		{"grant_type missing", tokenReq{form: url.Values{"client_id": {f.fullID}, "client_secret": {f.fullSecret}}}, 400, errInvalidRequest, ""},
		{"grant_type empty", tokenReq{rawBody: "grant_type=&client_id=" + f.fullID + "&client_secret=" + f.fullSecret}, 400, errInvalidRequest, ""},
		{"grant_type repeated", tokenReq{rawBody: "grant_type=client_credentials&grant_type=client_credentials&client_id=" + f.fullID + "&client_secret=" + f.fullSecret}, 400, errInvalidRequest, ""},
		{"grant_type password", tokenReq{form: full("grant_type", "password")}, 400, errUnsupportedGrantType, ""},
		{"grant_type authorization_code", tokenReq{form: full("grant_type", "authorization_code")}, 400, errUnsupportedGrantType, ""},
		{"no client auth", tokenReq{form: ccForm()}, 400, errInvalidClient, ""},
		{"client_id without secret", tokenReq{form: ccForm("client_id", f.fullID)}, 400, errInvalidClient, ""},
		{"unknown client (body)", tokenReq{form: ccForm("client_id", "nosuchclient00000000000000", "client_secret", "x")}, 400, errInvalidClient, ""},
		{"unknown client (basic)", tokenReq{form: ccForm(), basic: true, basicUser: "nosuchclient", basicPass: "x"}, 400, errInvalidClient, ""},
		{"wrong secret (body)", tokenReq{form: ccForm("client_id", f.fullID, "client_secret", f.bagsSecret)}, 400, errInvalidClient, ""},
		{"wrong secret (basic)", tokenReq{form: ccForm(), basic: true, basicUser: f.fullID, basicPass: f.fullSecret + "x"}, 400, errInvalidClient, ""},
		{"secret of other client", tokenReq{form: ccForm(), basic: true, basicUser: f.bagsID, basicPass: f.fullSecret}, 400, errInvalidClient, ""},
		{"overlong secret", tokenReq{form: ccForm("client_id", f.fullID, "client_secret", f.fullSecret+strings.Repeat("a", 100))}, 400, errInvalidClient, ""},
		{"empty basic", tokenReq{form: ccForm(), basic: true}, 400, errInvalidClient, ""},
		{"basic and body ids differ", tokenReq{form: ccForm("client_id", f.bagsID), basic: true, basicUser: f.fullID, basicPass: f.fullSecret}, 400, errInvalidRequest, ""},
		{"basic and body secrets differ", tokenReq{form: ccForm("client_secret", f.bagsSecret), basic: true, basicUser: f.fullID, basicPass: f.fullSecret}, 400, errInvalidRequest, ""},
		{"bearer authorization", tokenReq{form: full(), authz: "Bearer abc"}, 400, errInvalidRequest, ""},
		{"basic not base64", tokenReq{form: ccForm(), authz: "Basic !!!"}, 400, errInvalidRequest, ""},
		{"basic bad percent encoding", tokenReq{form: ccForm(), authz: "Basic " + b64(f.fullID+"%zz:"+f.fullSecret)}, 400, errInvalidRequest, ""},
		{"flow not allowed", tokenReq{form: ccForm("client_id", f.noFlowID, "client_secret", f.noFlowSecr)}, 400, errUnauthorizedClient, ""},
		{"unknown scope", tokenReq{form: full("scope", testRSID+"/nope")}, 400, errInvalidScope, ""},
		{"unknown resource server", tokenReq{form: full("scope", "https://other/bags")}, 400, errInvalidScope, ""},
		{"bare scope name", tokenReq{form: full("scope", "bags")}, 400, errInvalidScope, ""},
		{"scope not allowed", tokenReq{form: ccForm("client_id", f.bagsID, "client_secret", f.bagsSecret, "scope", scopeIngests)}, 400, errInvalidScope, ""},
		{"one scope of two not allowed", tokenReq{form: ccForm("client_id", f.bagsID, "client_secret", f.bagsSecret, "scope", scopeBags+" "+scopeIngests)}, 400, errInvalidScope, ""},
		{"openid scope", tokenReq{form: full("scope", "openid")}, 400, errInvalidScope, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := serve(f.s, tc.req)
			if w.Code != tc.status {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tc.status, w.Body)
			}
			var body map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			if len(body) != 1 || body["error"] != tc.code {
				t.Errorf("body = %s, want exactly {\"error\":%q}", w.Body, tc.code)
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q", ct)
			}
			if got := w.Header().Get("Allow"); got != tc.allow {
				t.Errorf("Allow = %q, want %q", got, tc.allow)
			}
			if w.Header().Get("WWW-Authenticate") != "" {
				t.Errorf("unexpected WWW-Authenticate")
			}
		})
	}
}

func TestTokenEndpointSuccess(t *testing.T) {
	f := newTokenFixture(t)
	both := scopeBags + " " + scopeIngests
	tests := []struct {
		name      string
		req       tokenReq
		wantScope string
	}{
		{"body auth, scope omitted", tokenReq{form: ccForm("client_id", f.fullID, "client_secret", f.fullSecret)}, both},
		{"basic auth, scope omitted", tokenReq{form: ccForm(), basic: true, basicUser: f.fullID, basicPass: f.fullSecret}, both},
		{"basic and matching body", tokenReq{form: ccForm("client_id", f.fullID, "client_secret", f.fullSecret), basic: true, basicUser: f.fullID, basicPass: f.fullSecret}, both},
		{"basic and body id only", tokenReq{form: ccForm("client_id", f.fullID), basic: true, basicUser: f.fullID, basicPass: f.fullSecret}, both},
		{"basic auth scheme lower case", tokenReq{form: ccForm(), authz: "basic " + b64(f.fullID+":"+f.fullSecret)}, both},
		{"empty scope means omitted", tokenReq{form: ccForm("client_id", f.fullID, "client_secret", f.fullSecret, "scope", "")}, both},
		{"narrowed to bags", tokenReq{form: ccForm("client_id", f.fullID, "client_secret", f.fullSecret, "scope", scopeBags)}, scopeBags},
		{"narrowed to ingests (basic)", tokenReq{form: ccForm("scope", scopeIngests), basic: true, basicUser: f.fullID, basicPass: f.fullSecret}, scopeIngests},
		{"requested order kept", tokenReq{form: ccForm("client_id", f.fullID, "client_secret", f.fullSecret, "scope", scopeIngests+" "+scopeBags)}, scopeIngests + " " + scopeBags},
		{"duplicates and extra spaces", tokenReq{form: ccForm("client_id", f.fullID, "client_secret", f.fullSecret, "scope", " "+scopeBags+"  "+scopeBags+" ")}, scopeBags},
		{"bags client defaults to bags", tokenReq{form: ccForm("client_id", f.bagsID, "client_secret", f.bagsSecret)}, scopeBags},
		{"content type with charset", tokenReq{contentType: "application/x-www-form-urlencoded; charset=UTF-8", form: ccForm("client_id", f.bagsID, "client_secret", f.bagsSecret)}, scopeBags},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := serve(f.s, tc.req)
			if w.Code != http.StatusOK {
				t.Fatalf("status = %d; body %s", w.Code, w.Body)
			}
			for h, want := range map[string]string{"Cache-Control": "no-store", "Pragma": "no-cache"} {
				if got := w.Header().Get(h); got != want {
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q", ct)
			}
			var raw map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &raw); err != nil {
				t.Fatal(err)
			}
			keys := make([]string, 0, len(raw))
			for k := range raw {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if want := []string{"access_token", "expires_in", "token_type"}; !slices.Equal(keys, want) {
				t.Errorf("response keys = %v, want %v", keys, want)
			}
			tr := tokenFrom(t, w.Body.Bytes())
			if tr.TokenType != "Bearer" || tr.ExpiresIn != 3600 {
				t.Errorf("token_type %q expires_in %d", tr.TokenType, tr.ExpiresIn)
			}
			if got := claimsOf(t, tr.AccessToken)["scope"]; got != tc.wantScope {
				t.Errorf("scope = %q, want %q", got, tc.wantScope)
			}
		})
	}
}

func TestClientCredentialsBasicIsFormDecoded(t *testing.T) {
	// RFC 6749 2.3.1: id and secret are form-urlencoded before Basic encoding.
	r := tokenReq{form: ccForm(), authz: "Basic " + b64("a%2Bb%3Ac:d+e%25")}.build("http://x/oauth2/token")
	id, secret, err := clientCredentials(r, url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	if id != "a+b:c" || secret != "d e%" {
		t.Errorf("got %q %q", id, secret)
	}
}

func TestTokenValidityPerClient(t *testing.T) {
	clk := newFakeClock()
	cfg := testConfig(t, clk)
	cfg.TokenValidity = 30 * time.Minute
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defID, defSecret := mustCreate(t, s.Clients(), "default")
	longID, longSecret, err := s.Clients().Create("long", nil, MaxTokenValidity)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id, secret string
		want       int64
	}{{defID, defSecret, 1800}, {longID, longSecret, 86400}} {
		w := serve(s, tokenReq{form: ccForm("client_id", tc.id, "client_secret", tc.secret)})
		tr := tokenFrom(t, w.Body.Bytes())
		if tr.ExpiresIn != tc.want {
			t.Errorf("expires_in = %d, want %d", tr.ExpiresIn, tc.want)
		}
		c := claimsOf(t, tr.AccessToken)
		if exp, iat := c["exp"].(float64), c["iat"].(float64); int64(exp-iat) != tc.want {
			t.Errorf("exp-iat = %v, want %d", exp-iat, tc.want)
		}
	}
}

func TestScopeRemovedFromResourceServer(t *testing.T) {
	// A client allowed a scope the configuration no longer defines cannot get it.
	cfg := testConfig(t, newFakeClock())
	s1, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	id, secret := mustCreate(t, s1.Clients(), "c")
	cfg.ResourceServers = []ResourceServer{{Identifier: testRSID, Scopes: []string{"bags"}}}
	s2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := serve(s2, tokenReq{form: ccForm("client_id", id, "client_secret", secret)})
	if got := claimsOf(t, tokenFrom(t, w.Body.Bytes()).AccessToken)["scope"]; got != scopeBags {
		t.Errorf("scope = %q", got)
	}
	w = serve(s2, tokenReq{form: ccForm("client_id", id, "client_secret", secret, "scope", scopeIngests)})
	if w.Code != 400 || !strings.Contains(w.Body.String(), errInvalidScope) {
		t.Errorf("got %d %s", w.Code, w.Body)
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	f := newTokenFixture(t)
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/nope", 404, ""},
		{"POST", "/.well-known/jwks.json", 405, "GET, HEAD"},
		{"DELETE", "/eu-west-1_portway/.well-known/openid-configuration", 405, "GET, HEAD"},
		{"HEAD", "/.well-known/jwks.json", 200, ""},
		{"GET", "/other_pool/.well-known/jwks.json", 404, ""},
		// Listed in the discovery document, as Cognito lists them, but
		// not implemented.
		{"GET", "/oauth2/authorize", 404, ""},
		{"GET", "/logout", 404, ""},
		{"GET", "/oauth2/userInfo", 404, ""},
		{"POST", "/oauth2/revoke", 404, ""},
	} {
		w := httptest.NewRecorder()
		f.s.Handler().ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
		if w.Code != tc.status || w.Header().Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d Allow %q, want %d %q", tc.method, tc.path, w.Code, w.Header().Get("Allow"), tc.status, tc.allow)
		}
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestTokenBodyLimit: a body of exactly 64 KiB is read; one byte more is
// refused with 413 before the client is authenticated.
func TestTokenBodyLimit(t *testing.T) {
	f := newTokenFixture(t)
	base := ccForm("client_id", f.bagsID, "client_secret", f.bagsSecret).Encode() + "&pad="
	atLimit := base + strings.Repeat("a", maxTokenBody-len(base))
	for _, tc := range []struct {
		name   string
		body   string
		status int
	}{
		{"exactly 64 KiB", atLimit, http.StatusOK},
		{"64 KiB + 1", atLimit + "a", http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := serve(f.s, tokenReq{rawBody: tc.body})
			if w.Code != tc.status {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tc.status, w.Body)
			}
		})
	}
}
