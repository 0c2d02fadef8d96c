package nlb

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	intutil "github.com/portway/portway/internal/testutil"
)

// gather returns the value of each sample of the registry's families, by
// "name{label=value,...}" with labels in the registry's order.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			out[mf.GetName()+"{"+strings.Join(ls, ",")+"}"] = value(m)
		}
	}
	return out
}

func value(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	}
	return 0
}

// TestMetricsAndLastCheck: a healthy and a failing target behind a load
// balancer on 127.0.0.1:0, traffic through the listener and the in-process
// link, then every NLB metric, the failing target's last check and
// description, and its series gone once it is deregistered.
func TestMetricsAndLastCheck(t *testing.T) {
	tts, hcPort := startTargets(t, targetSpec{ip: "127.0.0.2", handler: nameHandler("127.0.0.2")}, targetSpec{ip: "127.0.0.3"})
	tts[1].healthStatus.Store(500)
	reg := prometheus.NewRegistry()
	cfg := testConfig(t, hcPort)
	cfg.TargetGroups[0].DeregistrationDelay = 0
	cfg.Metrics = reg
	lb := startLB(t, cfg)
	register(t, lb, tts...)
	waitState(t, lb, StateHealthy, tts[0])
	waitState(t, lb, StateUnhealthy, tts[1])

	bad := healthOf(t, lb, tts[1])
	if bad.TargetHealth.Description != "Health checks failed with these codes: [500]" || bad.LastHealthCheck == nil ||
		bad.LastHealthCheck.Result != CheckBadStatus || bad.LastHealthCheck.StatusCode != 500 || bad.LastHealthCheck.Time.IsZero() {
		t.Fatalf("failing target: %+v %+v", bad, bad.LastHealthCheck)
	}
	if d := bad.Detail(); !strings.HasPrefix(d, "unhealthy: Health checks failed with these codes: [500]; last check bad_status (HTTP 500) in ") {
		t.Errorf("detail: %q", d)
	}
	if good := healthOf(t, lb, tts[0]); good.LastHealthCheck == nil || good.LastHealthCheck.Result != CheckSuccess {
		t.Errorf("healthy target's last check: %+v", good.LastHealthCheck)
	}

	// A flow through the listener, and one through the link.
	if name, err := whoami(t, lb); err != nil || name != "127.0.0.2" {
		t.Fatalf("whoami: %q %v", name, err)
	}
	lc, ok, err := lb.DialListener(context.Background(), lb.ListenerAddrs()[0])
	if !ok || err != nil {
		t.Fatalf("DialListener: %v %v", ok, err)
	}
	if name, err := ask(lc, bufio.NewReader(lc)); err != nil || name != "127.0.0.2" {
		t.Fatalf("link: %q %v", name, err)
	}

	good, failing := "127.0.0.2:"+strconv.Itoa(tts[0].port), "127.0.0.3:"+strconv.Itoa(tts[1].port)
	// key names a sample as gather does: labels in alphabetical order.
	key := func(name, target string, extra ...string) string {
		ls := append([]string{"target=" + target, "target_group=tg"}, extra...)
		slices.Sort(ls)
		return fmt.Sprintf("%s{%s}", name, strings.Join(ls, ","))
	}
	var m map[string]float64
	intutil.WaitFor(t, 10*time.Second, "the listener flow counted", func() bool {
		m = gather(t, reg)
		return m[key("portway_nlb_connections_total", good)] == 2 && m[key("portway_nlb_active_connections", good)] == 1
	})
	for k, want := range map[string]float64{
		key("portway_nlb_target_health", good, "state=healthy"):      1,
		key("portway_nlb_target_health", good, "state=initial"):      0,
		key("portway_nlb_target_health", failing, "state=unhealthy"): 1,
		key("portway_nlb_target_health", failing, "state=healthy"):   0,
		key("portway_nlb_active_connections", good):                  1, // the link flow, still open
		key("portway_nlb_connections_total", failing):                0,
	} {
		if got, ok := m[k]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, want)
		}
	}
	for _, k := range []string{
		key("portway_nlb_bytes_total", good, "direction=to_target"),
		key("portway_nlb_bytes_total", good, "direction=from_target"),
		key("portway_nlb_health_checks_total", good, "result=success"),
		key("portway_nlb_health_checks_total", failing, "result=bad_status"),
	} {
		if m[k] <= 0 {
			t.Errorf("%s = %v, want > 0", k, m[k])
		}
	}
	// The open link flow's bytes are read at scrape time: "who\n" out,
	// "127.0.0.2\n" back, on both flows.
	if got := m[key("portway_nlb_bytes_total", good, "direction=to_target")]; got != 8 {
		t.Errorf("bytes to target: %v, want 8", got)
	}
	if got := m[key("portway_nlb_bytes_total", good, "direction=from_target")]; got != 20 {
		t.Errorf("bytes from target: %v, want 20", got)
	}
	lc.Close()

	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("promlint: %v %+v", err, problems)
	}

	// Deregistered: its series go with it.
	if err := lb.DeregisterTargets("tg", []Target{tts[1].target()}); err != nil {
		t.Fatal(err)
	}
	intutil.WaitFor(t, 10*time.Second, "the deregistered target's series gone", func() bool {
		for k := range gather(t, reg) {
			if strings.Contains(k, "target="+failing) {
				return false
			}
		}
		return true
	})
}

// BenchmarkFlowBytesSample: what a flow pays for the byte counters, once
// when it closes (and once per scrape while open): a getsockopt(TCP_INFO)
// and two atomic additions.
func BenchmarkFlowBytesSample(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			_, _ = io.Copy(io.Discard, c)
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var acc flowBytes
	s := flowSample{acc: &acc}
	b.ReportAllocs()
	for b.Loop() {
		s.sample(c.(*net.TCPConn))
	}
}
