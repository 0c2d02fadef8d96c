package controlauth

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const testToken = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"

// newTestGuard guards a handler that answers 200 "reached" on a listener
// at 127.0.0.1:8082.
func newTestGuard(t *testing.T, cfg Config) http.Handler {
	t.Helper()
	if cfg.Token == "" {
		cfg.Token = testToken
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8082"
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "reached")
	}))
}

func cookieValue(t *testing.T) string {
	t.Helper()
	h := newTestGuard(t, Config{})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8082/?token="+testToken, nil))
	for _, c := range rec.Result().Cookies() {
		if c.Name == "portway_control_8082" {
			return c.Value
		}
	}
	t.Fatalf("login set no cookie: %v", rec.Result().Header)
	return ""
}

func TestGuard(t *testing.T) {
	cookie := "portway_control_8082=" + cookieValue(t)
	bearer := "Bearer " + testToken
	json := "application/json"
	tests := []struct {
		name                     string
		method, target, host     string
		auth, cookie, ct, origin string
		accept                   string
		status                   int
	}{
		{name: "no token", method: "GET", target: "/ecs/services", status: 401},
		{name: "no token, mutation", method: "POST", target: "/ecs/services/bags/scale", ct: json, status: 401},
		{name: "wrong token", method: "GET", target: "/ecs/services", auth: "Bearer " + strings.Repeat("x", 43), status: 401},
		{name: "token prefix", method: "GET", target: "/ecs/services", auth: bearer[:20], status: 401},
		{name: "basic scheme", method: "GET", target: "/ecs/services", auth: "Basic " + testToken, status: 401},
		{name: "wrong token beats a good cookie", method: "GET", target: "/", auth: "Bearer nope", cookie: cookie, status: 401},
		{name: "right token", method: "GET", target: "/ecs/services", auth: bearer, status: 200},
		{name: "scheme in lower case", method: "GET", target: "/ecs/services", auth: "bearer " + testToken, status: 200},
		{name: "right token, mutation", method: "POST", target: "/ecs/services/bags/scale", auth: bearer, ct: json, status: 200},
		{name: "json with charset", method: "POST", target: "/elbv2/RegisterTargets", auth: bearer, ct: "application/json; charset=utf-8", status: 200},
		{name: "own origin", method: "POST", target: "/ecs/services/bags/scale", auth: bearer, ct: json, origin: "http://127.0.0.1:8082", status: 200},
		{name: "cookie read", method: "GET", target: "/", cookie: cookie, status: 200},
		{name: "cookie HEAD", method: "HEAD", target: "/elbv2/DescribeTargetGroups", cookie: cookie, status: 200},
		{name: "cookie mutation", method: "POST", target: "/ecs/services/bags/scale", cookie: cookie, ct: json, status: 403},
		{name: "cookie OPTIONS", method: "OPTIONS", target: "/ecs/services", cookie: cookie, status: 403},
		{name: "token as cookie value", method: "GET", target: "/", cookie: "portway_control_8082=" + testToken, status: 401},
		{name: "cookie as bearer", method: "GET", target: "/", auth: "Bearer " + strings.TrimPrefix(cookie, "portway_control_8082="), status: 401},
		{name: "other port's cookie", method: "GET", target: "/", cookie: strings.Replace(cookie, "8082", "8083", 1), status: 401},
		{name: "text/plain", method: "POST", target: "/ecs/services/bags/scale", auth: bearer, ct: "text/plain", status: 415},
		{name: "no content type", method: "POST", target: "/ecs/services/bags/deploy", auth: bearer, status: 415},
		{name: "form", method: "PUT", target: "/elbv2/RegisterTargets", auth: bearer, ct: "application/x-www-form-urlencoded", status: 415},
		{name: "foreign origin", method: "POST", target: "/ecs/services/bags/scale", auth: bearer, ct: json, origin: "http://attacker.example", status: 403},
		{name: "null origin", method: "POST", target: "/ecs/services/bags/scale", auth: bearer, ct: json, origin: "null", status: 403},
		{name: "other port origin", method: "DELETE", target: "/x", auth: bearer, ct: json, origin: "http://127.0.0.1:8080", status: 403},
		{name: "foreign host", method: "GET", target: "/ecs/services", host: "attacker.example:8082", auth: bearer, status: 403},
		{name: "foreign host, cookie", method: "GET", target: "/", host: "attacker.example:8082", cookie: cookie, status: 403},
		{name: "foreign host, login", method: "GET", target: "/?token=" + testToken, host: "attacker.example", status: 403},
		{name: "other IP", method: "GET", target: "/", host: "10.0.0.6:8082", auth: bearer, status: 403},
		{name: "localhost", method: "GET", target: "/", host: "localhost:8082", auth: bearer, status: 200},
		{name: "LOCALHOST.", method: "GET", target: "/", host: "LOCALHOST.:8082", auth: bearer, status: 200},
		{name: "host without port", method: "GET", target: "/", host: "127.0.0.1", auth: bearer, status: 200},
		{name: "wrong login token", method: "GET", target: "/?token=nope", status: 401},
		{name: "token query elsewhere is no login", method: "GET", target: "/ecs/services?token=" + testToken, status: 401},
		{name: "401 page for a browser", method: "GET", target: "/", accept: "text/html,*/*", status: 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestGuard(t, Config{Hint: "see the login URL"})
			req := httptest.NewRequest(tc.method, "http://127.0.0.1:8082"+tc.target, nil)
			if tc.host != "" {
				req.Host = tc.host
			}
			for k, v := range map[string]string{"Authorization": tc.auth, "Cookie": tc.cookie,
				"Content-Type": tc.ct, "Origin": tc.origin, "Accept": tc.accept} {
				if v != "" {
					req.Header.Set(k, v)
				}
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			body := rec.Body.String()
			if rec.Code != tc.status {
				t.Fatalf("%s %s: %d %s, want %d", tc.method, tc.target, rec.Code, body, tc.status)
			}
			if tc.status == 200 {
				if tc.method != "HEAD" && body != "reached" {
					t.Errorf("body %q", body)
				}
				return
			}
			if body == "reached" || strings.Contains(body, testToken) {
				t.Errorf("refusal body %q", body)
			}
			if rec.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("refusal without Cache-Control: no-store")
			}
			if got := rec.Header().Get("WWW-Authenticate"); (tc.status == 401) != strings.HasPrefix(got, "Bearer") {
				t.Errorf("WWW-Authenticate %q on a %d", got, tc.status)
			}
			if tc.accept != "" {
				if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") || !strings.Contains(body, "see the login URL") {
					t.Errorf("browser refusal: %s %s", rec.Header().Get("Content-Type"), body)
				}
				return
			}
			var e struct{ Message string }
			if err := jsonUnmarshal(body, &e); err != nil || e.Message == "" || rec.Header().Get("Content-Type") != "application/json" {
				t.Errorf("refusal is not a JSON message: %s %q (%v)", rec.Header().Get("Content-Type"), body, err)
			}
			if tc.status == 401 && !strings.Contains(e.Message, "see the login URL") {
				t.Errorf("401 message lacks the hint: %q", e.Message)
			}
		})
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// TestLogin: GET /?token= sets the console cookie and redirects to /
// without the token; the cookie value is not the token.
func TestLogin(t *testing.T) {
	for _, tls := range []bool{false, true} {
		h := newTestGuard(t, Config{TLS: tls})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8082/?token="+testToken+"&x=1", nil))
		resp := rec.Result()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
			t.Fatalf("login: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if strings.Contains(rec.Body.String(), testToken) || resp.Header.Get("Cache-Control") != "no-store" ||
			resp.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("login response: %v %q", resp.Header, rec.Body)
		}
		cs := resp.Cookies()
		if len(cs) != 1 {
			t.Fatalf("cookies: %v", cs)
		}
		c := cs[0]
		if c.Name != "portway_control_8082" || c.Path != "/" || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode ||
			c.Secure != tls || c.Value == "" || strings.Contains(c.Value, testToken) || c.Domain != "" {
			t.Errorf("TLS %v: cookie %+v", tls, c)
		}
	}
}

func TestNewRefusesShortToken(t *testing.T) {
	if _, err := New(Config{Token: "short", Addr: "127.0.0.1:8082"}); err == nil {
		t.Error("New accepted a short token")
	}
}

func TestHostAllowed(t *testing.T) {
	tests := []struct {
		addr  string
		names []string
		host  string
		ok    bool
	}{
		{"127.0.0.1:8082", nil, "127.0.0.1:8082", true},
		{"127.0.0.1:8082", nil, "127.0.0.2:8082", false},
		{"127.0.0.1:8082", nil, "localhost", true},
		{"127.0.0.1:8082", nil, "", false},
		{"[::1]:8082", nil, "[::1]:8082", true},
		{"[::1]:8082", nil, "localhost:8082", true},
		{"[::1]:8082", nil, "127.0.0.1:8082", false},
		{"localhost:8082", nil, "127.0.0.1:8082", true},
		{"localhost:8082", nil, "[::1]:8082", true},
		{"localhost:8082", nil, "10.0.0.6:8082", false},
		{"10.0.0.6:8082", nil, "10.0.0.6:8082", true},
		{"10.0.0.6:8082", nil, "localhost:8082", false},
		{"10.0.0.6:8082", []string{"Control.Example"}, "control.example:8082", true},
		{"10.0.0.6:8082", []string{"control.example"}, "evil.example:8082", false},
		{"0.0.0.0:8082", nil, "10.0.0.6:8082", true},
		{"0.0.0.0:8082", nil, "attacker.example:8082", false},
		{"[fe80::1%eth0]:8082", nil, "[fe80::1%25eth0]:8082", false},
	}
	for _, tc := range tests {
		g, err := New(Config{Token: testToken, Addr: tc.addr, Names: tc.names})
		if err != nil {
			t.Fatal(err)
		}
		if got := g.hostAllowed(tc.host); got != tc.ok {
			t.Errorf("listener %s %v: Host %q allowed = %v, want %v", tc.addr, tc.names, tc.host, got, tc.ok)
		}
	}
}

func TestCheckListen(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:8082": true, "127.0.0.1:0": true, "[::1]:8082": true, "localhost:8082": true,
		"10.0.0.6:8082": false, "0.0.0.0:8082": false, ":8082": false, "[::]:8082": false, "control.example:8082": false,
	} {
		err := CheckListen("control.listen", addr, false)
		if (err == nil) != ok {
			t.Errorf("CheckListen(%s) = %v", addr, err)
		}
		if err != nil && !strings.Contains(err.Error(), "control.listen "+addr+" is not a loopback address") {
			t.Errorf("CheckListen(%s) = %v", addr, err)
		}
		if err := CheckListen("control.listen", addr, true); err != nil {
			t.Errorf("CheckListen(%s) with TLS = %v", addr, err)
		}
	}
	want := "control.listen 10.0.0.6:8082 is not a loopback address: the control API carries its token in every request, so it needs TLS (tls.certFile/tls.keyFile or --tls)"
	if err := CheckListen("control.listen", "10.0.0.6:8082", false); err == nil || err.Error() != want {
		t.Errorf("message: %v", err)
	}
}

func TestLoginURL(t *testing.T) {
	if got := LoginURL("http://127.0.0.1:8082", "a+b/c="); got != "http://127.0.0.1:8082/?token=a%2Bb%2Fc%3D" {
		t.Errorf("LoginURL = %s", got)
	}
}

// TestGuardSelfAuthenticated: a request the next handler authenticates
// itself (an AWS call) passes without the token, but only with this
// listener's Host and no foreign Origin; other requests still need it.
func TestGuardSelfAuthenticated(t *testing.T) {
	h := newTestGuard(t, Config{SelfAuthenticated: func(r *http.Request) bool { return r.Header.Get("X-Amz-Target") != "" }})
	for _, tc := range []struct {
		name, host, target, origin string
		status                     int
	}{
		{"aws call", "127.0.0.1:8082", "AmazonEC2ContainerServiceV20141113.ListClusters", "", 200},
		{"aws call, own origin", "127.0.0.1:8082", "X.Y", "http://127.0.0.1:8082", 200},
		{"aws call, foreign origin", "127.0.0.1:8082", "X.Y", "https://evil.example", 403},
		{"aws call, rebinding host", "evil.example:8082", "X.Y", "", 403},
		{"not an aws call", "127.0.0.1:8082", "", "", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "http://"+tc.host+"/", strings.NewReader("{}"))
			r.Host = tc.host
			r.Header.Set("Content-Type", "application/x-amz-json-1.1")
			if tc.target != "" {
				r.Header.Set("X-Amz-Target", tc.target)
			}
			if tc.origin != "" {
				r.Header.Set("Origin", tc.origin)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != tc.status {
				t.Errorf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
		})
	}
}
