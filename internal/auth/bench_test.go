package auth

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/crypto/bcrypt"
)

// BenchmarkTokenEndpoint measures a full token request through the handler
// with a repeated (cached) client secret at the production bcrypt cost.
func BenchmarkTokenEndpoint(b *testing.B) {
	cfg := testConfig(b, newFakeClock())
	cfg.BcryptCost = bcrypt.DefaultCost
	s, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	id, secret := mustCreate(b, s.Clients(), "bench")
	req := tokenReq{form: ccForm(), basic: true, basicUser: id, basicPass: secret}
	b.ReportAllocs()
	for b.Loop() {
		if w := serve(s, req); w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkAuthenticateFailures shows side by side, at the production
// bcrypt cost, the time to refuse each kind of bad credential; they should
// all be about one bcrypt comparison (TestAuthenticateWorkIsUniform checks
// the work itself). A cached right secret is shown for contrast.
func BenchmarkAuthenticateFailures(b *testing.B) {
	cs, err := OpenClientStore(b.TempDir(), WithBcryptCost(bcrypt.DefaultCost))
	if err != nil {
		b.Fatal(err)
	}
	id, secret := mustCreate(b, cs, "bench", scopeBags)
	cs.warm()
	for _, bc := range []struct {
		name, id, secret string
		ok               bool
	}{
		{"unknown-id", "nosuchclient00000000000000", secret, false},
		{"wrong-secret", id, strings.Repeat("z", len(secret)), false},
		{"wrong-length", id, "x", false},
		{"100-byte", id, strings.Repeat("a", 100), false},
		{"right-cached", id, secret, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				_, err := cs.Authenticate(bc.id, bc.secret)
				if (err == nil) != bc.ok || (err != nil && !errors.Is(err, ErrInvalidClient)) {
					b.Fatalf("Authenticate: %v", err)
				}
			}
		})
	}
}

// BenchmarkIssue measures signing alone.
func BenchmarkIssue(b *testing.B) {
	cfg := testConfig(b, newFakeClock())
	s, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	scopes := []string{scopeBags, scopeIngests}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.issue("clientid", scopes, cfg.Now(), DefaultTokenValidity); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify measures verifying an access token with go-jose against
// the JWKS the server serves, as a resource server would: with the parsed
// key set cached, parsing the JWKS document each time, and fetching it over
// HTTP each time.
func BenchmarkVerify(b *testing.B) {
	clk := newFakeClock()
	s := startServer(b, testConfig(b, clk))
	token, err := s.issue("clientid", []string{scopeBags}, clk.Now(), DefaultTokenValidity)
	if err != nil {
		b.Fatal(err)
	}
	fetch := func(b *testing.B) []byte {
		resp, err := http.Get(s.JWKSURL())
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			b.Fatal(err)
		}
		return data
	}
	parse := func(b *testing.B, data []byte) *jose.JSONWebKeySet {
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(data, &set); err != nil {
			b.Fatal(err)
		}
		return &set
	}
	verify := func(b *testing.B, set *jose.JSONWebKeySet) {
		tok, err := josejwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
		if err != nil {
			b.Fatal(err)
		}
		keys := set.Key(tok.Headers[0].KeyID)
		if len(keys) != 1 {
			b.Fatalf("kid %q: %d keys", tok.Headers[0].KeyID, len(keys))
		}
		var std josejwt.Claims
		var extra struct {
			TokenUse string `json:"token_use"`
			Scope    string `json:"scope"`
		}
		if err := tok.Claims(keys[0].Key, &std, &extra); err != nil {
			b.Fatal(err)
		}
		if err := std.Validate(josejwt.Expected{Issuer: s.Issuer(), Time: clk.Now()}); err != nil {
			b.Fatal(err)
		}
		if extra.TokenUse != "access" || extra.Scope != scopeBags {
			b.Fatalf("claims %+v", extra)
		}
	}
	b.Run("cached-keyset", func(b *testing.B) {
		set := parse(b, fetch(b))
		b.ReportAllocs()
		for b.Loop() {
			verify(b, set)
		}
	})
	b.Run("parse-jwks", func(b *testing.B) {
		data := fetch(b)
		b.ReportAllocs()
		for b.Loop() {
			verify(b, parse(b, data))
		}
	})
	b.Run("fetch-jwks", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			verify(b, parse(b, fetch(b)))
		}
	})
}
