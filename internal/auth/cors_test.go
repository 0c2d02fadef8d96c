package auth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The token endpoint answers cross-origin requests as Cognito's does: it
// returns Access-Control-Allow-Origin: * (any origin, no per-pool policy),
// on success and on errors alike, and answers the preflight a browser
// sends before a POST with Basic credentials.
func TestTokenEndpointCORS(t *testing.T) {
	f := newTokenFixture(t)
	const origin = "https://app.example.org"

	t.Run("token issued", func(t *testing.T) {
		r := tokenReq{form: ccForm(), basic: true, basicUser: f.bagsID, basicPass: f.bagsSecret}.build("http://auth.test/oauth2/token")
		r.Header.Set("Origin", origin)
		w := httptest.NewRecorder()
		f.s.Handler().ServeHTTP(w, r)
		if w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%d Access-Control-Allow-Origin %q, want 200 *", w.Code, w.Header().Get("Access-Control-Allow-Origin"))
		}
	})
	t.Run("error", func(t *testing.T) {
		r := tokenReq{form: ccForm(), basic: true, basicUser: f.bagsID, basicPass: "wrong"}.build("http://auth.test/oauth2/token")
		r.Header.Set("Origin", origin)
		w := httptest.NewRecorder()
		f.s.Handler().ServeHTTP(w, r)
		if w.Code != 400 || w.Header().Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%d Access-Control-Allow-Origin %q, want 400 *", w.Code, w.Header().Get("Access-Control-Allow-Origin"))
		}
	})
	t.Run("preflight", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodOptions, "http://auth.test/oauth2/token", nil)
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", "POST")
		r.Header.Set("Access-Control-Request-Headers", "authorization,content-type,x-amz-user-agent")
		w := httptest.NewRecorder()
		f.s.Handler().ServeHTTP(w, r)
		h := w.Header()
		if w.Code/100 != 2 || w.Body.Len() != 0 {
			t.Errorf("preflight answered %d %q, want 2xx with no body", w.Code, w.Body)
		}
		if h.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("Access-Control-Allow-Origin %q, want *", h.Get("Access-Control-Allow-Origin"))
		}
		if !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") {
			t.Errorf("Access-Control-Allow-Methods %q, want POST", h.Get("Access-Control-Allow-Methods"))
		}
		if got := strings.ToLower(h.Get("Access-Control-Allow-Headers")); got != "authorization,content-type,x-amz-user-agent" {
			t.Errorf("Access-Control-Allow-Headers %q, want the requested headers", got)
		}
	})
	t.Run("preflight for another method", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodOptions, "http://auth.test/oauth2/token", nil)
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", "DELETE")
		w := httptest.NewRecorder()
		f.s.Handler().ServeHTTP(w, r)
		if strings.Contains(w.Header().Get("Access-Control-Allow-Methods"), "DELETE") {
			t.Errorf("DELETE allowed: %q", w.Header().Get("Access-Control-Allow-Methods"))
		}
	})
	t.Run("preflight with a bad header list", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodOptions, "http://auth.test/oauth2/token", nil)
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", "POST")
		r.Header.Set("Access-Control-Request-Headers", "authorization, x\x01y")
		w := httptest.NewRecorder()
		f.s.Handler().ServeHTTP(w, r)
		if got := w.Header().Get("Access-Control-Allow-Headers"); got != "" {
			t.Errorf("Access-Control-Allow-Headers %q echoed a malformed list", got)
		}
	})
}
