// Package metrics holds what the components share to expose Prometheus
// metrics: a registry per process or stack (never the global default
// one), registration that tolerates a component built twice on one
// registry, and the /metrics handler. Each component defines its own
// collectors and takes a prometheus.Registerer in its Config (nil: no
// metrics).
package metrics

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Path is where the metrics are served on a control listener.
const Path = "/metrics"

// NewRegistry returns a registry with the Go runtime and process
// collectors, for one process or stack.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Register registers c on reg and returns it, or the collector already
// registered in its place (a component built again on the same registry
// keeps counting on the same series).
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("metrics: register: %w", err)
}

// Handler serves the registry's metrics in the text exposition format (or
// OpenMetrics when asked), at most a few scrapes at a time, each bounded.
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
}

// LatencyBuckets are the histogram buckets of request and integration
// durations, in seconds: from 100 µs (an in-process hop) to 30 s (the
// integration timeout).
var LatencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}
