package gateway

import (
	"context"
	"log/slog"
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
	code               int    // the status sent to the client
	bytes              int64  // body bytes sent to the client
	status             int    // overrides code in the log (client closed: 499)
	errType            string // gateway response type, when the gateway answered
	reason             string // operator-facing detail, never a secret
	authResult         string // the authorizer's decision (authzResult); "" when none was asked
}

// logAccess writes the one access log line of a request. The token, and
// request headers in general, are never logged.
func (g *Gateway) logAccess(r *request, st *reqState) {
	ctx := context.Background()
	if !g.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	status := st.code
	if st.status != 0 {
		status = st.status
	}
	if status == 0 {
		status = http.StatusOK
	}
	attrs := [15]slog.Attr{
		slog.String("requestId", st.requestID),
		slog.String("apigwId", st.apigwID),
		slog.String("sourceIp", r.sc.RemoteIP),
		slog.String("client_id", st.clientID),
		slog.String("method", r.method),
		slog.String("resourcePath", st.resourcePath),
		slog.String("path", st.path),
		slog.String("stage", orDash(st.stage)),
		slog.String("domainName", orDash(st.domain)),
		slog.Int("status", status),
		slog.Int64("responseLength", st.bytes),
		slog.Int64("integrationLatency", st.integrationLatency.Milliseconds()),
		slog.Int64("responseLatency", g.now().Sub(st.start).Milliseconds()),
	}
	n := 13
	if st.errType != "" {
		attrs[n] = slog.String("errorType", st.errType)
		n++
	}
	if st.reason != "" {
		attrs[n] = slog.String("errorReason", st.reason)
		n++
	}
	g.log.LogAttrs(ctx, slog.LevelInfo, "access", attrs[:n]...)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
