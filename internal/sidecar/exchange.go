package sidecar

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/portway/portway/internal/h1"
)

// exchange forwards the request in cc.Req and the response to it. It
// reports whether the client connection may carry another request.
func (s *Sidecar) exchange(cc *h1.ServerConn) bool {
	start := time.Now()
	req := &cc.Req
	ex := exchangeLog{status: 0}
	defer func() {
		if ex.status == 0 { // every return sets it: the exchange panicked
			ex.status, ex.note = http.StatusInternalServerError, "internal error (panic)"
		}
		s.logAccess(cc, &ex, start)
		s.recordHop(cc, &ex, start, time.Now())
	}()

	if req.ContentLength > s.cfg.MaxBodyBytes {
		ex.status = http.StatusRequestEntityTooLarge
		s.writeError(cc, ex.status, true)
		cc.LingerClose()
		return false
	}
	_ = cc.Conn.SetWriteDeadline(start.Add(s.cfg.WriteTimeout))
	upStart := time.Now()
	o := s.fw.Forward(appHop{s}, cc, s.pool, time.Time{})
	ex.status, ex.bytes = o.Status, o.Bytes
	if o.Relayed {
		ex.upstreamStatus, ex.upstreamTime = o.Status, time.Since(upStart)
	}
	switch fe := o.Err; {
	case fe == nil:
	case fe.Kind == h1.ClientGone:
		ex.status, ex.note = 499, "client closed connection"
		var re *h1.ReadError
		switch {
		case o.Relayed:
			ex.note = "client closed connection while sending the response"
		case errors.As(fe, &re):
			ex.note = "client closed connection while sending the body"
		}
	case o.Relayed:
		// Part of the response may be out: the connections are closed.
		ex.note = "upstream failed while sending the response: " + fe.Error()
		s.log.Warn("upstream failed mid-response", "remote", cc.RemoteIP, "err", fe)
	case fe.Kind == h1.UpstreamFailed || fe.Kind == h1.UpstreamTimeout:
		ex.note = "upstream: " + fe.Error()
	}
	return o.Keep
}

// appHop is the sidecar's part of forwarding to the app (h1.Hop).
type appHop struct{ s *Sidecar }

var _ h1.Hop = appHop{}

func (h appHop) WriteRequestHead(w *bufio.Writer, cc *h1.ServerConn) {
	writeRequestHead(w, &cc.Req, cc.RemoteIP, h.s.pool.Addr)
}

func (h appHop) WriteResponseHead(w *bufio.Writer, cc *h1.ServerConn, f h1.Framing) {
	writeResponseHead(w, &cc.Res, f, h.s.serverLine)
}

// Fail answers a request that could not be forwarded, nginx-style: 502
// when the app is unreachable or answered nonsense, 504 when it was too
// slow, 400/408/413 for a client body that was malformed, late or too big.
func (h appHop) Fail(cc *h1.ServerConn, fe *h1.ForwardError) int {
	status := fe.Status()
	if fe.Kind == h1.UpstreamFailed || fe.Kind == h1.UpstreamTimeout {
		h.s.log.Warn("upstream error", "remote", cc.RemoteIP, "method", string(cc.Req.Method), "status", status, "err", fe)
	}
	h.s.writeError(cc, status, true)
	return status
}

// badRequest answers a request whose head could not be read.
func (s *Sidecar) badRequest(cc *h1.ServerConn, he *h1.Error) {
	s.log.Info("bad request", "remote", cc.RemoteIP, "status", he.Status, "reason", he.Reason)
	s.writeError(cc, he.Status, true)
}

// exchangeLog is what the access log line says of one exchange.
type exchangeLog struct {
	status int
	bytes  int64
	note   string

	upstreamStatus int           // the app's answer, 0 when none came
	upstreamTime   time.Duration // from the request going to the app to the answer's end
}

func (s *Sidecar) logAccess(cc *h1.ServerConn, ex *exchangeLog, start time.Time) {
	ctx := context.Background()
	if !s.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	path := cc.Req.Target
	for i, c := range path {
		if c == '?' {
			path = path[:i]
			break
		}
	}
	attrs := [8]slog.Attr{
		slog.String("remote", cc.RemoteIP),
		slog.String("method", string(cc.Req.Method)),
		slog.String("path", string(path)),
		slog.Int("status", ex.status),
		slog.Int64("bytes", ex.bytes),
		slog.Duration("duration", time.Since(start)),
	}
	n := 6
	if ex.note != "" {
		attrs[n] = slog.String("note", ex.note)
		n++
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "access", attrs[:n]...)
}
