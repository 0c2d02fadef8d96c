package gateway

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

func TestNormalizePath(t *testing.T) {
	tests := []struct {
		in, want string // want "" = rejected
	}{
		{"/", "/"},
		{"/v1/bags", "/v1/bags"},
		{"/v1/bags/", "/v1/bags"},
		{"//v1//bags///x", "/v1/bags/x"},
		{"/v1/bags/a%20b", "/v1/bags/a%20b"},
		{"/v1/bags/a%7e", "/v1/bags/a%7e"}, // escapes kept as sent
		{"/v1/bags/a...b/...", "/v1/bags/a...b/..."},
		{"/v1/bags/.well", "/v1/bags/.well"},
		{`/v1/bags/a"b{c}`, "/v1/bags/a%22b%7Bc%7D"},
		{"/v1/bags/\xc3\xa9", "/v1/bags/%C3%A9"},
		{"/v1/a;b=c/d", "/v1/a;b=c/d"},
		{"/v1/bags/../ingests", ""},
		{"/v1/bags/./x", ""},
		{"/v1/bags/..", ""},
		{"/v1/bags/.", ""},
		{"/v1/bags/..;/ingests", ""},
		{"/v1/bags/.;x/ingests", ""},
		{"/v1/bags/%2e%2e/ingests", ""},
		{"/v1/bags/%2E%2E/ingests", ""},
		{"/v1/bags/.%2e/ingests", ""},
		{"/v1/bags/%2e", ""},
		{"/v1/bags/a%2eb", ""}, // any encoded dot
		{"/v1/bags/a%2fb", ""},
		{"/v1/bags/a%2Fb", ""},
		{"/v1/bags/a%5cb", ""},
		{"/v1/bags/a%5Cb", ""},
		{`/v1/bags/a\b`, ""},
		{`/v1/bags/..\ingests`, ""},
		{"/v1/bags/a%00", ""},
		{"/v1/bags/a%0d%0a", ""},
		{"/v1/bags/a%7F", ""},
		{"/v1/bags/a%", ""},
		{"/v1/bags/a%2", ""},
		{"/v1/bags/a%zz", ""},
		{"/v1/bags/a b", ""},
		{"/v1/bags/a\tb", ""},
		{"", ""},
		{"v1/bags", ""},
		{"*", ""},
	}
	for _, tt := range tests {
		segs, err := normalizePath(tt.in, false)
		got := ""
		if err == nil {
			got = joinRaw(segs)
		}
		if got != tt.want {
			t.Errorf("normalizePath(%q) = %q (err %v), want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestNormalizeEncodedSlashOption(t *testing.T) {
	segs, err := normalizePath("/v1/bags/space/a%2Fb", true)
	if err != nil || joinRaw(segs) != "/v1/bags/space/a%2Fb" || segs[3].dec != "a/b" {
		t.Fatalf("got %v %v", segs, err)
	}
	for _, p := range []string{"/v1/bags/%2e%2e%2fingests", "/v1/bags/..%2Fingests", "/v1/x/%5c"} {
		if _, err := normalizePath(p, true); err == nil {
			t.Errorf("%q accepted", p)
		}
	}
}

// TestNormalizationOverHTTP sends raw request lines so that no client-side
// cleaning happens, and checks that the gateway never forwards an ambiguous path.
func TestNormalizationOverHTTP(t *testing.T) {
	backend := newEchoBackend(t)
	g := startGateway(t, Config{Resources: []Resource{
		{Path: "/bags/{proxy+}", Methods: []Method{proxyMethod("ANY", AuthNone, backend.URL+"/bags/{proxy}")}},
		{Path: "/ingests", Methods: []Method{proxyMethod("ANY", AuthNone, backend.URL+"/ingests")}},
	}})
	addr := hostOf(g.URL())
	tests := []struct {
		target string
		status int
		want   string // backend request URI when 200
	}{
		{"/v1/bags/../ingests", 400, ""},
		{"/v1/bags/%2e%2e/ingests", 400, ""},
		{"/v1/bags/%2E%2e/ingests", 400, ""},
		{"/v1/bags/x%2f..%2fingests", 400, ""},
		{"/v1/bags/x%2F..%2Fingests", 400, ""},
		{"/v1/bags/x%5c..%5cingests", 400, ""},
		{`/v1/bags/x\..\ingests`, 400, ""},
		{"/v1/bags/./x", 400, ""},
		{"/v1/bags/..;/ingests", 400, ""},
		{"/v1/../v1/ingests", 400, ""},
		{"//v1//bags//a///b", 200, "/bags/a/b"},
		{"/v1/bags/a/b/", 200, "/bags/a/b"},
		{"/v1//ingests", 200, "/ingests"},
		{"/v1/bags/%7Bx%7D?q=%2e%2e/..", 200, "/bags/%7Bx%7D?q=%2e%2e/.."}, // the query is not the path
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			res, body := rawRequest(t, addr, "GET "+tt.target+" HTTP/1.1\r\nHost: "+addr+"\r\nConnection: close\r\n\r\n")
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d; body %s", res.StatusCode, tt.status, body)
			}
			if tt.status == 400 {
				var m map[string]string
				if err := json.Unmarshal([]byte(body), &m); err != nil || m["message"] != "Invalid request path" {
					t.Fatalf("body %s", body)
				}
				if res.Header.Get("x-amzn-ErrorType") != "BadRequestException" || res.Header.Get("x-amzn-RequestId") == "" {
					t.Fatalf("headers %v", res.Header)
				}
				return
			}
			if e := decodeEcho(t, body); e.RequestURI != tt.want {
				t.Fatalf("backend got %q, want %q", e.RequestURI, tt.want)
			}
		})
	}
}

// FuzzNormalizeRoute: normalization is idempotent, its output has no dot
// segments, empty segments or dangerous escapes, and routing plus URI
// expansion never produce a backend path with dot segments.
func FuzzNormalizeRoute(f *testing.F) {
	for _, s := range []string{
		"/v1/bags/../ingests", "/v1/bags/%2e%2e/x", "//v1//bags", "/v1/bags/a%2Fb", "/v1/a/b/c/",
		"/v1/bags/..;/x", `/v1/bags/a\b`, "/v1/x/1/y/z", "/v1/%", "/v1/bags/\xff", "/v1/bags/%25%32%65", "/bags/x%2F..%2F..%2Fingests", "/a/..%2f",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	rt, err := buildTree(routingResources("http://h"), nil)
	if err != nil {
		f.Fatal(err)
	}
	uris := map[string]*uriTemplate{}
	for _, r := range routingResources("http://h") {
		tmpl, err := parseURITemplate(r.Methods[0].Integration.URI)
		if err != nil {
			f.Fatal(err)
		}
		uris[r.Path] = tmpl
	}
	f.Fuzz(func(t *testing.T, raw string, allowSlash bool) {
		segs, err := normalizePath(raw, allowSlash)
		if err != nil {
			return
		}
		canon := joinRaw(segs)
		again, err := normalizePath(canon, allowSlash)
		if err != nil || joinRaw(again) != canon {
			t.Fatalf("not idempotent: %q → %q → %q (%v)", raw, canon, joinRaw(again), err)
		}
		lower := strings.ToLower(canon)
		for _, bad := range []string{"//", "%2e", "%5c", "\\", "%00"} {
			if strings.Contains(lower, bad) {
				t.Fatalf("%q normalized to %q containing %q", raw, canon, bad)
			}
		}
		if !allowSlash && strings.Contains(lower, "%2f") {
			t.Fatalf("%q normalized to %q with an encoded slash", raw, canon)
		}
		for _, s := range segs {
			if s.raw == "" || isDotSegment(s.dec) {
				t.Fatalf("bad segment %+v from %q", s, raw)
			}
		}
		// Route with and without a leading stage segment.
		for _, s := range [][]segment{segs, segs[min(1, len(segs)):]} {
			r, params := rt.match(s)
			if r == nil {
				continue
			}
			u, err := uris[r.path].expand(params)
			if err != nil {
				t.Fatalf("expand %q: %v", raw, err)
			}
			for p := range strings.SplitSeq(u.Path, "/") { // u.Path is decoded: %2F became /
				if isDotSegment(p) {
					t.Fatalf("%q forwarded as %q", raw, u.String())
				}
			}
			if _, err := url.ParseRequestURI(u.RequestURI()); err != nil {
				t.Fatalf("forwarded request URI %q: %v", u.RequestURI(), err)
			}
		}
	})
}

func TestCanonicalPathReusesCanonicalInput(t *testing.T) {
	for _, raw := range []string{"/v1/bags/a", "/v1//bags/", "/v1/a%2e", "/v1/%7e", "/v1/é", "/", "/v1/bags/b;c"} {
		segs, err := normalizePath(raw, false)
		if err != nil {
			continue
		}
		if got, want := canonicalPath(raw, segs), joinRaw(segs); got != want {
			t.Errorf("%q: canonicalPath %q, joinRaw %q", raw, got, want)
		}
	}
}
