package nlb

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/portway/portway/internal/sidecar"
	"github.com/portway/portway/internal/testutil"
)

// TestProxyProtocolV2WithSidecar: load balancer with proxy protocol v2 in
// front of the sidecar with ProxyProtocol on. HTTP health checks (which
// carry a LOCAL header) pass, and the app sees the real client's address in
// X-Real-IP, not the load balancer's.
func TestProxyProtocolV2WithSidecar(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]string{} // User-Agent -> X-Real-IP
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.UserAgent()] = r.Header.Get("X-Real-IP")
		mu.Unlock()
		io.WriteString(w, "ok")
	}))
	t.Cleanup(app.Close)
	sc, err := sidecar.New(sidecar.Config{Listen: "127.0.0.2:0", Upstream: app.URL, ProxyProtocol: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		sc.Stop(ctx)
	})
	target := netip.MustParseAddrPort(sc.Addr())

	cfg := testConfig(t, 0)
	cfg.TargetGroups[0].ProxyProtocolV2 = true
	lb := startLB(t, cfg)
	if err := lb.RegisterTargets("tg", []Target{{ID: target.Addr().String(), Port: int(target.Port())}}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "the sidecar target healthy", func() bool {
		ds, _ := lb.DescribeTargetHealth("tg")
		return len(ds) == 1 && ds[0].TargetHealth.State == StateHealthy
	})

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.5")}}).DialContext,
	}}
	req, _ := http.NewRequest("GET", "http://"+lb.ListenerAddrs()[0]+"/x", nil)
	req.Header.Set("User-Agent", "client")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	mu.Lock()
	defer mu.Unlock()
	if ip := seen["client"]; ip != "127.0.0.5" {
		t.Errorf("app saw the client as %q, want 127.0.0.5", ip)
	}
	if ip := seen[HealthCheckUserAgent]; ip != "127.0.0.1" {
		t.Errorf("app saw health checks from %q, want the load balancer 127.0.0.1", ip)
	}
}
