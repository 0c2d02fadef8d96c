package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/portway/portway/internal/stack"
)

const (
	storageRS    = "https://api.wellcomecollection.org/storage/v1"
	scopeBagsE2E = storageRS + "/bags"
)

// createClient runs `portway clients create` and returns its credentials,
// checking stdout holds exactly client_id and client_secret.
func createClient(t *testing.T, stateDir, cfgPath, name string, scopes ...string) (id, secret string) {
	t.Helper()
	args := []string{"clients", "create", "--state-dir", stateDir, "--config", cfgPath, "--name", name}
	for _, s := range scopes {
		args = append(args, "--scope", s)
	}
	out, errOut, err := runPortway(t, args...)
	if err != nil {
		t.Fatalf("clients create: %v\n%s", err, errOut)
	}
	var creds map[string]string
	if err := json.Unmarshal([]byte(out), &creds); err != nil {
		t.Fatalf("clients create stdout %q: %v", out, err)
	}
	if len(creds) != 2 || creds["client_id"] == "" || creds["client_secret"] == "" {
		t.Fatalf("clients create stdout = %q, want exactly client_id and client_secret", out)
	}
	return creds["client_id"], creds["client_secret"]
}

// fetchToken gets an access token with the x/oauth2 client-credentials flow.
func fetchToken(t *testing.T, tokenURL, id, secret string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := (&clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: tokenURL}).Token(ctx)
	if err != nil {
		return "", err
	}
	return tok.AccessToken, nil
}

func mustToken(t *testing.T, tokenURL, id, secret string) string {
	t.Helper()
	tok, err := fetchToken(t, tokenURL, id, secret)
	if err != nil {
		t.Fatalf("token for %s: %v", id, err)
	}
	return tok
}

// jwtPart decodes segment i (0 header, 1 claims) of a JWT.
func jwtPart(t *testing.T, token string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func kidOf(t *testing.T, token string) string {
	t.Helper()
	kid, _ := jwtPart(t, token, 0)["kid"].(string)
	return kid
}

// gatewayGet sends GET url with the token and returns the status and body.
func gatewayGet(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func jwksKIDs(t *testing.T, jwksURL string) []string {
	t.Helper()
	var doc struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	getJSON(t, &http.Client{Timeout: 10 * time.Second}, jwksURL, &doc)
	var out []string
	for _, k := range doc.Keys {
		out = append(out, k.KID)
	}
	return out
}

// listedClient is an entry of `portway clients list --json`.
type listedClient struct {
	ClientID           string   `json:"ClientId"`
	ClientName         string   `json:"ClientName"`
	AllowedOAuthScopes []string `json:"AllowedOAuthScopes"`
}

// TestClientsCLIWhileUp creates a bags-only client with the CLI while the
// stack runs: its token is refused on ingests (401) and served on bags;
// then the CLI rotates its secret, lists and deletes it, all taking effect
// at once.
func TestClientsCLIWhileUp(t *testing.T) {
	stateDir := t.TempDir()
	cfgPath := writeConfig(t, testStack(10))
	startUp(t, stateDir, "--config", cfgPath)
	var ep stack.Endpoints
	readJSONFile(t, filepath.Join(stateDir, stack.EndpointsFile), &ep)

	id, secret := createClient(t, stateDir, cfgPath, "bagsonly", scopeBagsE2E)
	token := mustToken(t, ep.TokenURL, id, secret)
	claims := jwtPart(t, token, 1)
	if claims["client_id"] != id || claims["scope"] != scopeBagsE2E {
		t.Fatalf("claims = %v", claims)
	}

	if code, body := gatewayGet(t, ep.APIURL+"/ingests/"+uuid.NewString(), token); code != http.StatusUnauthorized {
		t.Errorf("bags-only token on ingests: %d %s, want 401", code, body)
	}
	code, body := gatewayGet(t, ep.APIURL+"/bags/x/y", token)
	if code != http.StatusNotFound || !strings.Contains(body, `"httpStatus":404`) {
		t.Errorf("bags-only token on bags: %d %s, want the app's 404", code, body)
	}

	// CLI errors name the problem.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"clients", "create", "--name", "bad", "--scope", storageRS + "/nope"}, "no resource server"},
		{[]string{"clients", "create", "--name", "noscope"}, "--scope is required"},
		{[]string{"clients", "create", "--name", "v", "--scope", scopeBagsE2E, "--validity", "1m"}, "--validity"},
		{[]string{"clients", "delete", "nosuchclient"}, `unknown client id "nosuchclient"`},
		{[]string{"clients", "rotate-secret", "nosuchclient"}, `unknown client id "nosuchclient"`},
	} {
		out, errOut, err := runPortway(t, append(tc.args, "--state-dir", stateDir, "--config", cfgPath)...)
		if err == nil || !strings.Contains(errOut, tc.want) || out != "" {
			t.Errorf("%v: err %v stdout %q stderr %q, want failure mentioning %q", tc.args, err, out, errOut, tc.want)
		}
	}

	// list --json shows the client and no secret.
	out, errOut, err := runPortway(t, "clients", "list", "--json", "--state-dir", stateDir)
	if err != nil {
		t.Fatalf("clients list: %v %s", err, errOut)
	}
	var listed []listedClient
	if err := json.Unmarshal([]byte(out), &listed); err != nil {
		t.Fatalf("clients list --json %q: %v", out, err)
	}
	i := slices.IndexFunc(listed, func(c listedClient) bool { return c.ClientID == id })
	if i < 0 || listed[i].ClientName != "bagsonly" || !slices.Equal(listed[i].AllowedOAuthScopes, []string{scopeBagsE2E}) {
		t.Errorf("clients list --json = %s", out)
	}
	if strings.Contains(out, secret) || strings.Contains(strings.ToLower(out), "secret") {
		t.Errorf("clients list --json shows secret material: %s", out)
	}
	if out, _, _ := runPortway(t, "clients", "list", "--state-dir", stateDir); !strings.Contains(out, id) || !strings.Contains(out, "bagsonly") {
		t.Errorf("clients list table:\n%s", out)
	}

	// rotate-secret: the old secret stops working at once, the new one works.
	out, errOut, err = runPortway(t, "clients", "rotate-secret", id, "--state-dir", stateDir)
	if err != nil {
		t.Fatalf("rotate-secret: %v %s", err, errOut)
	}
	var rotated map[string]string
	if err := json.Unmarshal([]byte(out), &rotated); err != nil || len(rotated) != 2 || rotated["client_id"] != id || rotated["client_secret"] == "" || rotated["client_secret"] == secret {
		t.Fatalf("rotate-secret stdout %q: %v", out, err)
	}
	if _, err := fetchToken(t, ep.TokenURL, id, secret); err == nil {
		t.Errorf("old secret still works after rotate-secret")
	}
	mustToken(t, ep.TokenURL, id, rotated["client_secret"])

	// delete: the client stops working at once.
	if _, errOut, err := runPortway(t, "clients", "delete", id, "--state-dir", stateDir); err != nil {
		t.Fatalf("delete: %v %s", err, errOut)
	}
	if _, err := fetchToken(t, ep.TokenURL, id, rotated["client_secret"]); err == nil {
		t.Errorf("deleted client still gets tokens")
	}
}

// TestKeyRotationWhileUpAndRestart rotates the signing keys with the CLI
// while the stack runs: a token from before keeps working through the
// gateway, a new token has another kid, the JWKS has both keys; a restart
// keeps the keys (same kid) and the clients.
func TestKeyRotationWhileUpAndRestart(t *testing.T) {
	stateDir := t.TempDir()
	cfgPath := writeConfig(t, testStack(11))
	up := startUp(t, stateDir, "--config", cfgPath)
	var ep stack.Endpoints
	readJSONFile(t, filepath.Join(stateDir, stack.EndpointsFile), &ep)
	var creds stack.Credentials
	readJSONFile(t, filepath.Join(stateDir, stack.CredentialsFile), &creds)
	bagsID, bagsSecret := createClient(t, stateDir, cfgPath, "bagsonly", scopeBagsE2E)
	bagsURL := ep.APIURL + "/bags/x/y" // authorized: the app answers 404

	oldToken := mustToken(t, ep.TokenURL, creds.ClientID, creds.ClientSecret)
	oldKID := kidOf(t, oldToken)
	if code, body := gatewayGet(t, bagsURL, oldToken); code != http.StatusNotFound {
		t.Fatalf("token before rotation: %d %s", code, body)
	}
	before := jwksKIDs(t, ep.JWKSURL)
	if len(before) != 2 || before[0] != oldKID {
		t.Fatalf("JWKS before rotation = %v, want 2 keys, %s first", before, oldKID)
	}

	if _, errOut, err := runPortway(t, "keys", "rotate", "--state-dir", stateDir); err != nil {
		t.Fatalf("keys rotate: %v %s", err, errOut)
	}
	newToken := mustToken(t, ep.TokenURL, creds.ClientID, creds.ClientSecret)
	newKID := kidOf(t, newToken)
	if newKID == oldKID || newKID == "" {
		t.Fatalf("token after rotation has kid %q, before %q", newKID, oldKID)
	}
	after := jwksKIDs(t, ep.JWKSURL)
	if !slices.Contains(after, oldKID) || !slices.Contains(after, newKID) || after[0] != newKID {
		t.Errorf("JWKS after rotation = %v, want %s first and %s still published", after, newKID, oldKID)
	}
	// The gateway may need to refetch the JWKS (at most once per 5 s) to
	// learn the new kid: wait for it with a deadline.
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := gatewayGet(t, bagsURL, newToken)
		if code == http.StatusNotFound {
			break
		}
		if code != http.StatusUnauthorized || time.Now().After(deadline) {
			t.Fatalf("new-key token through the gateway: %d %s", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, body := gatewayGet(t, bagsURL, oldToken); code != http.StatusNotFound {
		t.Errorf("old-key token after rotation: %d %s, want the app's 404", code, body)
	}

	// Restart: same keys, same clients.
	up.stop(t)
	startUp(t, stateDir, "--config", cfgPath)
	readJSONFile(t, filepath.Join(stateDir, stack.EndpointsFile), &ep)
	bagsURL = ep.APIURL + "/bags/x/y"
	if kids := jwksKIDs(t, ep.JWKSURL); !slices.Contains(kids, oldKID) || len(kids) < 2 || kids[0] != newKID {
		t.Errorf("JWKS after restart = %v, want %s first and %s still published", kids, newKID, oldKID)
	}
	bagsToken := mustToken(t, ep.TokenURL, bagsID, bagsSecret)
	if kid := kidOf(t, bagsToken); kid != newKID {
		t.Errorf("kid after restart = %s, want %s", kid, newKID)
	}
	if code, body := gatewayGet(t, bagsURL, bagsToken); code != http.StatusNotFound {
		t.Errorf("bags-only client after restart: %d %s", code, body)
	}
	if code, _ := gatewayGet(t, ep.APIURL+"/ingests/"+uuid.NewString(), bagsToken); code != http.StatusUnauthorized {
		t.Errorf("bags-only client on ingests after restart: %d, want 401", code)
	}
}

// TestClientsCreatedWhileStopped: the clients commands work on the state
// dir with no stack running, and the stack honours what they did.
func TestClientsCreatedWhileStopped(t *testing.T) {
	stateDir := t.TempDir()
	cfgPath := writeConfig(t, testStack(12))
	up := startUp(t, stateDir, "--config", cfgPath) // the first start makes the pool
	up.stop(t)

	id, secret := createClient(t, stateDir, cfgPath, "offline", scopeBagsE2E)
	startUp(t, stateDir, "--config", cfgPath)
	var ep stack.Endpoints
	readJSONFile(t, filepath.Join(stateDir, stack.EndpointsFile), &ep)
	tok := mustToken(t, ep.TokenURL, id, secret)
	if code, body := gatewayGet(t, ep.APIURL+"/bags/x/y", tok); code != http.StatusNotFound {
		t.Errorf("bags with a bags-scoped token: %d %s, want the app's 404", code, body)
	}
	if code, _ := gatewayGet(t, ep.APIURL+"/ingests/1e4b3b8c-6f2a-4d3e-9a51-2b7c0f1d2e3a", tok); code != http.StatusUnauthorized {
		t.Errorf("ingests with a bags-scoped token: %d, want 401", code)
	}
}
