package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/portway/portway/internal/testutil"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portway/portway/internal/sidecar"
	"github.com/portway/portway/internal/storage/api"
)

const testIngestID = "0f7d6a4c-1b6c-4d43-8a56-2a6a3b8d9e51"

// newIngestsLikeApp answers every request as the ingests app answers a
// created ingest: 201 with a Location built by api.PublicBaseURL (which
// falls back on the Host it received when X-Forwarded-Host is missing or
// implausible). Its body reports the X-Forwarded-Host that arrived.
func newIngestsLikeApp(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Location", api.PublicBaseURL(r)+"/ingests/"+testIngestID)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]string{"xForwardedHost": r.Header.Get("X-Forwarded-Host")})
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// hostsConfig routes /ingests and /ingests/{proxy+} to backend, with the
// custom domain api.localhost (base path storage/v1) and X-Forwarded-Host
// and -Prefix on, as the built-in stack.
func hostsConfig(backend string) Config {
	return Config{
		Stage:            "v1",
		ForwardedHeaders: ForwardedHeaders{Host: true, Prefix: true},
		Domains: []Domain{{Name: "api.localhost", Mappings: []BasePathMapping{
			{BasePath: "storage/v1", Stage: "v1"},
		}}},
		Resources: []Resource{
			anyResource("/ingests", backend+"/ingests", 0),
			anyResource("/ingests/{proxy+}", backend+"/ingests/{proxy}", 0),
		},
	}
}

// TestUnknownHostForbidden: a Host the gateway does not serve is answered
// 403 {"message":"Forbidden"} as AWS answers it, before any API is selected
// (so the API's gateway responses do not apply), and never reaches the
// integration.
func TestUnknownHostForbidden(t *testing.T) {
	app, hits := newIngestsLikeApp(t)
	cfg := hostsConfig(app.URL)
	cfg.Responses = StorageResponses()
	cfg.Responses[RespDefault4XX] = ResponseTemplate{Body: `{"custom":true}`}
	g := startGateway(t, cfg)
	addr := hostOf(g.URL())
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	for _, host := range []string{
		"evil.example",
		"evil.example:" + port,
		"EVIL.example.",
		"127.0.0.2:" + port,          // another loopback address, not the listener's
		"localhost.evil.example",     // a suffix is not the name
		"api.localhost.evil.example", // nor is a prefix
		"xapi.localhost:" + port,
		"[::1]:" + port, // the gateway listens on 127.0.0.1
		"",              // empty Host
	} {
		t.Run(host, func(t *testing.T) {
			before := hits.Load()
			res, body := rawRequest(t, addr, "POST /v1/ingests HTTP/1.1\r\nHost: "+host+"\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
			if res.StatusCode != http.StatusForbidden || body != `{"message":"Forbidden"}` {
				t.Fatalf("%d %s, want 403 {\"message\":\"Forbidden\"}; Location %q", res.StatusCode, body, res.Header.Get("Location"))
			}
			if got := res.Header.Get("x-amzn-ErrorType"); got != "ForbiddenException" {
				t.Errorf("x-amzn-ErrorType %q", got)
			}
			if got := res.Header.Get("Content-Type"); got != contentTypeJSON {
				t.Errorf("Content-Type %q", got)
			}
			assertGatewayIDs(t, res)
			if n := hits.Load() - before; n != 0 {
				t.Fatalf("%d requests reached the integration", n)
			}
		})
	}
}

// TestServedHosts: the listener's address (with any port or none),
// localhost and the custom domains (any case, trailing dot) are served,
// and the backend learns the host the client named.
func TestServedHosts(t *testing.T) {
	app, _ := newIngestsLikeApp(t)
	g := startGateway(t, hostsConfig(app.URL))
	addr := hostOf(g.URL())
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	for _, tt := range []struct{ host, path, location string }{
		{addr, "/v1/ingests", "/v1/ingests/"},
		{"127.0.0.1", "/v1/ingests", "/v1/ingests/"},
		{"127.0.0.1:80", "/v1/ingests", "/v1/ingests/"},
		{"localhost", "/v1/ingests", "/v1/ingests/"},
		{"localhost:" + port, "/v1/ingests", "/v1/ingests/"},
		{"LocalHost.:" + port, "/v1/ingests", "/v1/ingests/"},
		{"api.localhost:" + port, "/storage/v1/ingests", "/storage/v1/ingests/"},
		{"API.localhost", "/storage/v1/ingests", "/storage/v1/ingests/"},
	} {
		t.Run(tt.host, func(t *testing.T) {
			res, body := rawRequest(t, addr, "POST "+tt.path+" HTTP/1.1\r\nHost: "+tt.host+"\r\nContent-Length: 2\r\n\r\n{}")
			if res.StatusCode != http.StatusCreated {
				t.Fatalf("%d %s", res.StatusCode, body)
			}
			if want := "http://" + tt.host + tt.location + testIngestID; res.Header.Get("Location") != want {
				t.Fatalf("Location %q, want %q", res.Header.Get("Location"), want)
			}
		})
	}
}

// TestAbsoluteFormAuthority: the authority of an absolute-form target
// replaces Host (RFC 9112 section 3.2.3) and is checked like it; one with
// userinfo or an invalid port is refused with 400, as is a Host with an
// invalid port. None of them reaches the integration.
func TestAbsoluteFormAuthority(t *testing.T) {
	app, hits := newIngestsLikeApp(t)
	g := startGateway(t, hostsConfig(app.URL))
	addr := hostOf(g.URL())
	post := func(target, host string) string {
		return "POST " + target + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
	}
	for _, tt := range []struct {
		name, req string
		status    int
		location  string // on 201
	}{
		{"userinfo", post("http://evil.example:80@x/v1/ingests", addr), 400, ""},
		{"userinfo naming the gateway", post("http://user@"+addr+"/v1/ingests", addr), 400, ""},
		{"port over 65535", post("http://127.0.0.1:99999/v1/ingests", addr), 400, ""},
		{"port not digits", post("http://127.0.0.1:8x/v1/ingests", addr), 400, ""},
		{"empty authority", post("http:///v1/ingests", addr), 400, ""},
		{"Host with port not digits", post("/v1/ingests", "127.0.0.1:abc"), 400, ""},
		{"Host with empty port", post("/v1/ingests", "127.0.0.1:"), 400, ""},
		{"unknown authority, served Host", post("http://evil.example/v1/ingests", addr), 403, ""},
		{"served authority, unknown Host", post("http://"+addr+"/v1/ingests", "evil.example"), 201, "http://" + addr + "/v1/ingests/" + testIngestID},
		{"custom domain authority", post("http://api.localhost/storage/v1/ingests", "evil.example"), 201, "http://api.localhost/storage/v1/ingests/" + testIngestID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := hits.Load()
			res, body := rawRequest(t, addr, tt.req)
			if res.StatusCode != tt.status {
				t.Fatalf("%d %s (Location %q), want %d", res.StatusCode, body, res.Header.Get("Location"), tt.status)
			}
			if tt.status != http.StatusCreated {
				if n := hits.Load() - before; n != 0 {
					t.Fatalf("%d requests reached the integration", n)
				}
				return
			}
			if got := res.Header.Get("Location"); got != tt.location {
				t.Fatalf("Location %q, want %q", got, tt.location)
			}
		})
	}
}

// TestLocationNamesPublicHost: in the built-in stack's shape (gateway →
// sidecar → an app that builds Location from X-Forwarded-Host, falling back
// on the Host it received), a created ingest's Location names the host the
// client called, and no answer ever names the sidecar's or the app's
// address, whatever the client sends.
func TestLocationNamesPublicHost(t *testing.T) {
	app, _ := newIngestsLikeApp(t)
	sc, err := sidecar.New(sidecar.Config{Listen: "127.0.0.1:0", Upstream: app.URL, ServerHeader: "nginx"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = sc.Stop(ctx)
	})
	g := startGateway(t, hostsConfig("http://"+sc.Addr()))
	addr := hostOf(g.URL())
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	private := []string{sc.Addr(), hostOf(app.URL)}
	const body = "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
	for _, tt := range []struct {
		name, req string
		status    int
		location  string
	}{
		{"invoke URL", "POST /v1/ingests HTTP/1.1\r\nHost: " + addr + "\r\n" + body, 201, "http://" + addr + "/v1/ingests/"},
		{"custom domain", "POST /storage/v1/ingests HTTP/1.1\r\nHost: api.localhost:" + port + "\r\n" + body, 201, "http://api.localhost:" + port + "/storage/v1/ingests/"},
		{"absolute form", "POST http://" + addr + "/v1/ingests HTTP/1.1\r\nHost: evil.example\r\n" + body, 201, "http://" + addr + "/v1/ingests/"},
		{"HTTP/1.0 without Host", "POST /v1/ingests HTTP/1.0\r\n" + body, 201, "http://" + addr + "/v1/ingests/"},
		{"absolute form with userinfo", "POST http://evil.example:80@x/v1/ingests HTTP/1.1\r\nHost: " + addr + "\r\n" + body, 400, ""},
		{"unknown Host", "POST /v1/ingests HTTP/1.1\r\nHost: evil.example\r\n" + body, 403, ""},
		{"Host with userinfo", "POST /v1/ingests HTTP/1.1\r\nHost: evil.example:80@x\r\n" + body, 400, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, resBody := rawRequest(t, addr, tt.req)
			all := fmt.Sprint(res.Header) + resBody
			for _, p := range private {
				if strings.Contains(all, p) {
					t.Fatalf("the answer names the private address %s: %v %s", p, res.Header, resBody)
				}
			}
			if res.StatusCode != tt.status {
				t.Fatalf("%d %s (Location %q), want %d", res.StatusCode, resBody, res.Header.Get("Location"), tt.status)
			}
			if want := tt.location + testIngestID; tt.status == http.StatusCreated && res.Header.Get("Location") != want {
				t.Fatalf("Location %q, want %q", res.Header.Get("Location"), want)
			}
			// The sidecar's Server comes back remapped, as in production.
			if got := res.Header.Get("x-amzn-Remapped-Server"); tt.status == http.StatusCreated && (got != "nginx" || res.Header.Get("Server") != "") {
				t.Fatalf("x-amzn-Remapped-Server %q, Server %q", got, res.Header.Get("Server"))
			}
		})
	}
}

// fakeConn is a connection that only has a local address.
type fakeConn struct {
	net.Conn
	local net.Addr
}

func (c fakeConn) LocalAddr() net.Addr { return c.local }

func tcpAddr(s string) *net.TCPAddr { return net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s)) }

// TestServedHostsCheck: which hosts each kind of listen address serves.
func TestServedHostsCheck(t *testing.T) {
	domains := []Domain{{Name: "API.Example.org", Mappings: []BasePathMapping{{Stage: "v1"}}}}
	v4, v6, mapped := fakeConn{local: tcpAddr("10.1.2.3:8080")}, fakeConn{local: tcpAddr("[fd00::7]:8080")}, fakeConn{local: tcpAddr("[::ffff:10.1.2.3]:8080")}
	for _, tt := range []struct {
		listen string
		host   string
		conn   net.Conn
		want   bool
	}{
		{"127.0.0.1:8080", "127.0.0.1:8080", nil, true},
		{"127.0.0.1:8080", "127.0.0.1", nil, true},
		{"127.0.0.1:8080", "127.0.0.1:9", nil, true},
		{"127.0.0.1:8080", "[::ffff:127.0.0.1]:8080", nil, true},
		{"127.0.0.1:8080", "[127.0.0.1]:8080", nil, false}, // brackets are for IPv6
		{"127.0.0.1:8080", "127.0.0.2:8080", nil, false},
		{"127.0.0.1:8080", "10.1.2.3:8080", v4, false}, // the local address counts only on an unspecified listener
		{"127.0.0.1:8080", "localhost", nil, true},
		{"127.0.0.1:8080", "LOCALHOST.:1", nil, true},
		{"127.0.0.1:8080", "api.example.org", nil, true},
		{"127.0.0.1:8080", "api.example.org.:443", nil, true},
		{"127.0.0.1:8080", "example.org", nil, false},
		{"127.0.0.1:8080", "1.example.org", nil, false},
		{"127.0.0.1:8080", "", nil, false},
		{"[::1]:8080", "[::1]:8080", nil, true},
		{"[::1]:8080", "[::1]", nil, true},
		{"[::1]:8080", "[0:0::1]", nil, true},
		{"[::1]:8080", "::1", nil, false},
		{"[::1]:8080", "127.0.0.1", nil, false},
		{"0.0.0.0:8080", "10.1.2.3:8080", v4, true},
		{"0.0.0.0:8080", "10.1.2.3", v4, true},
		{"0.0.0.0:8080", "10.1.2.4:8080", v4, false},
		{"0.0.0.0:8080", "10.1.2.3:8080", nil, false},
		{"0.0.0.0:8080", "localhost:8080", v4, true},
		{"0.0.0.0:8080", "evil.example", v4, false},
		{":8080", "10.1.2.3", v4, true},
		{"[::]:8080", "[fd00::7]:8080", v6, true},
		{"[::]:8080", "[FD00::7]", v6, true},
		{"[::]:8080", "[fd00::8]", v6, false},
		{"[::]:8080", "10.1.2.3:8080", mapped, true},
		{"localhost:8080", "localhost:8080", nil, true},
		{"gw.internal:8080", "GW.internal", nil, true},
	} {
		s := newServedHosts(Config{Listen: tt.listen, Domains: domains})
		if _, got := s.check(tt.host, tt.conn); got != tt.want {
			t.Errorf("listen %s, host %q, local %v: served %v, want %v", tt.listen, tt.host, tt.conn, got, tt.want)
		}
	}
	// A listener bound from a name serves the address it is bound to.
	s := newServedHosts(Config{Listen: "localhost:0"})
	s.addListener(tcpAddr("127.0.0.1:41000"))
	if _, ok := s.check("127.0.0.1:41000", nil); !ok {
		t.Error("the bound address of a listener named localhost is not served")
	}
}

// TestUnknownHostLogged: the refusal is logged with its own error type and
// the host the client named.
func TestUnknownHostLogged(t *testing.T) {
	var logs logBuffer
	backend, _ := countingBackend(t)
	g := startGateway(t, Config{Resources: []Resource{anyResource("/x", backend.URL+"/x", 0)}, Logger: logs.logger()})
	res, _ := rawRequest(t, hostOf(g.URL()), "GET /v1/x HTTP/1.1\r\nHost: Evil.Example:80\r\n\r\n")
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("status %d", res.StatusCode)
	}
	var line map[string]any
	testutil.WaitFor(t, 10*time.Second, "the access log line", func() bool {
		lines := logs.accessLines(t)
		if len(lines) == 0 {
			return false
		}
		line = lines[0]
		return true
	})
	if line["errorType"] != respUnknownHost || line["domainName"] != "evil.example" || line["status"] != float64(403) || line["stage"] != "-" {
		t.Fatalf("access log line %v", line)
	}
}

// TestHostCheckAllocs: checking a served host allocates nothing.
func TestHostCheckAllocs(t *testing.T) {
	s := newServedHosts(Config{Listen: "0.0.0.0:8080", Domains: []Domain{{Name: "api.localhost"}}})
	var conn net.Conn = fakeConn{local: tcpAddr("127.0.0.1:8080")}
	for _, host := range []string{"api.localhost:8080", "localhost", "127.0.0.1:8080", "[::ffff:127.0.0.1]"} {
		if n := testing.AllocsPerRun(100, func() { s.check(host, conn) }); n != 0 {
			t.Errorf("check(%q) allocates %v times", host, n)
		}
	}
}

// TestConfiguredHosts: Config.Hosts are served by the invoke URL, as the
// listen address is.
func TestConfiguredHosts(t *testing.T) {
	app, _ := newIngestsLikeApp(t)
	cfg := hostsConfig(app.URL)
	cfg.Hosts = []string{"gw.example.org", "10.0.0.8", "fd00::8", "[fd00::9]"}
	g := startGateway(t, cfg) // New validates
	addr := hostOf(g.URL())
	for host, want := range map[string]int{
		"gw.example.org": 201, "GW.Example.org.:8443": 201, "10.0.0.8:80": 201, "[fd00::8]": 201, "[fd00::9]:80": 201,
		"example.org": 403, "x.gw.example.org": 403, "10.0.0.9": 403,
	} {
		res, body := rawRequest(t, addr, "POST /v1/ingests HTTP/1.1\r\nHost: "+host+"\r\nContent-Length: 2\r\n\r\n{}")
		if res.StatusCode != want {
			t.Errorf("Host %s: %d %s, want %d", host, res.StatusCode, body, want)
			continue
		}
		if loc := "http://" + host + "/v1/ingests/" + testIngestID; want == 201 && res.Header.Get("Location") != loc {
			t.Errorf("Host %s: Location %q, want %q", host, res.Header.Get("Location"), loc)
		}
	}
}
