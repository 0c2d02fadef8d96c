package gateway

import (
	"context"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func BenchmarkRoute(b *testing.B) {
	rt, err := buildTree(routingResources("http://h"), nil)
	if err != nil {
		b.Fatal(err)
	}
	paths := []string{"/bags/digitised/b12345/versions", "/ingests/123/callback", "/a/b/c", "/a/b/x/y/z", "/nope/x"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		segs, err := normalizePath(paths[i%len(paths)], false)
		if err != nil {
			b.Fatal(err)
		}
		rt.match(segs)
		i++
	}
}

func benchAuthorizer(b *testing.B) (*authorizer, string) {
	js := newJWKSServer(b)
	js.setKey("k1", testKey1())
	clock := newFakeClock()
	keys := newJWKSCache(js.URL(), &http.Client{Transport: newTransport()}, clock.Now, 5*time.Second, 5*time.Second)
	a := newAuthorizer(testIssuer, keys, clock.Now, 0)
	tok := "Bearer " + signToken(b, testKey1(), "k1", tokenClaims(clock.Now(), scopeBags))
	if _, gerr := a.authorize(context.Background(), tok, []string{scopeBags}); gerr != nil {
		b.Fatal(gerr)
	}
	return a, tok
}

func BenchmarkAuthorize(b *testing.B) {
	scopes := []string{scopeIngests, scopeBags}
	b.Run("cached", func(b *testing.B) {
		a, tok := benchAuthorizer(b)
		b.ReportAllocs()
		for b.Loop() {
			if _, gerr := a.authorize(context.Background(), tok, scopes); gerr != nil {
				b.Fatal(gerr)
			}
		}
	})
	b.Run("uncached", func(b *testing.B) {
		a, tok := benchAuthorizer(b)
		key := sha256.Sum256([]byte(tok[len("Bearer "):]))
		b.ReportAllocs()
		for b.Loop() {
			a.drop(key) // force full RS256 verification every time
			if _, gerr := a.authorize(context.Background(), tok, scopes); gerr != nil {
				b.Fatal(gerr)
			}
		}
	})
}

func BenchmarkServeHTTPMissingToken(b *testing.B) {
	g, err := New(Config{Listen: "127.0.0.1:0", Stage: "v1", Resources: routingResources("http://127.0.0.1:1")})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/v1/nope/x", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		g.ServeHTTP(w, req)
		if w.Code != http.StatusForbidden {
			b.Fatal(w.Code)
		}
	}
}
