package nlb

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"
)

func TestHTTPCheck(t *testing.T) {
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	var mu sync.Mutex
	var gotUA, gotHost, gotPath string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			mu.Lock()
			gotUA, gotHost, gotPath = r.UserAgent(), r.Host, r.URL.RequestURI()
			mu.Unlock()
		case "/503":
			w.WriteHeader(503)
		case "/redirect":
			http.Redirect(w, r, "/503", http.StatusFound)
		case "/slow":
			select {
			case <-block:
			case <-r.Context().Done():
			}
		}
	}))
	t.Cleanup(srv.Close)
	addr := netip.MustParseAddrPort(srv.Listener.Addr().String())

	check := func(path, matcher string, timeout time.Duration) checkResult {
		hc := HealthCheck{Protocol: ProtocolHTTP, Path: path, Matcher: matcher, Timeout: timeout}
		return newProber(hc, dialer{source: netip.MustParseAddr("127.0.0.1")}, false)(context.Background(), addr)
	}

	if r := check("/ok?x=1", "200", time.Second); !r.ok {
		t.Fatalf("/ok: %+v", r)
	}
	mu.Lock()
	defer mu.Unlock()
	if gotUA != "ELB-HealthChecker/2.0" || gotHost != addr.String() || gotPath != "/ok?x=1" {
		t.Errorf("request: UA %q Host %q path %q", gotUA, gotHost, gotPath)
	}
	r := check("/503", "200-399", time.Second)
	if r.ok || r.reason != "Target.FailedHealthChecks" || r.description != "Health checks failed with these codes: [503]" ||
		r.code != 503 || r.result() != CheckBadStatus {
		t.Errorf("/503: %+v", r)
	}
	if r := check("/503", "200,503", time.Second); !r.ok {
		t.Errorf("/503 with matcher 200,503: %+v", r)
	}
	// Redirects are not followed: 302 is the answer.
	if r := check("/redirect", "200-399", time.Second); !r.ok {
		t.Errorf("/redirect with 200-399: %+v", r)
	}
	if r := check("/redirect", "200", time.Second); r.ok || r.description != "Health checks failed with these codes: [302]" {
		t.Errorf("/redirect with 200: %+v", r)
	}
	start := time.Now()
	r = check("/slow", "200", 100*time.Millisecond)
	// A timeout is worded as ELB words it; the NLB's reason stays.
	if r.ok || r.reason != "Target.FailedHealthChecks" || r.description != "Request timed out" || r.result() != CheckTimeout {
		t.Errorf("/slow: %+v", r)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("timeout took %s", el)
	}

	// Nothing listening: failed health checks.
	closed := closedAddr(t)
	hc := HealthCheck{Protocol: ProtocolHTTP, Path: "/", Matcher: "200", Timeout: time.Second}
	r = newProber(hc, dialer{}, false)(context.Background(), closed)
	if r.ok || r.reason != ReasonFailedHealthChecks || r.description != "Health checks failed" || r.err == nil {
		t.Errorf("refused: %+v", r)
	}
}

func TestTCPCheck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	p := newProber(HealthCheck{Protocol: ProtocolTCP, Timeout: time.Second}, dialer{}, false)
	if r := p(context.Background(), netip.MustParseAddrPort(ln.Addr().String())); !r.ok {
		t.Errorf("open port: %+v", r)
	}
	if r := p(context.Background(), closedAddr(t)); r.ok || r.reason != ReasonFailedHealthChecks {
		t.Errorf("closed port: %+v", r)
	}
}

// closedAddr returns an address on which nothing listens.
func closedAddr(t *testing.T) netip.AddrPort {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddrPort(ln.Addr().String())
	ln.Close()
	return a
}
