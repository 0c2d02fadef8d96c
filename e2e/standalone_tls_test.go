package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/portway/portway/internal/pki"
	"github.com/portway/portway/internal/stack"
)

// startComponent runs a portway component subcommand until the test ends
// and returns the first submatch of re in its log (its bound URL), and
// the log.
func startComponent(t *testing.T, re *regexp.Regexp, args ...string) (string, *syncBuffer) {
	t.Helper()
	stderr := &syncBuffer{}
	cmd := exec.Command(binary, args...)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("portway %s stderr:\n%s", args[0], stderr)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			return m[1], stderr
		}
		select {
		case err := <-done:
			t.Fatalf("portway %s exited: %v\n%s", args[0], err, stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("portway %s did not report its address:\n%s", args[0], stderr)
		}
	}
}

// TestStandaloneComponentsOverTLS runs auth and the gateway as on hosts of
// their own, each with a certificate issued by `portway ca issue`, and the
// CA given to both as tls.caFile: the gateway fetches the JWKS over HTTPS,
// and a client that trusts the CA gets a token and an answer from the
// backend, which is told the client's scheme.
func TestStandaloneComponentsOverTLS(t *testing.T) {
	dir := t.TempDir()
	adminState := filepath.Join(dir, "admin")
	authState := filepath.Join(dir, "auth")
	files := map[string]pki.Files{}
	for _, name := range []string{"auth", "gateway"} {
		f := pki.Files{CertFile: filepath.Join(dir, name+".pem"), KeyFile: filepath.Join(dir, name+"-key.pem")}
		if _, errOut, err := runPortway(t, "ca", "issue", "127.0.0.1", "localhost", "--state-dir", adminState,
			"--cert-file", f.CertFile, "--key-file", f.KeyFile); err != nil {
			t.Fatalf("portway ca issue: %v\n%s", err, errOut)
		}
		files[name] = f
	}
	caFile := filepath.Join(adminState, stack.TLSDir, pki.CACertFile)

	// The app behind the gateway: tells what it was sent.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	backend := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"path": r.URL.Path, "proto": r.Header.Get("X-Forwarded-Proto")})
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = backend.Serve(ln) }()
	t.Cleanup(func() { backend.Close() })

	cfg := testStack(71)
	cfg.TLS.CAFile = caFile
	cfg.Auth.TLS = pki.ListenerTLS{CertFile: files["auth"].CertFile, KeyFile: files["auth"].KeyFile}
	cfg.Gateway.TLS = pki.ListenerTLS{CertFile: files["gateway"].CertFile, KeyFile: files["gateway"].KeyFile}
	cfg.Gateway.StageVariables["nlb_host"] = "127.0.0.1"
	cfg.Gateway.StageVariables["bags_port"] = strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	cfgPath := writeConfig(t, cfg)

	id, secret := createClient(t, authState, cfgPath, "remote", cfg.AllScopes()...)
	authURL, _ := startComponent(t, regexp.MustCompile(`auth: listening" url=(\S+)`),
		"auth", "--config", cfgPath, "--state-dir", authState, "--listen", "127.0.0.1:0")
	if !strings.HasPrefix(authURL, "https://") {
		t.Fatalf("auth URL %s, want https", authURL)
	}
	gwURL, _ := startComponent(t, regexp.MustCompile(`gateway listening" url=(\S+)`),
		"gateway", "--config", cfgPath, "--state-dir", filepath.Join(dir, "gw"), "--listen", "127.0.0.1:0",
		"--issuer", authURL+"/"+cfg.Auth.UserPoolID, "--jwks-url", authURL+"/.well-known/jwks.json")
	if !strings.HasPrefix(gwURL, "https://") {
		t.Fatalf("gateway URL %s, want https", gwURL)
	}

	hc := caClient(t, caFile)
	ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), oauth2.HTTPClient, hc), time.Minute)
	defer cancel()
	client := (&clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: authURL + "/oauth2/token"}).Client(ctx)
	client.Timeout = 30 * time.Second
	resp, err := client.Get(gwURL + "/" + cfg.Gateway.Stage + "/bags/digitised/b1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var got map[string]string
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &got) != nil {
		t.Fatalf("through the TLS gateway: %d %s", resp.StatusCode, body)
	}
	if got["path"] != "/bags/digitised/b1" || got["proto"] != "https" {
		t.Errorf("backend saw %v", got)
	}
}
