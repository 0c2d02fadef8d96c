package main

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portway/portway/internal/pki"
	"github.com/portway/portway/internal/stack"
)

// TestSetupTLS: the CA is portway's (stateDir/tls, which `portway up --tls`
// then opens), the nginx gateway's certificate is from it for the gateway's
// address, and the client config trusts it.
func TestSetupTLS(t *testing.T) {
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "portway-state")
	bt, err := setupTLS(stateDir, dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(stateDir, stack.TLSDir, pki.CACertFile); bt.caFile != want {
		t.Errorf("CA file %s, want %s", bt.caFile, want)
	}
	if ca, err := pki.LoadOrCreateCA(filepath.Join(stateDir, stack.TLSDir), nil); err != nil || ca.CertFile() != bt.caFile {
		t.Fatalf("portway would not open the same CA: %v", err)
	}
	pair, err := tls.LoadX509KeyPair(bt.gateway.CertFile, bt.gateway.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: bt.client.RootCAs}); err != nil {
		t.Errorf("the gateway certificate does not verify with the client's roots: %v", err)
	}
	if err := leaf.VerifyHostname(chainGatewayIP); err != nil {
		t.Error(err)
	}
	if (*benchTLS)(nil).clientTLS() != nil || bt.clientTLS() != bt.client {
		t.Error("clientTLS")
	}
}

// TestNewClientTrustsTheCA: a harness client with the -tls config reaches
// an HTTPS server with a certificate of the local CA; one without it does
// not.
func TestNewClientTrustsTheCA(t *testing.T) {
	dir := t.TempDir()
	bt, err := setupTLS(filepath.Join(dir, "state"), dir)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.LoadOrCreateCA(filepath.Join(dir, "state", stack.TLSDir), nil)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{*cert}}
	srv.StartTLS()
	defer srv.Close()
	for _, keepAlive := range []bool{true, false} {
		c := newClient(bt.client, clientTimeout, keepAlive)
		if !httpOK(c, srv.URL) {
			t.Errorf("keepAlive %v: GET %s failed with the local CA trusted", keepAlive, srv.URL)
		}
		c.CloseIdleConnections()
	}
	if c := newClient(nil, clientTimeout, true); httpOK(c, srv.URL) {
		t.Error("a client without the local CA trusted the server")
	}
}

func TestCheckEndpointsTLS(t *testing.T) {
	bt := &benchTLS{caFile: "/s/tls/ca.pem"}
	plain := stack.Endpoints{APIURL: "http://127.0.0.1:1/v1", TokenURL: "http://127.0.0.1:2/oauth2/token", ControlURL: "http://127.0.0.1:3"}
	secure := stack.Endpoints{APIURL: "https://127.0.0.1:1/v1", TokenURL: "https://127.0.0.1:2/oauth2/token", ControlURL: "https://127.0.0.1:3", CAFile: "/s/tls/ca.pem"}
	if err := checkEndpointsTLS(plain, nil); err != nil {
		t.Error(err)
	}
	if err := checkEndpointsTLS(secure, bt); err != nil {
		t.Error(err)
	}
	if err := checkEndpointsTLS(plain, bt); err == nil {
		t.Error("plain endpoints accepted under -tls")
	}
	if err := checkEndpointsTLS(secure, nil); err == nil {
		t.Error("https endpoints accepted without -tls")
	}
	other := secure
	other.CAFile = "/elsewhere/ca.pem"
	if err := checkEndpointsTLS(other, bt); err == nil || !strings.Contains(err.Error(), "names CA") {
		t.Errorf("another CA: %v", err)
	}
}

func TestCheckSchemes(t *testing.T) {
	mk := func(scheme string) []chain {
		var cs []chain
		for _, n := range []string{chainPortway, chainNginx} {
			cs = append(cs, chain{Name: n, BaseURL: scheme + "://h/v1", getURL: scheme + "://h/v1/ingests/x"})
		}
		return append(cs, chain{Name: chainDirect, BaseURL: "http://a", getURL: "http://a/ingests/x"})
	}
	if err := checkSchemes(mk("https"), true); err != nil {
		t.Error(err)
	}
	if err := checkSchemes(mk("http"), false); err != nil {
		t.Error(err)
	}
	if err := checkSchemes(mk("http"), true); err == nil {
		t.Error("http gateway URLs accepted under -tls")
	}
	if err := checkSchemes(mk("https"), false); err == nil {
		t.Error("https gateway URLs accepted without -tls")
	}
	cs := mk("https")
	cs[2].getURL = "https://a/ingests/x"
	if err := checkSchemes(cs, true); err == nil {
		t.Error("an https direct chain accepted")
	}
}
