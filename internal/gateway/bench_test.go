package gateway

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portway/portway/internal/h1"
	"github.com/portway/portway/internal/trace"
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

func benchAuthorizer(b *testing.B) (*authorizer, []byte) {
	js := newJWKSServer(b)
	js.setKey("k1", testKey1())
	clock := newFakeClock()
	keys := newJWKSCache(js.URL(), &http.Client{Transport: newTransport(nil)}, clock.Now, 5*time.Second, 5*time.Second)
	a := newAuthorizer(testIssuer, keys, clock.Now, 0)
	tok := []byte("Bearer " + signToken(b, testKey1(), "k1", tokenClaims(clock.Now(), scopeBags)))
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
		key := sha256.Sum256(tok[len("Bearer "):])
		b.ReportAllocs()
		for b.Loop() {
			a.drop(key) // force full RS256 verification every time
			if _, gerr := a.authorize(context.Background(), tok, scopes); gerr != nil {
				b.Fatal(gerr)
			}
		}
	})
}

// BenchmarkMissingToken: the whole pipeline up to a gateway response,
// by invoke URL and by custom domain (base path mapping), from a request
// head to the bytes of the response, without I/O.
func BenchmarkMissingToken(b *testing.B) {
	cfg := Config{Listen: "127.0.0.1:0", Stage: "v1", Resources: routingResources("http://127.0.0.1:1"),
		Domains: []Domain{{Name: "api.localhost", Mappings: []BasePathMapping{
			{BasePath: "storage/v1", Stage: "v1"}, {BasePath: "storage", Stage: "v1"}, {BasePath: BasePathNone, Stage: "v1"},
		}}}}
	g, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, host, path string }{
		{"invoke URL", "127.0.0.1:8080", "/v1/nope/x"},
		{"custom domain", "api.localhost:8080", "/storage/v1/nope/x"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			head := "GET " + bc.path + " HTTP/1.1\r\nHost: " + bc.host + "\r\nUser-Agent: bench\r\n\r\n"
			sc := &h1.ServerConn{RemoteIP: "127.0.0.1"}
			src := strings.NewReader(head)
			br := bufio.NewReader(src)
			w := bufio.NewWriter(io.Discard)
			b.ReportAllocs()
			for b.Loop() {
				src.Reset(head)
				br.Reset(src)
				if err := sc.Req.ReadRequest(br, 16<<10); err != nil {
					b.Fatal(err)
				}
				st := &reqState{start: g.now(), requestID: newRequestID(), apigwID: newAPIGWID(), resourcePath: "-", clientID: "-"}
				r := newRequest(sc)
				_, _, gerr := g.handle(r, st)
				if gerr == nil || gerr.typ != RespMissingAuthToken {
					b.Fatal(gerr)
				}
				g.writeError(w, r, st, gerr, false)
				w.Reset(io.Discard)
			}
		})
	}
}

func BenchmarkClientThrottle(b *testing.B) {
	c := newClientLimiters(ClientThrottleConfig{RateLimit: 1e9, BurstLimit: 1e6, MaxClients: 1000})
	ids := make([]string, 2000) // twice the bound: evictions on every other call
	for i := range ids {
		ids[i] = fmt.Sprint("client-", i)
	}
	now := time.Now()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.allow(ids[i%len(ids)], now)
		i++
	}
}

// BenchmarkForwardHeads: the gateway's own work for one forwarded request,
// without I/O: parse the client's head, route, ids, write the integration
// request, parse the backend's response head, write the client's, and the
// access log line (to a discarding text logger).
func BenchmarkForwardHeads(b *testing.B) {
	g, err := New(Config{Listen: "127.0.0.1:0", Stage: "v1",
		Resources: []Resource{{Path: "/ingests/{proxy+}", Methods: []Method{proxyMethod("ANY", AuthNone, "http://127.0.0.1:9/ingests/{proxy}")}}},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	reqHead := "GET /v1/ingests/0f7d6a4c-1b6c-4d43-8a56-2a6a3b8d9e51?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: bench\r\n" +
		"Authorization: Bearer " + strings.Repeat("a", 900) + "\r\nAccept: */*\r\n\r\n"
	resHead := "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Mon, 02 Jan 2006 15:04:05 GMT\r\nContent-Length: 843\r\n\r\n"
	sc := &h1.ServerConn{RemoteIP: "127.0.0.1"}
	src, rsrc := strings.NewReader(reqHead), strings.NewReader(resHead)
	br, rbr := bufio.NewReader(src), bufio.NewReader(rsrc)
	w := bufio.NewWriterSize(io.Discard, 16<<10)
	b.ReportAllocs()
	for b.Loop() {
		src.Reset(reqHead)
		br.Reset(src)
		if err := sc.Req.ReadRequest(br, 16<<10); err != nil {
			b.Fatal(err)
		}
		st := &reqState{start: g.now(), requestID: newRequestID(), apigwID: newAPIGWID(), resourcePath: "-", clientID: "-"}
		r := newRequest(sc)
		_, target, gerr := g.handle(r, st)
		if gerr != nil {
			b.Fatal(gerr)
		}
		call := integrationCall{g: g, target: target, prefix: st.prefix, proto: "http", traceID: trace.NewHeader(g.now())}
		writeIntegrationRequest(w, r, &call)
		rsrc.Reset(resHead)
		rbr.Reset(rsrc)
		if err := sc.Res.ReadResponse(rbr, 64<<10); err != nil {
			b.Fatal(err)
		}
		g.writeResponseHead(w, &sc.Res, st, h1.Plan(&sc.Req, &sc.Res, true))
		st.code, st.bytes = 200, 843
		g.logAccess(r, st)
		w.Reset(io.Discard)
	}
}

// BenchmarkHostCheck: the check of the host a request names.
func BenchmarkHostCheck(b *testing.B) {
	s := newServedHosts(Config{Listen: "127.0.0.1:8080", Domains: []Domain{{Name: "api.localhost"}}})
	hosts := []string{"127.0.0.1:8080", "api.localhost:8080", "localhost", "evil.example"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.check(hosts[i%len(hosts)], nil)
		i++
	}
}
