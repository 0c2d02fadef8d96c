package auth

import (
	"net/http"
	"testing"

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
