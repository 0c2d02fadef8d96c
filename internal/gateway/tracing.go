package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/netip"

	"github.com/portway/portway/internal/h1"
	"github.com/portway/portway/internal/trace"
)

// HopRecorder keeps the gateway's hop of each request (trace.Store).
type HopRecorder interface {
	Add(trace.Hop)
}

var _ HopRecorder = (*trace.Store)(nil)

// traceHeader is the request's X-Amzn-Trace-Id: the caller's first valid
// one (trace.ValidHeader), else a new one, as API Gateway adds one to a
// request that has none and passes a traced caller's on.
func (g *Gateway) traceHeader(h *h1.Head) string {
	for _, f := range h.Fields {
		if len(f.Name) == len("x-amzn-trace-id") && h1.Fold(f.Name, "x-amzn-trace-id") && trace.ValidHeader(f.Value) {
			return string(f.Value)
		}
	}
	return trace.NewHeader(g.now())
}

// noteUpstream remembers which connection carries the request to the
// integration (the last attempt's), for the join with the load
// balancer's flow.
func (g *Gateway) noteUpstream(sc *h1.ServerConn, st *reqState) {
	if g.cfg.Traces == nil {
		return
	}
	st.upStart = g.now()
	if uc, ok := sc.Upstream().(*h1.Conn); ok && uc != nil {
		st.upLocal, st.upRemote, st.upReused = addrPort(uc.LocalAddr()), addrPort(uc.RemoteAddr()), uc.Reused
	}
}

func addrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}

// recordHop hands the request's hop to Config.Traces.
func (g *Gateway) recordHop(r *request, st *reqState) {
	if g.cfg.Traces == nil {
		return
	}
	end := g.now()
	h := trace.Hop{
		Kind: trace.KindGateway, Trace: trace.RootOf(st.trace),
		Start: st.start.UnixMicro(), Duration: end.Sub(st.start).Microseconds(), Status: st.finalStatus(),
		RequestID: st.requestID, Method: r.method, Path: st.path, Stage: st.stage, Route: st.resourcePath,
		ClientID: st.logClientID(), Authorizer: st.authorizerOutcome(), Error: st.errType,
		Integration: st.integrationLatency.Microseconds(),
	}
	if !st.upStart.IsZero() {
		h.UpstreamLocal, h.UpstreamRemote, h.UpstreamStart, h.UpstreamReused = st.upLocal, st.upRemote, st.upStart.UnixMicro(), st.upReused
	}
	g.cfg.Traces.Add(h)
}

// authorizerOutcome is "allow", the reason a token was refused, or "" for
// a request that met no authorizer.
func (st *reqState) authorizerOutcome() string {
	switch {
	case st.authError != "":
		return st.authError
	case st.clientID != "-" && st.clientID != "":
		return "allow"
	}
	return ""
}

// logClientID is the verified client id, or for a refused token the
// client_id it claims (unverified: for the log and the trace only).
func (st *reqState) logClientID() string {
	if st.clientID != "-" && st.clientID != "" {
		return st.clientID
	}
	return st.claimedClientID
}

// maxClaimsBytes bounds the token payload decoded for a refused token's
// claimed client_id.
const maxClaimsBytes = 8 << 10

// claimedClientID reads the client_id (else, for an ID token, the aud) a
// JWT's payload claims, without verifying anything: for the access log and
// trace of a refused token only, never to grant or limit. "" when the
// token cannot be read or the id is not plain (letters, digits, "-", "_",
// at most 128).
func claimedClientID(authz []byte) string {
	tok := bytes.TrimSpace(authz)
	if len(tok) > 7 && bytes.EqualFold(tok[:7], []byte("Bearer ")) {
		tok = bytes.TrimSpace(tok[7:])
	}
	parts := bytes.SplitN(tok, []byte("."), 4)
	if len(parts) != 3 || len(parts[1]) > maxClaimsBytes {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(string(parts[1]))
	if err != nil {
		return ""
	}
	var c struct {
		ClientID string          `json:"client_id"`
		Aud      json.RawMessage `json:"aud"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return ""
	}
	id := c.ClientID
	if id == "" && len(c.Aud) > 0 {
		var aud string
		if json.Unmarshal(c.Aud, &aud) != nil {
			var auds []string
			if json.Unmarshal(c.Aud, &auds) == nil && len(auds) > 0 {
				aud = auds[0]
			}
		}
		id = aud
	}
	if id == "" || len(id) > 128 {
		return ""
	}
	for _, ch := range []byte(id) {
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
			return ""
		}
	}
	return id
}
