package auth

import (
	"errors"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portway/portway/internal/metrics"
)

// tokenErrorCodes are the values of portway_auth_token_errors_total's
// error label: the token endpoint's error codes (errors.go).
var tokenErrorCodes = []string{errInvalidRequest, errInvalidClient, errUnauthorizedClient, errUnsupportedGrantType,
	errInvalidScope, errServerError, errTooManyRequests, errMethodNotAllowed}

// authMetrics are the token endpoint's counters. The client label is the
// id of a registered client (a token is only issued to one), so the
// series are bounded by the client store.
type authMetrics struct {
	issued *prometheus.CounterVec
	errs   map[string]prometheus.Counter
}

// newAuthMetrics registers the collectors on reg (nil: no metrics).
func newAuthMetrics(reg prometheus.Registerer) (*authMetrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &authMetrics{errs: map[string]prometheus.Counter{}}
	var err error
	if m.issued, err = metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portway_auth_tokens_issued_total",
		Help: "Access tokens issued by the token endpoint, by app client id.",
	}, []string{"client"})); err != nil {
		return nil, err
	}
	errs, err := metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portway_auth_token_errors_total",
		Help: "Token requests refused, by OAuth 2.0 error code.",
	}, []string{"error"}))
	if err != nil {
		return nil, err
	}
	for _, code := range tokenErrorCodes {
		m.errs[code] = errs.WithLabelValues(code)
	}
	return m, nil
}

// tokenIssued counts a token issued to a registered client.
func (s *Server) tokenIssued(clientID string) {
	if s.metrics != nil {
		s.metrics.issued.WithLabelValues(clientID).Inc()
	}
}

// countTokenErrors counts the token endpoint's refusals by error code.
func (s *Server) countTokenErrors(h handlerFunc) handlerFunc {
	if s.metrics == nil {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		err := h(w, r)
		if err != nil {
			code := errServerError
			var he *httpError
			if errors.As(err, &he) {
				code = he.code
			}
			if c := s.metrics.errs[code]; c != nil {
				c.Inc()
			}
		}
		return err
	}
}
