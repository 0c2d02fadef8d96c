package nlb

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portway/portway/internal/testutil"
)

// testLogger logs to the test output only with -v (and NLB_TEST_LOG=1).
func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("NLB_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// testTarget is a target on its own loopback IP: a raw TCP traffic listener
// (nil for a target whose traffic port refuses connections) and an HTTP
// health server on the environment's shared health port.
type testTarget struct {
	ip      string
	port    int
	traffic *net.TCPListener
	handler func(*net.TCPConn)

	healthStatus atomic.Int32
	healthHits   atomic.Int64
	lastUA       atomic.Value // string
	lastHost     atomic.Value // string
	accepted     atomic.Int64
}

func (tt *testTarget) target() Target { return Target{ID: tt.ip, Port: tt.port} }

// nameHandler answers every line with the target's IP: "who\n" → "127.0.0.2\n".
func nameHandler(name string) func(*net.TCPConn) {
	return func(c *net.TCPConn) {
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			if _, err := fmt.Fprintf(c, "%s\n", name); err != nil {
				return
			}
		}
	}
}

type targetSpec struct {
	ip      string
	closed  bool // traffic port refuses connections
	handler func(*net.TCPConn)
}

// startTargets starts targets whose health servers share one port, so a
// target group can use HealthCheck.Port. It returns the targets and the port.
func startTargets(t testing.TB, specs ...targetSpec) ([]*testTarget, int) {
	t.Helper()
	hls, hcPort := listenSamePort(t, specs)
	var tts []*testTarget
	for i, s := range specs {
		tt := &testTarget{ip: s.ip, handler: s.handler}
		tt.healthStatus.Store(200)
		if tt.handler == nil {
			tt.handler = nameHandler(s.ip)
		}
		ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.ParseIP(s.ip)})
		if err != nil {
			t.Fatal(err)
		}
		tt.port = ln.Addr().(*net.TCPAddr).Port
		if s.closed {
			ln.Close() // nothing listens there any more: connections are refused
		} else {
			tt.traffic = ln
			t.Cleanup(func() { ln.Close() })
			go serveRaw(ln, tt)
		}
		hs := &http.Server{
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tt.healthHits.Add(1)
				tt.lastUA.Store(r.UserAgent())
				tt.lastHost.Store(r.Host)
				w.WriteHeader(int(tt.healthStatus.Load()))
			}),
			ReadHeaderTimeout: 5 * time.Second,
		}
		go hs.Serve(hls[i])
		t.Cleanup(func() { hs.Close() })
		tts = append(tts, tt)
	}
	return tts, hcPort
}

func serveRaw(ln *net.TCPListener, tt *testTarget) {
	for {
		c, err := ln.AcceptTCP()
		if err != nil {
			return
		}
		tt.accepted.Add(1)
		go func() {
			defer c.Close()
			tt.handler(c)
		}()
	}
}

func listenSamePort(t testing.TB, specs []targetSpec) ([]net.Listener, int) {
	t.Helper()
	for range 50 {
		first, err := net.Listen("tcp", net.JoinHostPort(specs[0].ip, "0"))
		if err != nil {
			t.Fatal(err)
		}
		port := first.Addr().(*net.TCPAddr).Port
		ls := []net.Listener{first}
		for _, s := range specs[1:] {
			l, err := net.Listen("tcp", net.JoinHostPort(s.ip, strconv.Itoa(port)))
			if err != nil {
				break
			}
			ls = append(ls, l)
		}
		if len(ls) == len(specs) {
			return ls, port
		}
		for _, l := range ls {
			l.Close()
		}
	}
	t.Fatal("no port free on all target IPs")
	return nil, 0
}

// testConfig is a one-listener, one-group config with fast HTTP checks.
func testConfig(t testing.TB, hcPort int) Config {
	return Config{
		Name:    "test-nlb",
		Address: "127.0.0.1",
		Listeners: []ListenerConfig{
			{Port: 0, TargetGroup: "tg"},
		},
		TargetGroups: []TargetGroupConfig{{
			Name: "tg",
			Port: 9000,
			HealthCheck: HealthCheck{
				Protocol:           ProtocolHTTP,
				Path:               "/health",
				Port:               hcPort,
				Interval:           300 * time.Millisecond,
				Timeout:            250 * time.Millisecond,
				HealthyThreshold:   2,
				UnhealthyThreshold: 2,
			},
			DeregistrationDelay: 5 * time.Second,
		}},
		Logger: testLogger(t),
	}
}

func startLB(t testing.TB, cfg Config) *LoadBalancer {
	t.Helper()
	lb, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := lb.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		lb.Stop(ctx)
	})
	return lb
}

func register(t testing.TB, lb *LoadBalancer, tts ...*testTarget) {
	t.Helper()
	var ts []Target
	for _, tt := range tts {
		ts = append(ts, tt.target())
	}
	if err := lb.RegisterTargets("tg", ts); err != nil {
		t.Fatal(err)
	}
}

// healthOf returns the state of target tt in group "tg" ("" if absent).
func healthOf(t testing.TB, lb *LoadBalancer, tt *testTarget) TargetHealthDescription {
	t.Helper()
	ds, err := lb.DescribeTargetHealth("tg")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.Target == tt.target() {
			return d
		}
	}
	return TargetHealthDescription{}
}

func waitState(t testing.TB, lb *LoadBalancer, state string, tts ...*testTarget) {
	t.Helper()
	testutil.WaitFor(t, 10*time.Second, "targets "+state, func() bool {
		for _, tt := range tts {
			if healthOf(t, lb, tt).TargetHealth.State != state {
				return false
			}
		}
		return true
	})
}

// dialLB connects to the load balancer's first listener.
func dialLB(t testing.TB, lb *LoadBalancer) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", lb.ListenerAddrs()[0], 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// ask sends "who" on c and returns the answering target's name.
func ask(c net.Conn, r *bufio.Reader) (string, error) {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte("who\n")); err != nil {
		return "", err
	}
	line, err := r.ReadString('\n')
	return strings.TrimSpace(line), err
}

// whoami opens a fresh connection through the LB and returns the target's name.
func whoami(t testing.TB, lb *LoadBalancer) (string, error) {
	c, err := net.DialTimeout("tcp", lb.ListenerAddrs()[0], 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	return ask(c, bufio.NewReader(c))
}

// waitClosed waits until the peer closes c (read returns EOF or an error).
func waitClosed(c net.Conn, timeout time.Duration) error {
	c.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 512)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return err
		}
		return nil
	}
}

// counter is a concurrency-safe tally.
type counter struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counter) add(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[k]++
}

// checkIdleClose keeps c busy for twice idle, asking every idle/10 (it must
// stay open), then leaves it idle: it must be closed, not before idle has
// passed since the last answer.
func checkIdleClose(t *testing.T, c net.Conn, idle time.Duration) {
	t.Helper()
	r := bufio.NewReader(c)
	var last time.Time
	for deadline := time.Now().Add(2 * idle); time.Now().Before(deadline); time.Sleep(idle / 10) {
		if _, err := ask(c, r); err != nil {
			t.Fatalf("active connection closed: %v (%s since the last answer)", err, time.Since(last))
		}
		last = time.Now()
	}
	if err := waitClosed(c, 10*time.Second); err != nil {
		t.Fatalf("idle connection not closed: %v", err)
	}
	if el := time.Since(last); el < idle {
		t.Errorf("closed after %s idle, before the %s timeout", el, idle)
	}
}
