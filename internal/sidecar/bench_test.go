package sidecar

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"
)

// BenchmarkHop is one keep-alive GET through a running sidecar to an app
// answering a small JSON body, from parallel clients (go test -bench Hop
// -cpuprofile cpu.out shows where a hop's CPU goes).
func BenchmarkHop(b *testing.B) {
	body := strings.Repeat("x", 700)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}))
	b.Cleanup(up.Close)
	s, err := New(Config{Listen: "127.0.0.1:0", Upstream: up.URL})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.Cleanup(c.CloseIdleConnections)
	u := "http://" + s.Addr() + "/ingests/0f7d6a4c-1b6c-4d43-8a56-2a6a3b8d9e51"
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			req.Header.Set("Authorization", "Bearer abc")
			req.Header.Set("X-Forwarded-For", "203.0.113.7")
			req.Header.Set("X-Forwarded-Proto", "https")
			resp, err := c.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

// BenchmarkHeaders is the sidecar's own header handling of one exchange:
// the request rewrite (Host, X-Real-IP, X-Forwarded-*) and the CORS headers
// on the response, without any I/O.
func BenchmarkHeaders(b *testing.B) {
	cfg := Config{Listen: "127.0.0.1:0", Upstream: "http://127.0.0.1:9"}.withDefaults()
	upstream, _ := url.Parse(cfg.Upstream)
	p := newProxy(cfg, upstream, http.DefaultTransport)
	in := httptest.NewRequest(http.MethodGet, "http://api.example.test/ingests/abc?x=1", nil)
	in.Header.Set("Authorization", "Bearer abc")
	in.Header.Set("X-Forwarded-For", "203.0.113.7")
	in.Header.Set("X-Forwarded-Proto", "https")
	in.Header.Set("X-Forwarded-Host", "api.example.test")
	in.Header.Set("X-Forwarded-Prefix", "/v1")
	b.ReportAllocs()
	for b.Loop() {
		out := in.Clone(in.Context())
		p.Rewrite(&httputil.ProxyRequest{In: in, Out: out})
		resp := &http.Response{Header: http.Header{"Content-Type": {"application/json"}, "Access-Control-Allow-Origin": {"x"}}}
		if err := p.ModifyResponse(resp); err != nil {
			b.Fatal(err)
		}
	}
}
