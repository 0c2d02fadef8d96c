package sidecar

import (
	"net/http"

	"github.com/portway/portway/internal/h1"
)

// panicked is the h1 server's Panic hook: a panic while serving a request
// is logged once with its stack and answered with nginx's 500 page (unless
// the response had started: the connection then just closes). The access
// line, logged as the exchange unwinds, says 500.
func (s *Sidecar) panicked(cc *h1.ServerConn, v any, stack []byte) {
	path := cc.Req.Target
	for i, c := range path {
		if c == '?' {
			path = path[:i]
			break
		}
	}
	s.log.Error("panic serving request", "remote", cc.RemoteIP, "method", string(cc.Req.Method),
		"path", string(path), "panic", v, "stack", string(stack))
	if !cc.ResponseStarted() {
		s.writeError(cc, http.StatusInternalServerError, true)
	}
}
