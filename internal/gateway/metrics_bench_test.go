package gateway

import (
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portway/portway/internal/h1"
)

// BenchmarkObserveRequest: what the metrics add to one forwarded request
// (counter, two histograms, the label lookups and a clock reading), alone
// and from parallel connections; "off" is a gateway without metrics.
func BenchmarkObserveRequest(b *testing.B) {
	for _, on := range []bool{false, true} {
		cfg := Config{Listen: "127.0.0.1:0", Stage: "v1",
			Resources: []Resource{{Path: "/ingests/{proxy+}", Methods: []Method{proxyMethod("ANY", AuthNone, "http://127.0.0.1:9/ingests/{proxy}")}}}}
		name := "off"
		if on {
			cfg.Metrics, name = prometheus.NewRegistry(), "on"
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
