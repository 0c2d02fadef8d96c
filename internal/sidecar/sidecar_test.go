package sidecar

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// seen is what the upstream observed for one request.
type seen struct {
	host, method, path, rawPath, query string
	header                             http.Header
	body                               []byte
}

type upstream struct {
	*httptest.Server
	mu    sync.Mutex
	reqs  []seen
	conns atomic.Int32
}

func newUpstream(t *testing.T, h func(w http.ResponseWriter, r *http.Request)) *upstream {
	t.Helper()
	u := &upstream{}
	u.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, seen{r.Host, r.Method, r.URL.Path, r.URL.RawPath, r.URL.RawQuery, r.Header.Clone(), body})
		u.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	u.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			u.conns.Add(1)
		}
	}
	u.Start()
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) last(t *testing.T) seen {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) == 0 {
		t.Fatal("upstream saw no request")
	}
	return u.reqs[len(u.reqs)-1]
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.reqs)
}

func startSidecar(t testing.TB, cfg Config) *Sidecar {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
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

var client = &http.Client{Timeout: 10 * time.Second}

func do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, body
}

func assertCORS(t *testing.T, h http.Header) {
	t.Helper()
	for k, want := range CORSHeaders() {
		if got := h.Values(k); len(got) != 1 || got[0] != want[0] {
			t.Errorf("%s = %q, want exactly [%q]", k, got, want[0])
		}
	}
}

func TestForwardsRequestWithHeaders(t *testing.T) {
	up := newUpstream(t, nil)
	s := startSidecar(t, Config{Upstream: up.URL})

	body := `{"space":"digitised","bag":"b1234"}`
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.Addr()+"/ingests/a%2Fb/c?x=1&y=%20z&x=2", strings.NewReader(body))
	req.Host = "api.example.test:8080"
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	req.Header.Add("X-Forwarded-For", "10.0.0.1")
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("X-Forwarded-Host", "api.wellcomecollection.org")
	req.Header.Set("X-Forwarded-Prefix", "/storage/v1")
	req.Header.Set("X-Real-IP", "6.6.6.6") // spoofed: must be overwritten
	req.Header.Set("X-Amzn-Trace-Id", "Root=1-abc")
	resp, got := do(t, req)

	if resp.StatusCode != http.StatusOK || string(got) != `{"ok":true}` {
		t.Fatalf("response = %d %q", resp.StatusCode, got)
	}
	assertCORS(t, resp.Header)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}

	r := up.last(t)
	checks := []struct{ name, got, want string }{
		{"Host", r.host, "api.example.test:8080"},
		{"method", r.method, http.MethodPost},
		{"path", r.path, "/ingests/a/b/c"},
		{"raw path", r.rawPath, "/ingests/a%2Fb/c"},
		{"query", r.query, "x=1&y=%20z&x=2"},
		{"body", string(r.body), body},
		{"X-Real-IP", r.header.Get("X-Real-IP"), "127.0.0.1"},
		{"X-Forwarded-For", strings.Join(r.header.Values("X-Forwarded-For"), "|"), "203.0.113.7, 10.0.0.1, 127.0.0.1"},
		{"X-Forwarded-Proto", r.header.Get("X-Forwarded-Proto"), "https"},
		{"X-Forwarded-Host", r.header.Get("X-Forwarded-Host"), "api.wellcomecollection.org"},
		{"X-Forwarded-Prefix", r.header.Get("X-Forwarded-Prefix"), "/storage/v1"},
		{"X-Amzn-Trace-Id", r.header.Get("X-Amzn-Trace-Id"), "Root=1-abc"},
		{"Content-Type", r.header.Get("Content-Type"), "application/json"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("upstream %s = %q, want %q", c.name, c.got, c.want)
		}
	}
}

func TestNoForwardedHeadersFromClient(t *testing.T) {
	up := newUpstream(t, nil)
	s := startSidecar(t, Config{Upstream: up.URL})
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.Addr()+"/bags", nil)
	do(t, req)
	r := up.last(t)
	if got := r.header.Get("X-Forwarded-For"); got != "127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q, want 127.0.0.1", got)
	}
	for _, k := range []string{"X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Prefix", "Forwarded"} {
		if v, ok := r.header[k]; ok {
			t.Errorf("%s = %q, want absent (passed through only when the client sends it)", k, v)
		}
	}
	if r.host != s.Addr() {
		t.Errorf("Host = %q, want %q", r.host, s.Addr())
	}
}

func TestCORSReplacesAppHeaders(t *testing.T) {
	tests := []struct {
		name   string
		status int
	}{
		{"ok", http.StatusOK},
		{"app error", http.StatusInternalServerError},
		{"not found", http.StatusNotFound},
		{"no content", http.StatusNoContent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Access-Control-Allow-Origin", "https://evil.example")
				w.Header().Add("Access-Control-Allow-Methods", "PUT")
				w.Header().Add("Access-Control-Allow-Methods", "DELETE")
				w.Header().Set("X-App", "kept")
				w.WriteHeader(tc.status)
			})
			s := startSidecar(t, Config{Upstream: up.URL})
			req, _ := http.NewRequest(http.MethodGet, "http://"+s.Addr()+"/x", nil)
			resp, _ := do(t, req)
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.status)
			}
			assertCORS(t, resp.Header)
			if resp.Header.Get("X-App") != "kept" {
				t.Error("app header X-App lost")
			}
		})
	}
}

func TestOptionsIsProxied(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	s := startSidecar(t, Config{Upstream: up.URL})
	req, _ := http.NewRequest(http.MethodOptions, "http://"+s.Addr()+"/bags", nil)
	req.Header.Set("Origin", "https://example.org")
	resp, _ := do(t, req)
	if resp.StatusCode != http.StatusNoContent || up.last(t).method != http.MethodOptions {
		t.Fatalf("status %d, upstream method %q", resp.StatusCode, up.last(t).method)
	}
	assertCORS(t, resp.Header)
}

func TestDeadUpstreamIs502(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	s := startSidecar(t, Config{Upstream: dead})

	for _, m := range []string{http.MethodGet, http.MethodPost} {
		req, _ := http.NewRequest(m, "http://"+s.Addr()+"/ingests", strings.NewReader("{}"))
		resp, body := do(t, req)
		if resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("%s: status = %d, want 502", m, resp.StatusCode)
		}
		if !bytes.Contains(body, []byte("502 Bad Gateway")) || len(body) > 512 {
			t.Errorf("body = %q", body)
		}
		assertCORS(t, resp.Header)
	}
}

func TestUpstreamTimeoutIs504(t *testing.T) {
	release := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) })
	s := startSidecar(t, Config{Upstream: up.URL, UpstreamTimeout: 100 * time.Millisecond})
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.Addr()+"/slow", nil)
	resp, body := do(t, req)
	if resp.StatusCode != http.StatusGatewayTimeout || !bytes.Contains(body, []byte("504 Gateway Time-out")) {
		t.Fatalf("got %d %q, want 504", resp.StatusCode, body)
	}
	assertCORS(t, resp.Header)
}

func TestBodyLimit(t *testing.T) {
	up := newUpstream(t, nil)
	s := startSidecar(t, Config{Upstream: up.URL, MaxBodyBytes: 1024})
	url := "http://" + s.Addr() + "/bags"

	t.Run("within limit", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(bytes.Repeat([]byte("a"), 1024)))
		resp, _ := do(t, req)
		if resp.StatusCode != http.StatusOK || len(up.last(t).body) != 1024 {
			t.Fatalf("status %d, upstream got %d bytes", resp.StatusCode, len(up.last(t).body))
		}
	})
	t.Run("content-length over limit", func(t *testing.T) {
		before := up.count()
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(bytes.Repeat([]byte("a"), 1025)))
		resp, _ := do(t, req)
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status = %d, want 413", resp.StatusCode)
		}
		assertCORS(t, resp.Header)
		if up.count() != before {
			t.Error("oversized request reached the upstream")
		}
	})
	t.Run("chunked over limit", func(t *testing.T) {
		// io.MultiReader hides the length, so the body is sent chunked.
		req, _ := http.NewRequest(http.MethodPost, url, io.MultiReader(bytes.NewReader(bytes.Repeat([]byte("a"), 4096))))
		resp, _ := do(t, req)
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status = %d, want 413", resp.StatusCode)
		}
		assertCORS(t, resp.Header)
	})
}

func TestKeepAliveToUpstream(t *testing.T) {
	up := newUpstream(t, nil)
	s := startSidecar(t, Config{Upstream: up.URL})
	for i := 0; i < 10; i++ {
		req, _ := http.NewRequest(http.MethodGet, "http://"+s.Addr()+"/bags", nil)
		do(t, req)
	}
	if n := up.conns.Load(); n != 1 {
		t.Errorf("upstream saw %d connections for 10 sequential requests, want 1", n)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"ok", Config{Listen: "127.0.0.1:0", Upstream: "http://127.0.0.1:9001"}, ""},
		{"no listen", Config{Upstream: "http://127.0.0.1:9001"}, "listen: required"},
		{"bad listen", Config{Listen: "nope", Upstream: "http://127.0.0.1:9001"}, "listen:"},
		{"no upstream", Config{Listen: ":0"}, "upstream: required"},
		{"https upstream", Config{Listen: ":0", Upstream: "https://x:1"}, "upstream: must be an http://"},
		{"hostless upstream", Config{Listen: ":0", Upstream: "http://"}, "upstream: must be an http://"},
		{"query upstream", Config{Listen: ":0", Upstream: "http://x:1/?a=b"}, "upstream: must not have a query"},
		{"negative body", Config{Listen: ":0", Upstream: "http://x:1", MaxBodyBytes: -1}, "maxBodyBytes: must be >= 0"},
		{"negative timeout", Config{Listen: ":0", Upstream: "http://x:1", ReadHeaderTimeout: -1}, "readHeaderTimeout: must be >= 0"},
		{"proxy protocol", Config{Listen: ":0", Upstream: "http://x:1", ProxyProtocol: true}, ""},
		{"negative proxy header timeout", Config{Listen: ":0", Upstream: "http://x:1", ProxyProtocol: true, ProxyHeaderTimeout: -1}, "proxyHeaderTimeout: must be >= 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want containing %q", err, tc.wantErr)
			}
			if _, nerr := New(tc.cfg); nerr == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}

func TestBusyPortAndStop(t *testing.T) {
	up := newUpstream(t, nil)
	first := startSidecar(t, Config{Upstream: up.URL})

	second, err := New(Config{Listen: first.Addr(), Upstream: up.URL})
	if err != nil {
		t.Fatal(err)
	}
	err = second.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), first.Addr()) {
		t.Fatalf("Start on busy port: err = %v, want one naming %s", err, first.Addr())
	}
	if second.Addr() != "" {
		t.Errorf("failed sidecar reports Addr %q", second.Addr())
	}
	if err := second.Stop(context.Background()); err != nil {
		t.Errorf("Stop of never-started sidecar: %v", err)
	}

	addr := first.Addr()
	if err := first.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepting after Stop", addr)
	}
}

// TestKeepAliveAfterBodyPastUpstreamTimeout: a connection that carried a
// request body is reused for a bodiless request after longer than the
// upstream timeout, with no stale write deadline left on it.
func TestKeepAliveAfterBodyPastUpstreamTimeout(t *testing.T) {
	up := newUpstream(t, nil)
	const timeout = 200 * time.Millisecond
	s := startSidecar(t, Config{Upstream: up.URL, UpstreamTimeout: timeout})
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.Addr()+"/ingests", strings.NewReader(`{"a":1}`))
	if resp, _ := do(t, req); resp.StatusCode != http.StatusOK {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
	deadline := time.Now().Add(2 * timeout) // wait the timeout out, by the clock
	for time.Now().Before(deadline) {
		time.Sleep(timeout / 4)
	}
	req, _ = http.NewRequest(http.MethodGet, "http://"+s.Addr()+"/ingests/x", nil)
	if resp, body := do(t, req); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET on the reused connection: %d %s", resp.StatusCode, body)
	}
	if n := up.conns.Load(); n != 1 {
		t.Errorf("upstream saw %d connections, want 1 (reused)", n)
	}
}

// TestServerHeader: like nginx, the sidecar answers with its own Server
// field (the app's is hidden, as proxy_hide_header does by default), on
// relayed answers and its own error pages alike; "" sends none. Behind the
// gateway it comes back as x-amzn-Remapped-Server.
func TestServerHeader(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "app/1.0")
		_, _ = io.WriteString(w, "ok")
	})
	for _, tt := range []struct{ configured, want string }{{"nginx", "nginx"}, {"", ""}} {
		s := startSidecar(t, Config{Upstream: up.URL, ServerHeader: tt.configured})
		req, _ := http.NewRequest(http.MethodGet, "http://"+s.Addr()+"/x", nil)
		resp, _ := do(t, req)
		if got := strings.Join(resp.Header.Values("Server"), ","); got != tt.want {
			t.Errorf("ServerHeader %q: relayed answer has Server %q, want %q", tt.configured, got, tt.want)
		}
		// An error page: a body over the limit is announced.
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(c, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n")
		resp, err = http.ReadResponse(bufio.NewReader(c), nil)
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("status %d", resp.StatusCode)
		}
		if got := strings.Join(resp.Header.Values("Server"), ","); got != tt.want {
			t.Errorf("ServerHeader %q: error page has Server %q, want %q", tt.configured, got, tt.want)
		}
	}
	if err := (Config{Listen: "127.0.0.1:0", Upstream: up.URL, ServerHeader: "nginx\r\nX-Evil: 1"}).Validate(); err == nil || !strings.Contains(err.Error(), "serverHeader") {
		t.Errorf("a Server value with CR LF: %v", err)
	}
}
