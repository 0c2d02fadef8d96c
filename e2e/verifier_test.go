package e2e

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portway/portway/internal/auth"
	"github.com/portway/portway/internal/stack"
)

// verifyScript runs AWS's own verifier library, aws-jwt-verify, on the
// cases it reads from stdin: {"jwks": …, "cases": [{"name", "userPoolId",
// "clientId", "token"}]}. The JWKS is given to the verifier with
// cacheJwks, and its JWKS cache has a fetcher that refuses every fetch, so
// the script reaches no network (a CognitoJwtVerifier would otherwise
// fetch https://cognito-idp.{region}.amazonaws.com/{pool}/.well-known/jwks.json
// for a kid it lacks). It prints one JSON line per case: {"name", "ok",
// "payload"} or {"name", "ok": false, "error", "message"}.
const verifyScript = `
const { CognitoJwtVerifier } = require("aws-jwt-verify");
const { SimpleJwksCache } = require("aws-jwt-verify/jwk");

const noNetwork = {
  fetch: async (uri) => { throw new Error("the test refuses to fetch " + uri); },
};

async function main() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  for (const c of input.cases) {
    let out;
    try {
      const verifier = CognitoJwtVerifier.create(
        { userPoolId: c.userPoolId, tokenUse: "access", clientId: c.clientId },
        { jwksCache: new SimpleJwksCache({ fetcher: noNetwork }) },
      );
      verifier.cacheJwks(input.jwks);
      const payload = await verifier.verify(c.token);
      out = { name: c.name, ok: true, payload };
    } catch (e) {
      out = { name: c.name, ok: false, error: e.constructor.name, message: String(e.message) };
    }
    process.stdout.write(JSON.stringify(out) + "\n");
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
`

// nodeModules returns a node_modules directory that holds aws-jwt-verify:
// $PORTWAY_TEST_NODE_MODULES (a node_modules directory, or an npm prefix
// that has one), as CI pre-installs it, or else one made by `npm install`
// into a temporary directory. It skips the test when node or npm is
// missing.
func nodeModules(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed: this test runs AWS's aws-jwt-verify (apt-get install nodejs npm)")
	}
	if dir := os.Getenv("PORTWAY_TEST_NODE_MODULES"); dir != "" {
		for _, nm := range []string{filepath.Join(dir, "node_modules"), dir} {
			if _, err := os.Stat(filepath.Join(nm, "aws-jwt-verify", "package.json")); err == nil {
				return nm
			}
		}
		t.Fatalf("PORTWAY_TEST_NODE_MODULES=%s has no aws-jwt-verify (npm install --prefix DIR aws-jwt-verify)", dir)
	}
	if _, err := exec.LookPath("npm"); err != nil {
		t.Skip("npm is not installed, and PORTWAY_TEST_NODE_MODULES is not set: this test runs AWS's aws-jwt-verify (apt-get install nodejs npm)")
	}
	prefix := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "install", "--prefix", prefix, "--no-audit", "--no-fund", "aws-jwt-verify")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install aws-jwt-verify: %v\n%s", err, out)
	}
	return filepath.Join(prefix, "node_modules")
}

type verifyCase struct {
	Name       string `json:"name"`
	UserPoolID string `json:"userPoolId"`
	ClientID   string `json:"clientId"`
	Token      string `json:"token"`
}

type verifyResult struct {
	Name    string         `json:"name"`
	OK      bool           `json:"ok"`
	Payload map[string]any `json:"payload"`
	Error   string         `json:"error"`
	Message string         `json:"message"`
}

// runVerifier runs verifyScript with node on the cases.
func runVerifier(t *testing.T, modules string, jwks json.RawMessage, cases []verifyCase) map[string]verifyResult {
	t.Helper()
	script := filepath.Join(t.TempDir(), "verify.js")
	if err := os.WriteFile(script, []byte(verifyScript), 0o644); err != nil {
		t.Fatal(err)
	}
	input, err := json.Marshal(map[string]any{"jwks": jwks, "cases": cases})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	cmd.Stdin = bytes.NewReader(input)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node verify.js: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
	}
	results := map[string]verifyResult{}
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var r verifyResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("verifier output %q: %v", line, err)
		}
		results[r.Name] = r
	}
	if len(results) != len(cases) {
		t.Fatalf("verifier answered %d cases of %d:\n%s\nstderr:\n%s", len(results), len(cases), &stdout, &stderr)
	}
	return results
}

// resign returns token with the same header and claims, signed by key.
func resign(t *testing.T, token string, key *rsa.PrivateKey) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// TestAWSJwtVerifyAcceptsTokens runs `portway up` with issuerStyle aws and
// checks its access tokens with AWS's own verifier library, aws-jwt-verify
// (CognitoJwtVerifier, the library AWS recommends for Cognito tokens in
// Node.js), given the JWKS from the stack's jwks_url: a token from the
// stack verifies; the same token signed by another key, or checked as a
// token of another user pool or of another client, does not.
func TestAWSJwtVerifyAcceptsTokens(t *testing.T) {
	modules := nodeModules(t)

	cfg := testStack(75)
	cfg.Auth.IssuerStyle = auth.IssuerStyleAWS
	stateDir := t.TempDir()
	startUp(t, stateDir, "--config", writeConfig(t, cfg))
	var ep stack.Endpoints
	readJSONFile(t, filepath.Join(stateDir, stack.EndpointsFile), &ep)
	var creds map[string]string
	readJSONFile(t, filepath.Join(stateDir, stack.CredentialsFile), &creds)

	token := mustToken(t, ep.TokenURL, creds["client_id"], creds["client_secret"])
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(ep.JWKSURL)
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", ep.JWKSURL, resp.StatusCode, err)
	}
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}

	// A token of another pool: the stack's claims with another pool's
	// issuer, signed by the stack's own active key (from its keys file), so
	// only the issuer is wrong.
	pool := cfg.Auth.UserPoolID
	otherPoolToken := resign(t, withClaim(t, token, "iss", "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_another"), activeKey(t, stateDir))
	results := runVerifier(t, modules, jwks, []verifyCase{
		{"stack token", pool, creds["client_id"], token},
		{"signed by another key", pool, creds["client_id"], resign(t, token, otherKey)},
		{"token of another pool", pool, creds["client_id"], otherPoolToken},
		{"verifier of another pool", "eu-west-1_another", creds["client_id"], token},
		{"another client", pool, "someotherclient", token},
	})

	got := results["stack token"]
	if !got.OK {
		t.Fatalf("aws-jwt-verify rejected the stack's token: %s: %s", got.Error, got.Message)
	}
	wantIss := "https://cognito-idp.eu-west-1.amazonaws.com/" + pool
	if got.Payload["iss"] != wantIss || got.Payload["client_id"] != creds["client_id"] || got.Payload["token_use"] != "access" {
		t.Errorf("verified payload %v, want iss %s and client_id %s", got.Payload, wantIss, creds["client_id"])
	}
	// The library's error classes (aws-jwt-verify 5). A CognitoJwtVerifier
	// looks up its configuration by the token's issuer first, and refuses
	// an issuer it was not configured for with a ParameterValidationError.
	for name, want := range map[string]struct{ err, msg string }{
		"signed by another key":    {"JwtInvalidSignatureError", ""},
		"token of another pool":    {"ParameterValidationError", "issuer not configured: https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_another"},
		"verifier of another pool": {"ParameterValidationError", "issuer not configured: " + wantIss},
		"another client":           {"CognitoJwtInvalidClientIdError", ""},
	} {
		r := results[name]
		if r.OK {
			t.Errorf("%s: aws-jwt-verify accepted it: %v", name, r.Payload)
		} else if r.Error != want.err || !strings.Contains(r.Message, want.msg) {
			t.Errorf("%s: rejected with %s (%s), want %s (%s)", name, r.Error, r.Message, want.err, want.msg)
		}
	}
}

// withClaim returns token's header and claims with claim set to value,
// and the old signature (to be replaced by resign).
func withClaim(t *testing.T, token, claim string, value any) string {
	t.Helper()
	claims := jwtPart(t, token, 1)
	claims[claim] = value
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(token, ".")
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
}

// activeKey reads the active signing key from the stack's keys file.
func activeKey(t *testing.T, stateDir string) *rsa.PrivateKey {
	t.Helper()
	var kf struct {
		Keys []struct {
			Status     string `json:"status"`
			PrivateKey string `json:"private_key"`
		} `json:"keys"`
	}
	readJSONFile(t, filepath.Join(stateDir, "auth", "keys.json"), &kf)
	for _, k := range kf.Keys {
		if k.Status != auth.KeyActive {
			continue
		}
		block, _ := pem.Decode([]byte(k.PrivateKey))
		if block == nil {
			t.Fatal("active key: no PEM block")
		}
		key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return key.(*rsa.PrivateKey)
	}
	t.Fatal("no active key in keys.json")
	return nil
}
