package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portway/portway/internal/testutil"
)

// locationBackend answers like the storage apps: it echoes the request and
// sets Location from X-Forwarded-Proto/-Host/-Prefix plus its own path minus
// the stage tag, which is the URL the client should have called.
func newLocationBackend(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, path, _ := strings.Cut(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/") // drop the stage tag
		prefix := strings.TrimRight(r.Header.Get("X-Forwarded-Prefix"), "/")
		w.Header().Set("Location", r.Header.Get("X-Forwarded-Proto")+"://"+r.Header.Get("X-Forwarded-Host")+prefix+"/"+path)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(echo{Method: r.Method, RequestURI: r.RequestURI, Host: r.Host, Header: r.Header})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// twoStageConfig has stages v1 and v2 (tagging backend paths /s1 and /s2) and
// two custom domains; the backend learns X-Forwarded-Host and -Prefix.
func twoStageConfig(backend string) Config {
	uri := func(p string) string { return "http://${stageVariables.host}/${stageVariables.tag}" + p }
	return Config{
		ForwardedHeaders: ForwardedHeaders{Host: true, Prefix: true},
		Stages: []Stage{
			{Name: "v1", Variables: map[string]string{"host": hostOf(backend), "tag": "s1"}},
			{Name: "v2", Variables: map[string]string{"host": hostOf(backend), "tag": "s2"}},
		},
		Domains: []Domain{
			{Name: "api.localhost", Mappings: []BasePathMapping{
				{BasePath: "storage", Stage: "v2"},
				{BasePath: "storage/v1", Stage: "v1"},
				{BasePath: BasePathNone, Stage: "v2"},
			}},
			{Name: "Other.Localhost", Mappings: []BasePathMapping{{BasePath: "only/here", Stage: "v2"}}},
		},
		Resources: []Resource{
			{Path: "/", Methods: []Method{proxyMethod("GET", AuthNone, uri("/"))}},
			{Path: "/bags/{proxy+}", Methods: []Method{proxyMethod("ANY", AuthNone, uri("/bags/{proxy}"))}},
		},
	}
}

func TestBasePathMapping(t *testing.T) {
	backend := newLocationBackend(t)
	cfg := twoStageConfig(backend.URL)
	cfg.Responses = map[string]ResponseTemplate{
		RespMissingAuthToken: {Body: `{"stage":"$context.stage","domain":"$context.domainName","path":"$context.path"}`},
	}
	g := startGateway(t, cfg)
	port := g.URL()[strings.LastIndex(g.URL(), ":")+1:]
	tests := []struct {
		name, host, path string
		status           int
		backendURI       string // when 200
		prefix           string // X-Forwarded-Prefix when 200
		body             string // when not 200
	}{
		{"longest base path", "api.localhost:" + port, "/storage/v1/bags/b1", 200, "/s1/bags/b1", "/storage/v1", ""},
		{"shorter base path", "api.localhost:" + port, "/storage/bags/b1", 200, "/s2/bags/b1", "/storage", ""},
		{"segment-wise prefix", "api.localhost:" + port, "/storage/v10/bags/b1", 403, "", "",
			`{"stage":"v2","domain":"api.localhost","path":"/storage/v10/bags/b1"}`},
		{"base path is the root resource", "api.localhost:" + port, "/storage/v1", 200, "/s1/", "/storage/v1", ""},
		{"base path with trailing slash", "api.localhost:" + port, "/storage/v1/", 200, "/s1/", "/storage/v1", ""},
		{"(none) catches the rest", "api.localhost:" + port, "/bags/b1", 200, "/s2/bags/b1", "/", ""},
		{"(none) root", "api.localhost:" + port, "/", 200, "/s2/", "/", ""},
		{"no stage in domain URLs", "api.localhost:" + port, "/v1/bags/b1", 403, "", "",
			`{"stage":"v2","domain":"api.localhost","path":"/v1/bags/b1"}`},
		{"host case-insensitive", "API.LocalHost:" + port, "/storage/v1/bags/b1", 200, "/s1/bags/b1", "/storage/v1", ""},
		{"host without port", "api.localhost", "/storage/v1/bags/b1", 200, "/s1/bags/b1", "/storage/v1", ""},
		{"host with trailing dot", "api.localhost.:" + port, "/storage/v1/bags/b1", 200, "/s1/bags/b1", "/storage/v1", ""},
		{"duplicate slashes", "api.localhost:" + port, "//storage//v1//bags/b1", 200, "/s1/bags/b1", "/storage/v1", ""},
		{"base path is case-sensitive", "api.localhost:" + port, "/Storage/v1/bags/b1", 403, "", "",
			`{"stage":"v2","domain":"api.localhost","path":"/Storage/v1/bags/b1"}`},
		{"unmapped base path", "other.localhost:" + port, "/bags/b1", 403, "", "", `{"message":"Forbidden"}`},
		{"unmapped root", "other.localhost:" + port, "/", 403, "", "", `{"message":"Forbidden"}`},
		{"partial base path", "other.localhost:" + port, "/only/bags/b1", 403, "", "", `{"message":"Forbidden"}`},
		{"multi-segment base path", "other.localhost:" + port, "/only/here/bags/b1", 200, "/s2/bags/b1", "/only/here", ""},
		{"invoke URL v1", "127.0.0.1:" + port, "/v1/bags/b1", 200, "/s1/bags/b1", "/v1", ""},
		{"invoke URL v2", "localhost:" + port, "/v2/bags/b1", 200, "/s2/bags/b1", "/v2", ""},
		{"invoke URL unknown stage", "127.0.0.1:" + port, "/v3/bags/b1", 403, "", "",
			`{"stage":"","domain":"127.0.0.1","path":"/v3/bags/b1"}`},
		{"invoke URL with base path", "127.0.0.1:" + port, "/storage/v1/bags/b1", 403, "", "",
			`{"stage":"","domain":"127.0.0.1","path":"/storage/v1/bags/b1"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, g.URL()+tt.path, nil)
			req.Host = tt.host
			res, body := do(t, req)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d; body %s", res.StatusCode, tt.status, body)
			}
			assertGatewayIDs(t, res)
			if tt.status != 200 {
				if body != tt.body {
					t.Fatalf("body %s, want %s", body, tt.body)
				}
				return
			}
			e := decodeEcho(t, body)
			if e.RequestURI != tt.backendURI {
				t.Fatalf("backend got %q, want %q", e.RequestURI, tt.backendURI)
			}
			if got := e.Header.Get("X-Forwarded-Prefix"); got != tt.prefix {
				t.Fatalf("X-Forwarded-Prefix %q, want %q", got, tt.prefix)
			}
			if got := e.Header.Get("X-Forwarded-Host"); got != tt.host {
				t.Fatalf("X-Forwarded-Host %q, want %q", got, tt.host)
			}
			// The app's Location points where the client called (minus the trailing slash).
			want := "http://" + tt.host + strings.TrimSuffix(cleanSlashes(tt.path), "/")
			if loc := res.Header.Get("Location"); strings.TrimSuffix(loc, "/") != want {
				t.Fatalf("Location %q, want %q", loc, want)
			}
		})
	}
}

func cleanSlashes(p string) string {
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	return p
}

func TestBasePathMappingForbiddenIgnoresOverrides(t *testing.T) {
	cfg := twoStageConfig("http://127.0.0.1:9")
	cfg.Responses = StorageResponses()
	logs := &logBuffer{}
	cfg.Logger = logs.logger()
	g := startGateway(t, cfg)
	req, _ := http.NewRequest(http.MethodGet, g.URL()+"/bags/x", nil)
	req.Host = "other.localhost"
	res, body := do(t, req)
	if res.StatusCode != 403 || body != `{"message":"Forbidden"}` || res.Header.Get("x-amzn-ErrorType") != "ForbiddenException" ||
		res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("got %d %s %v", res.StatusCode, body, res.Header)
	}
	// A mapped domain path that has no resource gets the API's (storage) response.
	req, _ = http.NewRequest(http.MethodGet, g.URL()+"/storage/v1/nope", nil)
	req.Host = "api.localhost"
	res, body = do(t, req)
	if res.StatusCode != 403 || !strings.Contains(body, `"errorType":"http"`) {
		t.Fatalf("got %d %s", res.StatusCode, body)
	}
	var lines []map[string]any
	testutil.WaitFor(t, 10*time.Second, "two access lines", func() bool { lines = logs.accessLines(t); return len(lines) == 2 })
	if lines[0]["errorType"] != respNoBasePathMapping || lines[0]["domainName"] != "other.localhost" || lines[0]["stage"] != "-" {
		t.Fatalf("access line %v", lines[0])
	}
	if lines[1]["stage"] != "v1" || lines[1]["domainName"] != "api.localhost" || lines[1]["path"] != "/storage/v1/nope" {
		t.Fatalf("access line %v", lines[1])
	}
}

// TestDomainNormalization: the path is normalized before the base path is
// matched, so dot segments cannot hop between mappings.
func TestDomainNormalization(t *testing.T) {
	backend := newLocationBackend(t)
	g := startGateway(t, twoStageConfig(backend.URL))
	addr := hostOf(g.URL())
	for _, target := range []string{
		"/storage/v1/../bags/x", "/storage/%2e%2e/v1/bags/x", "/storage/v1/bags/../../bags/x", "/bags/../storage/v1/bags/x",
		"/storage%2f..%2fbags/x",
	} {
		res, body := rawRequest(t, addr, "GET "+target+" HTTP/1.1\r\nHost: api.localhost\r\nConnection: close\r\n\r\n")
		if res.StatusCode != 400 || body != `{"message":"Invalid request path"}` {
			t.Errorf("%s: %d %s", target, res.StatusCode, body)
		}
	}
	// An encoded slash is accepted (as AWS accepts it) but is part of its
	// segment: "storage%2fv1" is not the base path storage/v1, so the
	// request falls to "(none)" (stage v2), which has no such resource.
	res, body := rawRequest(t, addr, "GET /storage%2fv1/bags/x HTTP/1.1\r\nHost: api.localhost\r\nConnection: close\r\n\r\n")
	if res.StatusCode != 403 || !strings.Contains(body, "Missing Authentication Token") {
		t.Errorf("/storage%%2fv1/bags/x: %d %s", res.StatusCode, body)
	}
	// With allowEncodedSlashes false it is refused.
	no := false
	cfg := twoStageConfig(backend.URL)
	cfg.AllowEncodedSlashes = &no
	g = startGateway(t, cfg)
	res, body = rawRequest(t, hostOf(g.URL()), "GET /storage%2fv1/bags/x HTTP/1.1\r\nHost: api.localhost\r\nConnection: close\r\n\r\n")
	if res.StatusCode != 400 || body != `{"message":"Invalid request path"}` {
		t.Errorf("allowEncodedSlashes false: %d %s", res.StatusCode, body)
	}
}

func TestMatchMappingUnit(t *testing.T) {
	stages := map[string]*stageRT{"a": {name: "a"}, "b": {name: "b"}, "c": {name: "c"}}
	tbl := buildDomains([]Domain{{Name: "X.org", Mappings: []BasePathMapping{
		{BasePath: "", Stage: "a"}, {BasePath: "p", Stage: "b"}, {BasePath: "p/q/r", Stage: "c"}, {BasePath: "p/q", Stage: "a"},
	}}}, stages)
	tests := []struct {
		path, stage, rest, prefix string
	}{
		{"/", "a", "/", "/"},
		{"/p", "b", "/", "/p"},
		{"/p/x", "b", "/x", "/p"},
		{"/p/q", "a", "/", "/p/q"},
		{"/p/q/r/s", "c", "/s", "/p/q/r"},
		{"/p/qq/r", "b", "/qq/r", "/p"},
		{"/pp", "a", "/pp", "/"},
	}
	name, _ := hostName("x.ORG.:80")
	for _, tt := range tests {
		segs, _ := normalizePath(tt.path, false)
		m, rest := matchMapping(tbl.lookup(name), segs)
		if m == nil || m.stage.name != tt.stage || joinRaw(rest) != tt.rest || m.prefix != tt.prefix {
			t.Errorf("%s: got %+v %q", tt.path, m, joinRaw(rest))
		}
	}
	if tbl.lookup("y.org") != nil {
		t.Error("unknown host matched")
	}
}
