package gateway

import (
	"log/slog"
	"net"
	"net/http"
	"time"
)

// statusClientClosed is logged when the client went away mid-request.
const statusClientClosed = 499

// reqState is what one request accumulates for its response and log line.
type reqState struct {
	start              time.Time
	requestID          string
	apigwID            string
	path               string // canonical once normalized, else as received
	stage              string // "" until resolved
	domain             string // $context.domainName: the Host without port, once resolved
	prefix             string // X-Forwarded-Prefix for the backend
	resourcePath       string
	clientID           string
	integrationLatency time.Duration
	status             int    // overrides the recorded status (client closed)
	errType            string // gateway response type, when the gateway answered
	reason             string // operator-facing detail, never a secret
}

// recorder captures status and size; Unwrap keeps Flush and friends working
// through http.ResponseController (used by ReverseProxy).
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// logAccess writes the one access log line of a request. The token, and
// request headers in general, are never logged.
func (g *Gateway) logAccess(rec *recorder, r *http.Request, st *reqState) {
	status := rec.status
	if st.status != 0 {
		status = st.status
	}
	if status == 0 {
		status = http.StatusOK
	}
	attrs := []slog.Attr{
		slog.String("requestId", st.requestID),
		slog.String("apigwId", st.apigwID),
		slog.String("sourceIp", sourceIP(r)),
		slog.String("client_id", st.clientID),
		slog.String("method", r.Method),
		slog.String("resourcePath", st.resourcePath),
		slog.String("path", st.path),
		slog.String("stage", orDash(st.stage)),
		slog.String("domainName", orDash(st.domain)),
		slog.Int("status", status),
		slog.Int64("responseLength", rec.bytes),
		slog.Int64("integrationLatency", st.integrationLatency.Milliseconds()),
		slog.Int64("responseLatency", g.now().Sub(st.start).Milliseconds()),
	}
	if st.errType != "" {
		attrs = append(attrs, slog.String("errorType", st.errType))
	}
	if st.reason != "" {
		attrs = append(attrs, slog.String("errorReason", st.reason))
	}
	g.log.LogAttrs(r.Context(), slog.LevelInfo, "access", attrs...)
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
