package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

const (
	testRSID     = "https://api.wellcomecollection.org/storage/v1"
	scopeBags    = testRSID + "/bags"
	scopeIngests = testRSID + "/ingests"
)

var testResourceServers = []ResourceServer{{Identifier: testRSID, Scopes: []string{"bags", "ingests"}}}

// fakeClock is a settable clock safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// sharedKeys are generated once so that most tests skip RSA key generation.
var sharedKeys = sync.OnceValue(func() [3]*rsa.PrivateKey {
	var out [3]*rsa.PrivateKey
	for i := range out {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		out[i] = k
	}
	return out
})

func sharedKey() *rsa.PrivateKey { return sharedKeys()[0] }

// testSigningKey returns shared key i (0..2) with a status.
func testSigningKey(t testing.TB, i int, status string, retireAfter time.Time) *signingKey {
	t.Helper()
	sk, err := newSigningKey(sharedKeys()[i], time.Unix(0, 0).UTC())
	if err != nil {
		t.Fatal(err)
	}
	sk.status, sk.retireAfter = status, retireAfter
	return sk
}

// seedKeys writes keys.json with shared keys 0 (active) and 1 (next) into
// stateDir.
func seedKeys(t testing.TB, stateDir string) {
	t.Helper()
	dir, err := ensureAuthDir(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	keys := []*signingKey{testSigningKey(t, 0, KeyActive, time.Time{}), testSigningKey(t, 1, KeyNext, time.Time{})}
	if err := writeKeys(filepath.Join(dir, keysFileName), keys); err != nil {
		t.Fatal(err)
	}
}

func testConfig(t testing.TB, clk *fakeClock) Config {
	t.Helper()
	dir := t.TempDir()
	seedKeys(t, dir)
	return Config{
		Listen:          "127.0.0.1:0",
		StateDir:        dir,
		ResourceServers: testResourceServers,
		BcryptCost:      bcrypt.MinCost,
		Now:             clk.Now,
	}
}

// startServer builds and starts a server, stopping it at cleanup.
func startServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return s
}

func mustCreate(t testing.TB, cs *ClientStore, name string, scopes ...string) (string, string) {
	t.Helper()
	id, secret, err := cs.Create(name, scopes, 0)
	if err != nil {
		t.Fatalf("Create(%q): %v", name, err)
	}
	return id, secret
}

// tokenReq describes a token request.
type tokenReq struct {
	method      string // default POST
	contentType string // default form; "-" for none
	form        url.Values
	rawBody     string // used instead of form when set
	basicUser   string
	basicPass   string
	basic       bool
	authz       string // raw Authorization header
	remoteAddr  string // for Handler() requests
}

func (tr tokenReq) build(target string) *http.Request {
	method := tr.method
	if method == "" {
		method = http.MethodPost
	}
	body := tr.rawBody
	if body == "" && tr.form != nil {
		body = tr.form.Encode()
	}
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	switch tr.contentType {
	case "":
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case "-":
	default:
		r.Header.Set("Content-Type", tr.contentType)
	}
	if tr.basic {
		r.SetBasicAuth(url.QueryEscape(tr.basicUser), url.QueryEscape(tr.basicPass))
	}
	if tr.authz != "" {
		r.Header.Set("Authorization", tr.authz)
	}
	if tr.remoteAddr != "" {
		r.RemoteAddr = tr.remoteAddr
	}
	return r
}

// serve runs a request through the handler in-process.
func serve(s *Server, tr tokenReq) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, tr.build("http://auth.test/oauth2/token"))
	return w
}

// post sends the request over real HTTP to a started server.
func post(t testing.TB, s *Server, tr tokenReq) (*http.Response, []byte) {
	t.Helper()
	r := tr.build(s.TokenURL())
	r.RequestURI = ""
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func ccForm(kv ...string) url.Values {
	v := url.Values{"grant_type": {"client_credentials"}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// decodeSegment decodes one base64url JWT segment into a map.
func decodeSegment(t testing.TB, seg string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("segment: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("segment json: %v", err)
	}
	return m
}

func tokenFrom(t testing.TB, body []byte) tokenResponse {
	t.Helper()
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		t.Fatalf("token response %q: %v", body, err)
	}
	if tr.AccessToken == "" {
		t.Fatalf("no access_token in %s", body)
	}
	return tr
}

func claimsOf(t testing.TB, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	return decodeSegment(t, parts[1])
}
