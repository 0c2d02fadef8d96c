package gateway

import (
	"sync"
	"testing"
	"time"

	"github.com/portway/portway/internal/livestats"
	intutil "github.com/portway/portway/internal/testutil"
)

type liveRecorder struct {
	mu   sync.Mutex
	reqs []livestats.Request
}

func (l *liveRecorder) Request(r livestats.Request) {
	l.mu.Lock()
	l.reqs = append(l.reqs, r)
	l.mu.Unlock()
}

// TestLive checks what the gateway hands the console's statistics: route
// templates, statuses, and per client the authorizer's decision and reason.
func TestLive(t *testing.T) {
	backend := newEchoBackend(t)
	js := newJWKSServer(t)
	js.setKey("k1", testKey1())
	clock := newFakeClock()
	live := &liveRecorder{}
	g := startGateway(t, Config{
		Stages: []Stage{{Name: "v1"}},
		Resources: []Resource{
			{Path: "/bags/{proxy+}", Methods: []Method{proxyMethod("ANY", AuthCognito, backend.URL+"/bags/{proxy}", scopeBags)}},
			anyResource("/open", backend.URL+"/open", 0),
		},
		Authorizer: AuthorizerConfig{Issuer: testIssuer, JWKSURL: js.URL()},
		Now:        clock.Now,
		Live:       live,
	})
	good := "Bearer " + signToken(t, testKey1(), "k1", tokenClaims(clock.Now(), scopeBags))
	for _, c := range []struct {
		path, authz string
		want        int
	}{
		{"/v1/bags/a", good, 200},
		{"/v1/bags/a", "", 401},
		{"/v1/bags/a", "Bearer " + signToken(t, testKey1(), "no-such-kid", map[string]any{"client_id": "rogue"}), 401},
		{"/v1/open", "", 200},
		{"/v1/nope", "", 403},
	} {
		var hdr []string
		if c.authz != "" {
			hdr = []string{"Authorization", c.authz}
		}
		if res, body := get(t, g.URL()+c.path, hdr...); res.StatusCode != c.want {
			t.Fatalf("GET %s: %d %s, want %d", c.path, res.StatusCode, body, c.want)
		}
	}
	// The gateway records a request after its response went out.
	intutil.WaitFor(t, 10*time.Second, "every request recorded", func() bool {
		live.mu.Lock()
		defer live.mu.Unlock()
		return len(live.reqs) >= 5
	})
	live.mu.Lock()
	defer live.mu.Unlock()
	want := []livestats.Request{
		{Stage: "v1", Method: "GET", Resource: "/bags/{proxy+}", Status: 200, Client: testClientID, AuthResult: "allow"},
		{Stage: "v1", Method: "GET", Resource: "/bags/{proxy+}", Status: 401, AuthResult: "missing_token", Reason: "missing token"},
		// A refused token's client is the one it claims, unverified.
		{Stage: "v1", Method: "GET", Resource: "/bags/{proxy+}", Status: 401, Client: "rogue", AuthResult: "unauthorized", Reason: "unknown key id"},
		{Stage: "v1", Method: "GET", Resource: "/open", Status: 200},
		{Stage: "v1", Method: "GET", Resource: "(unmatched)", Status: 403},
	}
	if len(live.reqs) != len(want) {
		t.Fatalf("recorded %+v", live.reqs)
	}
	for i, w := range want {
		got := live.reqs[i]
		got.Duration, got.End = 0, time.Time{}
		if got != w {
			t.Errorf("request %d: got %+v, want %+v", i, got, w)
		}
	}
}
