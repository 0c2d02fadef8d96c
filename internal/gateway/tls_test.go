package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portway/portway/internal/pki"
)

// TestGatewayServesTLS serves the gateway over HTTPS with a certificate
// from a local CA, and has its authorizer fetch the JWKS over HTTPS with a
// configured root: a client that trusts the CA gets through, the backend
// is told the client's scheme, and cleartext HTTP is not served.
func TestGatewayServesTLS(t *testing.T) {
	backend := newEchoBackend(t)
	js := newJWKSServer(t)
	js.setKey("k1", testKey1())
	jwksTLS := httptest.NewTLSServer(js.Config.Handler)
	t.Cleanup(jwksTLS.Close)

	ca, err := pki.LoadOrCreateCA(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	serverTLS, err := pki.ServerConfig(pki.ListenerTLS{}, ca, pki.LocalNames("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	g := startGateway(t, Config{
		Resources: []Resource{{Path: "/bags/{proxy+}", Methods: []Method{proxyMethod("ANY", AuthCognito, backend.URL+"/bags/{proxy}", scopeBags)}}},
		Authorizer: AuthorizerConfig{Issuer: testIssuer, JWKSURL: jwksTLS.URL + "/.well-known/jwks.json",
			ClientTLS: jwksTLS.Client().Transport.(*http.Transport).TLSClientConfig},
		TLS: serverTLS,
		Now: clock.Now,
	})
	if !strings.HasPrefix(g.URL(), "https://") {
		t.Fatalf("URL %q, want https", g.URL())
	}

	pool := x509.NewCertPool()
	pool.AddCert(ca.Certificate())
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		url := strings.Replace(g.URL(), "127.0.0.1", host, 1) + "/v1/bags/a"
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+signToken(t, testKey1(), "k1", tokenClaims(clock.Now(), scopeBags)))
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d %s (the JWKS is fetched over https with ClientTLS)", host, res.StatusCode, body)
		}
		e := decodeEcho(t, string(body))
		if got := e.Header.Get("X-Forwarded-Proto"); got != "https" {
			t.Errorf("%s: backend X-Forwarded-Proto %q, want https", host, got)
		}
	}

	// Cleartext on the TLS port gets no HTTP answer.
	res, err := http.Get(strings.Replace(g.URL(), "https://", "http://", 1) + "/v1/bags/a")
	if err == nil {
		res.Body.Close()
		t.Fatalf("cleartext request answered %d", res.StatusCode)
	}
}
