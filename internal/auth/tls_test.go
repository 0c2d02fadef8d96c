package auth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/portway/portway/internal/pki"
)

// TestServerOverTLS serves auth over HTTPS: its URLs and the local issuer
// are https, the discovery document says so, and a standard OAuth2 client
// that trusts the CA gets a token whose iss is the https issuer.
func TestServerOverTLS(t *testing.T) {
	ca, err := pki.LoadOrCreateCA(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, newFakeClock())
	cfg.Now = nil // real time: the client checks expiry
	if cfg.TLS, err = pki.ServerConfig(pki.ListenerTLS{}, ca, pki.LocalNames(cfg.Listen)); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, cfg)
	for name, u := range map[string]string{"URL": s.URL(), "Issuer": s.Issuer(), "TokenURL": s.TokenURL(), "JWKSURL": s.JWKSURL()} {
		if !strings.HasPrefix(u, "https://") {
			t.Errorf("%s = %q, want https", name, u)
		}
	}
	id, secret := mustCreate(t, s.Clients(), "tls", testRSID+"/bags")

	pool := x509.NewCertPool()
	pool.AddCert(ca.Certificate())
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, hc)
	tok, err := (&clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: s.TokenURL()}).Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if iss := claimsOf(t, tok.AccessToken)["iss"]; iss != s.Issuer() {
		t.Errorf("iss %v, want %s", iss, s.Issuer())
	}
	res, err := hc.Get(s.IssuerMetadataURL() + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var doc map[string]any
	if err := json.NewDecoder(res.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"issuer", "jwks_uri", "token_endpoint"} {
		if v, _ := doc[k].(string); !strings.HasPrefix(v, "https://") {
			t.Errorf("discovery %s = %q, want https", k, v)
		}
	}
}
