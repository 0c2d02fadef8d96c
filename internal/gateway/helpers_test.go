package gateway

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const (
	testIssuer     = "http://127.0.0.1:8081/eu-west-1_portway"
	scopeBags      = "https://api.wellcomecollection.org/storage/v1/bags"
	scopeIngests   = "https://api.wellcomecollection.org/storage/v1/ingests"
	testClientID   = "client-abc"
	testRSAKeyBits = 2048
)

// Keys are expensive under -race; generate each once per test binary.
var (
	testKey1      = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA() })
	testKey2      = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA() })
	testKeyForged = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA() })
)

func mustRSA() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, testRSAKeyBits)
	if err != nil {
		panic(err)
	}
	return k
}

// fakeClock is an injectable clock that only moves when told to.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_750_000_000, 0)} }

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

// jwksServer serves a mutable key set and counts fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	keys    map[string]*rsa.PrivateKey
	fetches atomic.Int64
	down    atomic.Bool
}

func newJWKSServer(t testing.TB) *jwksServer {
	js := &jwksServer{keys: map[string]*rsa.PrivateKey{}}
	js.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		js.fetches.Add(1)
		if js.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		js.mu.Lock()
		set := jose.JSONWebKeySet{}
		for kid, k := range js.keys {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"})
		}
		js.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(js.Close)
	return js
}

func (js *jwksServer) setKey(kid string, k *rsa.PrivateKey) {
	js.mu.Lock()
	defer js.mu.Unlock()
	js.keys[kid] = k
}

func (js *jwksServer) URL() string { return js.Server.URL + "/.well-known/jwks.json" }

// claims for a Cognito-style access token valid at now.
func tokenClaims(now time.Time, scopes ...string) map[string]any {
	return map[string]any{
		"sub": testClientID, "client_id": testClientID, "token_use": "access",
		"scope": strings.Join(scopes, " "), "iss": testIssuer,
		"iat": now.Unix(), "auth_time": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"version": 2, "jti": "jti-1",
	}
}

// signToken signs claims with go-jose, RS256, the given kid.
func signToken(t testing.TB, k *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), kid)
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: k}, opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// echo is what the echo backend reports about the request it received.
type echo struct {
	Method     string      `json:"method"`
	RequestURI string      `json:"requestUri"`
	Host       string      `json:"host"`
	Header     http.Header `json:"header"`
	Body       []byte      `json:"body"`
}

// newEchoBackend returns a backend that reports the request as JSON.
func newEchoBackend(t testing.TB) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(echo{Method: r.Method, RequestURI: r.RequestURI, Host: r.Host, Header: r.Header, Body: body})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// startGateway builds and starts a gateway on 127.0.0.1:0.
func startGateway(t testing.TB, cfg Config) *Gateway {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Stage == "" && len(cfg.Stages) == 0 {
		cfg.Stage = "v1"
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := g.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return g
}

func proxyMethod(method, auth, uri string, scopes ...string) Method {
	return Method{HTTPMethod: method, Authorization: auth, Scopes: scopes,
		Integration: Integration{Type: IntegrationHTTPProxy, URI: uri}}
}

// rawRequest sends bytes as-is (no client-side path cleaning) and reads one response.
func rawRequest(t testing.TB, addr, req string) (*http.Response, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

func hostOf(rawURL string) string { return strings.TrimPrefix(rawURL, "http://") }

func do(t testing.TB, req *http.Request) (*http.Response, string) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(body)
}

func get(t testing.TB, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return do(t, req)
}

func decodeEcho(t testing.TB, body string) echo {
	t.Helper()
	var e echo
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("backend reply %q: %v", body, err)
	}
	return e
}

// logBuffer collects JSON log lines safely.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func (l *logBuffer) accessLines(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(l.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == "access" {
			out = append(out, m)
		}
	}
	return out
}
