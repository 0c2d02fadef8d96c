package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
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

	trace           string // X-Amzn-Trace-Id, the caller's or a new one
	authError       string // why the authorizer refused the token
	claimedClientID string // the client_id a refused token claims (unverified)
	upStart         time.Time
	upLocal         netip.AddrPort // the integration connection's addresses
	upRemote        netip.AddrPort
	upReused        bool // the connection had carried earlier requests
}

// finalStatus is the status logged: the one sent, or 499 when the client
// went away.
func (st *reqState) finalStatus() int {
	status := st.code
	if st.status != 0 {
		status = st.status
	}
	if status == 0 {
		status = http.StatusOK
	}
	return status
}

// logAccess writes the one access log line of a request. The token, and
// request headers in general, are never logged.
func (g *Gateway) logAccess(r *request, st *reqState) {
	ctx := context.Background()
	level := slog.LevelInfo
	if g.access != nil {
		g.writeAccessLine(r, st)
		level = slog.LevelDebug // the access log has it
	}
	if !g.log.Enabled(ctx, level) {
		return
	}
	status := st.finalStatus()
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
	g.log.LogAttrs(ctx, level, "access", attrs[:n]...)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// accessBufs are the buffers access log lines are rendered in.
var accessBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// writeAccessLine writes the request's line to Config.AccessLog.Out.
func (g *Gateway) writeAccessLine(r *request, st *reqState) {
	bp := accessBufs.Get().(*[]byte)
	b := g.access.render((*bp)[:0], &accessEntry{r: r, st: st, end: g.now()})
	if _, err := g.cfg.AccessLog.Out.Write(b); err != nil && g.accessErrs.Add(1) == 1 {
		g.log.Error("access log: write failed (logged once)", "err", err)
	}
	if cap(b) <= 64<<10 {
		*bp = b
		accessBufs.Put(bp)
	}
}
