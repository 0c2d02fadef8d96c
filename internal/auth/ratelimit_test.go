package auth

import (
	"io"
	"net/http"
	"testing"
	"time"
)

func TestFailedAuthRateLimit(t *testing.T) {
	clk := newFakeClock()
	cfg := testConfig(t, clk)
	cfg.AuthFailureBurst = 3
	cfg.AuthFailureRefill = time.Second
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	id, secret := mustCreate(t, s.Clients(), "victim")
	otherID, otherSecret := mustCreate(t, s.Clients(), "bystander")

	req := func(ip, id, secret string) *http.Response {
		w := serve(s, tokenReq{form: ccForm("client_id", id, "client_secret", secret), remoteAddr: ip + ":40000"})
		return w.Result()
	}
	expect := func(resp *http.Response, status int, retryAfter string) {
		t.Helper()
		if resp.StatusCode != status || resp.Header.Get("Retry-After") != retryAfter {
			t.Fatalf("got %d Retry-After %q, want %d %q", resp.StatusCode, resp.Header.Get("Retry-After"), status, retryAfter)
		}
	}

	t.Run("per client id", func(t *testing.T) {
		// Three wrong secrets from three different IPs exhaust the client's budget.
		for i, ip := range []string{"127.0.1.1", "127.0.1.2", "127.0.1.3"} {
			expect(req(ip, id, "wrong"+string(rune('a'+i))), 400, "")
		}
		resp := req("127.0.1.4", id, secret)
		expect(resp, 429, "1")
		body, _ := io.ReadAll(resp.Body)
		if string(body) != `{"error":"too_many_requests"}` {
			t.Errorf("body = %s", body)
		}
		// Another client from a fresh IP is unaffected.
		expect(req("127.0.1.5", otherID, otherSecret), 200, "")
		// Half a token is not enough; one second restores one attempt.
		clk.Advance(500 * time.Millisecond)
		expect(req("127.0.1.4", id, secret), 429, "1")
		clk.Advance(500 * time.Millisecond)
		expect(req("127.0.1.4", id, secret), 200, "")
	})

	t.Run("per source IP", func(t *testing.T) {
		ip := "127.0.2.1"
		for i := 0; i < 3; i++ {
			expect(req(ip, "unknownclient0000000000000", "x"), 400, "")
		}
		// The IP is blocked even for valid credentials; other IPs are not.
		expect(req(ip, otherID, otherSecret), 429, "1")
		expect(req("127.0.2.2", otherID, otherSecret), 200, "")
		// Unknown client ids do not create per-client entries.
		if _, blocked := s.limiter.blocked(clk.Now(), "client:unknownclient0000000000000"); blocked {
			t.Error("unknown client id was rate limited by id")
		}
		clk.Advance(3 * time.Second)
		expect(req(ip, otherID, otherSecret), 200, "")
	})

	t.Run("retry-after grows with debt", func(t *testing.T) {
		ip := "127.0.3.1"
		for i := 0; i < 3; i++ {
			expect(req(ip, "unknownclient0000000000000", "x"), 400, "")
		}
		expect(req(ip, otherID, otherSecret), 429, "1")
		// Blocked requests spend nothing, so the wait does not grow.
		expect(req(ip, otherID, otherSecret), 429, "1")
	})
}

func TestFailureLimiterUnit(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newFailureLimiter(2, 2*time.Second)
	l.fail(now, "a")
	l.fail(now, "a")
	wait, blocked := l.blocked(now, "a", "b")
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
