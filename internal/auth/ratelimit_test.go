package auth

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// limitFixture is a server (not listening) with a failure budget of 3 per
// source and a 1s refill, and two clients.
type limitFixture struct {
	t                    *testing.T
	clk                  *fakeClock
	s                    *Server
	id, secret           string // the victim
	otherID, otherSecret string
}

func newLimitFixture(t *testing.T) *limitFixture {
	t.Helper()
	clk := newFakeClock()
	cfg := testConfig(t, clk)
	cfg.AuthFailureBurst = 3
	cfg.AuthFailureRefill = time.Second
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := &limitFixture{t: t, clk: clk, s: s}
	f.id, f.secret = mustCreate(t, s.Clients(), "victim")
	f.otherID, f.otherSecret = mustCreate(t, s.Clients(), "bystander")
	return f
}

// req sends a token request from ip with the given extra headers.
func (f *limitFixture) req(ip, id, secret string, header ...string) *http.Response {
	r := tokenReq{form: ccForm("client_id", id, "client_secret", secret), remoteAddr: ip + ":40000"}.build("http://auth.test/oauth2/token")
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	f.s.Handler().ServeHTTP(w, r)
	return w.Result()
}

func (f *limitFixture) expect(resp *http.Response, status int, retryAfter string) {
	f.t.Helper()
	if resp.StatusCode != status || resp.Header.Get("Retry-After") != retryAfter {
		f.t.Fatalf("got %d Retry-After %q, want %d %q", resp.StatusCode, resp.Header.Get("Retry-After"), status, retryAfter)
	}
	want := map[int]string{400: `{"error":"invalid_client"}`, 429: `{"error":"too_many_requests"}`}[status]
	if body, _ := io.ReadAll(resp.Body); want != "" && string(body) != want {
		f.t.Fatalf("body = %s, want %s", body, want)
	}
}

// Failures for one client from many sources never refuse its right secret:
// the client id is public, so a limit keyed on it is a lockout anyone can
// trigger.
func TestRateLimitDoesNotLockOutClient(t *testing.T) {
	for _, tc := range []struct {
		name  string
		wrong string
	}{
		{"wrong secret", "wrongsecret"},
		{"wrong-length secret", "x"},
		{"overlong secret", strings.Repeat("a", 100)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newLimitFixture(t)
			for i := range 50 {
				ip := fmt.Sprintf("127.0.%d.%d", 1+i/200, 1+i%200)
				f.expect(f.req(ip, f.id, tc.wrong), 400, "")
			}
			f.expect(f.req("127.0.9.9", f.id, f.secret), 200, "")
			// A source that failed once still has budget for the right secret.
			f.expect(f.req("127.0.1.1", f.id, f.secret), 200, "")
			for k := range f.s.limiter.m {
				if strings.Contains(k, f.id) {
					t.Errorf("limiter holds a key for the client id: %q", k)
				}
			}
		})
	}
}

// A source that keeps failing is refused for every client id until it
// regains budget; other sources are not affected.
func TestRateLimitPerSource(t *testing.T) {
	for _, tc := range []struct {
		name, id, secret string
	}{
		{"unknown client", "unknownclient0000000000000", "x"},
		{"wrong secret", "victim", "wrongsecret"},
		{"overlong secret", "victim", strings.Repeat("a", 100)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newLimitFixture(t)
			id := tc.id
			if id == "victim" {
				id = f.id
			}
			ip := "127.0.2.1"
			for range 3 {
				f.expect(f.req(ip, id, tc.secret), 400, "")
			}
			f.expect(f.req(ip, f.otherID, f.otherSecret), 429, "1")
			f.expect(f.req(ip, f.otherID, "wrongsecret"), 429, "1")
			f.expect(f.req("127.0.2.2", f.otherID, f.otherSecret), 200, "")
			// Blocked requests spend nothing, so the wait does not grow;
			// half a token is not enough, one second restores one attempt.
			// (f.id's secret has not been verified yet: no shortcut.)
			f.clk.Advance(500 * time.Millisecond)
			f.expect(f.req(ip, f.id, f.secret), 429, "1")
			f.clk.Advance(500 * time.Millisecond)
			f.expect(f.req(ip, f.id, f.secret), 200, "")
		})
	}
}

// A secret the server has already verified gets through a source that is
// over its budget: every local process shares 127.0.0.1, and one of them
// failing must not lock out the clients that work.
func TestRateLimitLetsAProvenSecretThrough(t *testing.T) {
	f := newLimitFixture(t)
	ip := "127.0.0.1"
	f.expect(f.req(ip, f.id, f.secret), 200, "")
	for range 3 {
		f.expect(f.req(ip, f.id, "wrongsecret"), 400, "")
	}
	f.expect(f.req(ip, f.id, "wrongsecret"), 429, "1")
	f.expect(f.req(ip, f.id, f.secret), 200, "")
	// A secret never verified still waits, and a near miss of the proven
	// one is no shortcut.
	f.expect(f.req(ip, f.otherID, f.otherSecret), 429, "1")
	f.expect(f.req(ip, f.id, f.secret+"x"), 429, "1")
}

// X-Forwarded-For is not trusted: rotating it does not give a source a
// fresh budget, and it cannot charge another source.
func TestRateLimitIgnoresForwardedFor(t *testing.T) {
	f := newLimitFixture(t)
	ip := "127.0.3.1"
	for i := range 3 {
		f.expect(f.req(ip, f.id, "wrongsecret", "X-Forwarded-For", fmt.Sprintf("10.0.0.%d", i), "X-Real-Ip", "10.1.1.1"), 400, "")
	}
	f.expect(f.req(ip, f.id, f.secret, "X-Forwarded-For", "10.9.9.9"), 429, "1")
	f.expect(f.req("127.0.3.2", f.otherID, f.otherSecret, "X-Forwarded-For", ip), 200, "")
}

func TestFailureLimiterUnit(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newFailureLimiter(2, 2*time.Second)
	l.fail(now, "a")
	l.fail(now, "a")
	wait, blocked := l.blocked(now, "a")
	if !blocked || wait != 2*time.Second || retryAfterSeconds(wait) != 2 {
		t.Errorf("blocked=%v wait=%v", blocked, wait)
	}
	if _, blocked := l.blocked(now, "b"); blocked {
		t.Error("b blocked")
	}
	if _, blocked := l.blocked(now.Add(2*time.Second), "a"); blocked {
		t.Error("a still blocked after refill")
	}
	l.sweepLocked(now.Add(time.Hour))
	if len(l.m) != 0 {
		t.Errorf("sweep kept %d keys", len(l.m))
	}
	off := newFailureLimiter(-1, time.Second)
	for i := 0; i < 100; i++ {
		off.fail(now, "a")
	}
	if _, blocked := off.blocked(now, "a"); blocked {
		t.Error("disabled limiter blocked")
	}
}
