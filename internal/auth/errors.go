package auth

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
)

// OAuth2 error codes the token endpoint returns (RFC 6749 5.2), plus the
// few non-OAuth errors of this server.
const (
	errInvalidRequest       = "invalid_request"
	errInvalidClient        = "invalid_client"
	errUnauthorizedClient   = "unauthorized_client"
	errUnsupportedGrantType = "unsupported_grant_type"
	errInvalidScope         = "invalid_scope"
	errServerError          = "server_error"
	errTooManyRequests      = "too_many_requests"
	errMethodNotAllowed     = "method_not_allowed"
	errNotFound             = "not_found"
)

// httpError is an error answered as {"error": code} with status and headers.
type httpError struct {
	status int
	code   string
	header http.Header
	reason string // for logs and tests only; never sent
}

func (e *httpError) Error() string {
	if e.reason != "" {
		return e.code + ": " + e.reason
	}
	return e.code
}

func newError(status int, code, reason string) *httpError {
	return &httpError{status: status, code: code, reason: reason}
}

func badRequest(code, reason string) *httpError {
	return newError(http.StatusBadRequest, code, reason)
}

func methodNotAllowed(allow string) *httpError {
	e := newError(http.StatusMethodNotAllowed, errMethodNotAllowed, "")
	e.header = http.Header{"Allow": {allow}}
	return e
}

func tooManyRequests(retryAfter int) *httpError {
	e := newError(http.StatusTooManyRequests, errTooManyRequests, "")
	e.header = http.Header{"Retry-After": {strconv.Itoa(retryAfter)}}
	return e
}

// handlerFunc is a handler whose errors are turned into responses by wrap.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// wrap is the one place where handler errors become responses.
func (s *Server) wrap(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		var he *httpError
		if !errors.As(err, &he) {
			s.log.Error("auth: internal error", "path", r.URL.Path, "err", err)
			he = newError(http.StatusInternalServerError, errServerError, "")
		}
		for k, v := range he.header {
			w.Header()[k] = v
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		writeJSON(w, he.status, map[string]string{"error": he.code})
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
