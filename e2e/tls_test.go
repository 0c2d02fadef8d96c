package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/portway/portway/internal/pki"
	"github.com/portway/portway/internal/stack"
	"github.com/portway/portway/internal/storage/bagtest"
	"github.com/portway/portway/internal/testutil"
)

// caClient is an HTTP client that trusts only the CA in caFile: no
// insecure flag, the way a user points requests_oauthlib or any OAuth2
// client at REQUESTS_CA_BUNDLE.
func caClient(t *testing.T, caFile string) *http.Client {
	t.Helper()
	data, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		t.Fatalf("%s holds no certificate", caFile)
	}
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
}

// TestUpTLS runs `portway up --tls` and uses it as a client that trusts
// the local CA would: client-credentials tokens from the https token
// endpoint, the storage flow through the https gateway (the backend sees
// X-Forwarded-Proto: https, so Locations are https), the CLI, and a
// restart that keeps the CA.
func TestUpTLS(t *testing.T) {
	stateDir := t.TempDir()
	cfgPath := writeConfig(t, testStack(70))
	up := startUp(t, stateDir, "--config", cfgPath, "--tls")

	var ep stack.Endpoints
	readJSONFile(t, filepath.Join(stateDir, stack.EndpointsFile), &ep)
	var creds map[string]string
	readJSONFile(t, filepath.Join(stateDir, stack.CredentialsFile), &creds)
	for name, u := range map[string]string{"api_url": ep.APIURL, "token_url": ep.TokenURL, "jwks_url": ep.JWKSURL,
		"control_url": ep.ControlURL, "oauth-credentials token_url": creds["token_url"]} {
		if !strings.HasPrefix(u, "https://") {
			t.Errorf("%s = %q, want https", name, u)
		}
	}
	if len(creds) != 3 {
		t.Errorf("oauth-credentials.json has %d keys, want exactly 3", len(creds))
	}
	caFile := filepath.Join(stateDir, "tls", pki.CACertFile)
	if ep.CAFile != caFile {
		t.Errorf("endpoints.json ca_file = %q, want %q", ep.CAFile, caFile)
	}
	testutil.WaitFor(t, 30*time.Second, "the ready summary", func() bool { return strings.Contains(up.stdout.String(), "Ctrl-C") })
	if !strings.Contains(up.stdout.String(), "curl --cacert "+caFile+" ") {
		t.Errorf("the summary's curl line does not trust the CA:\n%s", up.stdout)
	}
	if fi, err := os.Stat(filepath.Join(stateDir, "tls", pki.CAKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("CA key: %v, mode %v", err, fi)
	}

	// A client with only the system's roots refuses the stack: nothing
	// falls back to plain HTTP or skips verification.
	plain := &http.Client{Timeout: 10 * time.Second}
	if _, err := plain.Get(ep.APIURL + "/bags/digitised/b1"); err == nil {
		t.Fatal("a client that does not trust the local CA got through")
	} else if !errors.As(err, new(*tls.CertificateVerificationError)) && !strings.Contains(err.Error(), "certificate") {
		t.Errorf("want a certificate error, got %v", err)
	}

	// The OAuth2 client-credentials flow, as golang.org/x/oauth2 does it,
	// with the CA pool and nothing else.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, caClient(t, caFile))
	client := (&clientcredentials.Config{ClientID: creds["client_id"], ClientSecret: creds["client_secret"], TokenURL: creds["token_url"]}).Client(ctx)
	client.Timeout = 30 * time.Second

	gen := bagtest.MustBuild(t, bagtest.Options{ExternalIdentifier: "tls1", Prefix: "tls1"})
	gen.WriteFile(t, filepath.Join(stateDir, "buckets", "uploads", "tls1.tar.gz"))
	resp, err := client.Post(ep.APIURL+"/ingests", "application/json",
		strings.NewReader(fmt.Sprintf(bagIngestBody, "create", "tls1.tar.gz", "tls1")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /ingests over https: %s", resp.Status)
	}
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, ep.APIURL+"/ingests/") {
		t.Fatalf("Location %q, want under %s (the app must see X-Forwarded-Proto: https)", loc, ep.APIURL)
	}
	in := waitIngestDone(t, client, loc, 60*time.Second)
	if in.Status.ID != "succeeded" {
		t.Fatalf("ingest over https: %+v", in)
	}
	if code := getJSON(t, client, ep.APIURL+"/bags/digitised/tls1", &map[string]any{}).StatusCode; code != http.StatusOK {
		t.Errorf("GET bag over https: %d", code)
	}

	// The CLI trusts the stack's CA by itself.
	if out, errOut, err := runPortway(t, "token", "--state-dir", stateDir); err != nil || strings.Count(strings.TrimSpace(out), ".") != 2 {
		t.Errorf("portway token over https: %v %s %s", err, out, errOut)
	}
	if _, errOut, err := runPortway(t, "targets", "--state-dir", stateDir); err != nil {
		t.Errorf("portway targets over https: %v %s", err, errOut)
	}
	if out, _, err := runPortway(t, "ca", "--state-dir", stateDir); err != nil || !strings.Contains(out, caFile) || !strings.Contains(out, "REQUESTS_CA_BUNDLE") {
		t.Errorf("portway ca: %v\n%s", err, out)
	}

	// A restart keeps the CA, so clients set up once keep working.
	before, _ := os.ReadFile(caFile)
	up.stop(t)
	up = startUp(t, stateDir, "--config", cfgPath, "--tls")
	after, _ := os.ReadFile(caFile)
	if !bytes.Equal(before, after) {
		t.Error("the CA changed across a restart")
	}
	readJSONFile(t, filepath.Join(stateDir, stack.EndpointsFile), &ep)
	if _, err := caClient(t, caFile).Get(ep.JWKSURL); err != nil {
		t.Errorf("after restart, the old CA file no longer works: %v", err)
	}
	up.stop(t)
}
