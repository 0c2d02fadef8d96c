package gateway

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portway/portway/internal/metrics"
)

// Label values of requests that matched no stage or no resource: fixed,
// so that unknown paths cannot grow the series (resource labels are the
// resource tree's templates, never the request's path).
const (
	unmatchedStage    = "(none)"
	unmatchedResource = "(unmatched)"
)

// Authorizer decisions (portway_gateway_authorizer_decisions_total).
const (
	authzAllow             = "allow"
	authzMissingToken      = "missing_token"
	authzUnauthorized      = "unauthorized" // malformed, forged, unknown key, wrong issuer, not yet valid
	authzExpired           = "expired"
	authzInsufficientScope = "insufficient_scope"
	authzWrongTokenUse     = "wrong_token_use" // an access token where an ID token is needed, or the reverse
	authzFailure           = "authorizer_failure"
)

var authzResults = []string{authzAllow, authzMissingToken, authzUnauthorized, authzExpired, authzInsufficientScope, authzWrongTokenUse, authzFailure}

// methodLabels are the method label values; any other method counts as
// OTHER (a route with ANY takes every token as method).
var methodLabels = [...]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"}

func methodIndex(m string) int {
	for i, l := range methodLabels[:len(methodLabels)-1] {
		if m == l {
			return i
		}
	}
	return len(methodLabels) - 1
}

// gwMetrics are the gateway's collectors with their label children
// resolved per stage and resource in advance: a request costs two map
// lookups by string, a clock reading, two histogram observations and a
// counter increment, without allocating.
type gwMetrics struct {
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	integration *prometheus.HistogramVec
	throttled   prometheus.Counter
	authz       map[string]prometheus.Counter

	routes    map[string]map[string]*routeMetrics // stage → resource template
	unmatched map[string]*routeMetrics            // stage (unmatchedStage too) → its unmatched requests
}

// routeMetrics are one stage's and resource's series, by method.
type routeMetrics struct {
	m               *gwMetrics
	stage, resource string
	byMethod        [len(methodLabels)]atomic.Pointer[methodMetrics]
}

// methodMetrics are the series of one stage, resource and method; the
// status counters are added as statuses are seen (copy on write).
type methodMetrics struct {
	duration, integration prometheus.Observer
	labels                [3]string
	mu                    sync.Mutex
	statuses              atomic.Pointer[[]statusCounter]
}

type statusCounter struct {
	code int
	c    prometheus.Counter
}

// newGWMetrics registers the gateway's collectors on reg (nil: none).
func newGWMetrics(reg prometheus.Registerer, stages []string, resources []Resource) (*gwMetrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &gwMetrics{authz: map[string]prometheus.Counter{}, routes: map[string]map[string]*routeMetrics{}, unmatched: map[string]*routeMetrics{}}
	var err error
	if m.requests, err = metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portway_gateway_requests_total",
		Help: "Requests answered by the API gateway, by stage, resource template, method and status.",
	}, []string{"stage", "resource", "method", "status"})); err != nil {
		return nil, err
	}
	if m.duration, err = metrics.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "portway_gateway_request_duration_seconds",
		Help:    "Time from a request's arrival at the gateway to its response's end (API Gateway's Latency).",
		Buckets: metrics.LatencyBuckets,
	}, []string{"stage", "resource", "method"})); err != nil {
		return nil, err
	}
	if m.integration, err = metrics.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "portway_gateway_integration_duration_seconds",
		Help:    "Time from sending a request to its integration to the integration's response head (API Gateway's IntegrationLatency).",
		Buckets: metrics.LatencyBuckets,
	}, []string{"stage", "resource", "method"})); err != nil {
		return nil, err
	}
	authz, err := metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portway_gateway_authorizer_decisions_total",
		Help: "Decisions of the COGNITO_USER_POOLS authorizer, by result.",
	}, []string{"result"}))
	if err != nil {
		return nil, err
	}
	for _, r := range authzResults {
		m.authz[r] = authz.WithLabelValues(r)
	}
	if m.throttled, err = metrics.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "portway_gateway_throttled_total",
		Help: "Requests refused with 429 by stage or per-client throttling.",
	})); err != nil {
		return nil, err
	}
	m.unmatched[unmatchedStage] = m.route(unmatchedStage, unmatchedResource)
	for _, st := range stages {
		m.unmatched[st] = m.route(st, unmatchedResource)
		byRes := map[string]*routeMetrics{}
		for _, r := range resources {
			byRes[r.Path] = m.route(st, r.Path)
		}
		m.routes[st] = byRes
	}
	return m, nil
}

func (m *gwMetrics) route(stage, resource string) *routeMetrics {
	return &routeMetrics{m: m, stage: stage, resource: resource}
}

// lookup finds the series of a stage and resource template ("" when not
// resolved).
func (m *gwMetrics) lookup(stage, resource string) *routeMetrics {
	if byRes := m.routes[stage]; byRes != nil {
		if rm := byRes[resource]; rm != nil {
			return rm
		}
	}
	if rm := m.unmatched[stage]; rm != nil {
		return rm
	}
	return m.unmatched[unmatchedStage]
}

func (rm *routeMetrics) method(i int) *methodMetrics {
	if mm := rm.byMethod[i].Load(); mm != nil {
		return mm
	}
	lv := [3]string{rm.stage, rm.resource, methodLabels[i]}
	mm := &methodMetrics{
		duration:    rm.m.duration.WithLabelValues(lv[:]...),
		integration: rm.m.integration.WithLabelValues(lv[:]...),
		labels:      lv,
	}
	if rm.byMethod[i].CompareAndSwap(nil, mm) {
		return mm
	}
	return rm.byMethod[i].Load()
}

func (mm *methodMetrics) status(v *prometheus.CounterVec, code int) prometheus.Counter {
	if p := mm.statuses.Load(); p != nil {
		for _, sc := range *p {
			if sc.code == code {
				return sc.c
			}
		}
	}
	mm.mu.Lock()
	defer mm.mu.Unlock()
	var cur []statusCounter
	if p := mm.statuses.Load(); p != nil {
		cur = *p
		for _, sc := range cur {
			if sc.code == code {
				return sc.c
			}
		}
	}
	c := v.WithLabelValues(mm.labels[0], mm.labels[1], mm.labels[2], strconv.Itoa(code))
	next := append(append(make([]statusCounter, 0, len(cur)+1), cur...), statusCounter{code, c})
	mm.statuses.Store(&next)
	return c
}

// observeRequest records a finished request (the one call per request,
// next to its access log line) in the metrics and the live statistics.
func (g *Gateway) observeRequest(r *request, st *reqState) {
	m := g.metrics
	if m == nil && g.cfg.Live == nil {
		return
	}
	end := g.now()
	if g.cfg.Live != nil {
		g.observeLive(r, st, end)
	}
	if m == nil {
		return
	}
	status := st.code
	if st.status != 0 {
		status = st.status
	}
	if status == 0 {
		status = 200
	}
	stage := st.stage
	if stage == "" {
		stage = unmatchedStage
	}
	mm := m.lookup(stage, st.resourcePath).method(methodIndex(r.method))
	mm.status(m.requests, status).Inc()
	mm.duration.Observe(end.Sub(st.start).Seconds())
	if r.call.target != nil {
		mm.integration.Observe(st.integrationLatency.Seconds())
	}
	if st.errType == RespThrottled {
		m.throttled.Inc()
	}
}

// observeAuthorizer records one decision of the authorizer.
func (g *Gateway) observeAuthorizer(st *reqState, gerr *gwError) {
	st.authResult = authzResult(gerr)
	if g.metrics == nil {
		return
	}
	g.metrics.authz[st.authResult].Inc()
}

// authzResult names an authorizer outcome (see authorizer.authorize).
func authzResult(gerr *gwError) string {
	switch {
	case gerr == nil:
		return authzAllow
	case gerr.typ == RespAuthorizerFailure:
		return authzFailure
	case gerr.message == msgExpired:
		return authzExpired
	case gerr.reason == "missing token":
		return authzMissingToken
	case gerr.reason == "no matching scope":
		return authzInsufficientScope
	case strings.Contains(gerr.reason, "(it takes"):
		return authzWrongTokenUse
	}
	return authzUnauthorized
}
