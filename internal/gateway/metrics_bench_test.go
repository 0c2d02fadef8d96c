package gateway

import (
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portway/portway/internal/h1"
	"github.com/portway/portway/internal/livestats"
)

// BenchmarkObserveRequest: what the metrics add to one forwarded request
// (counter, two histograms, the label lookups and a clock reading), alone
// and from parallel connections; "off" is a gateway without metrics,
// "on+live" adds the console's last-minute statistics (livestats).
func BenchmarkObserveRequest(b *testing.B) {
	for _, mode := range []string{"off", "on", "on+live"} {
		cfg := Config{Listen: "127.0.0.1:0", Stage: "v1",
			Resources: []Resource{{Path: "/ingests/{proxy+}", Methods: []Method{proxyMethod("ANY", AuthNone, "http://127.0.0.1:9/ingests/{proxy}")}}}}
		name := mode
		if mode != "off" {
			cfg.Metrics = prometheus.NewRegistry()
		}
		if mode == "on+live" {
			cfg.Live = livestats.New(nil)
		}
		g, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		target, _ := url.Parse("http://127.0.0.1:9/ingests/x")
		newReq := func() (*request, *reqState) {
			r := &request{sc: &h1.ServerConn{}, method: "GET"}
			r.call.target = target
			r.st = reqState{start: g.now(), stage: "v1", resourcePath: "/ingests/{proxy+}", code: 200, integrationLatency: time.Millisecond}
			return r, &r.st
		}
		b.Run(name, func(b *testing.B) {
			r, st := newReq()
			b.ReportAllocs()
			for b.Loop() {
				g.observeRequest(r, st)
			}
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				r, st := newReq()
				for pb.Next() {
					g.observeRequest(r, st)
				}
			})
		})
	}
}
