package gateway

import (
	"github.com/portway/portway/internal/h1"
)

// panicked is the h1 server's Panic hook: a panic while serving a request
// is logged once, with its stack and the request id, and answered as any
// unexpected failure is on AWS, DEFAULT_5XX 500 {"message":"Internal
// server error"} with the request's ids (unless the response had started:
// the connection then just closes; the access line keeps the status sent),
// and gets its access line.
func (g *Gateway) panicked(sc *h1.ServerConn, v any, stack []byte) {
	st, _ := sc.Exchange.(*reqState)
	if st == nil {
		st = &reqState{start: g.now(), requestID: newRequestID(), apigwID: newAPIGWID(), resourcePath: "-", clientID: "-"}
	}
	g.log.Error("panic serving request", "requestId", st.requestID, "sourceIp", sc.RemoteIP,
		"panic", v, "stack", string(stack))
	r := newRequest(sc)
	if sc.ResponseStarted() {
		st.reason = "internal error (panic) mid-response: connection closed"
	} else {
		g.writeError(sc.W, r, st, newGWError(RespDefault5XX, "internal error (panic)"), true)
		_ = sc.W.Flush()
	}
	g.logAccess(r, st)
}
