package sidecar

import (
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
	}()

	if req.ContentLength > s.cfg.MaxBodyBytes {
		ex.status = http.StatusRequestEntityTooLarge
		s.writeError(cc, ex.status, true)
		cc.LingerClose()
		return false
	}
	hasBody := req.Chunked || req.ContentLength > 0
	_ = cc.Conn.SetWriteDeadline(start.Add(s.cfg.WriteTimeout))

	uc, err := s.send(cc, hasBody)
	if err != nil {
		return s.failed(cc, &ex, err, hasBody)
	}
	res := &cc.Res
	f := h1.Plan(req, res, !cc.Stopping())
	writeResponseHead(cc.W, res, f)
	ex.status = res.Status
	_ = uc.SetReadDeadline(time.Now().Add(s.cfg.UpstreamTimeout))
	var reusable bool
	ex.bytes, reusable, err = h1.CopyResponseBody(cc.W, uc.R, res, f)
	if err != nil {
		// Part of the response may be out: all that is left is to close
		// both sides (nginx does the same).
		uc.Close()
		var we *h1.WriteError
		if errors.As(err, &we) {
			ex.status, ex.note = 499, "client closed connection while sending the response"
		} else {
			ex.note = "upstream failed while sending the response: " + err.Error()
			s.log.Warn("upstream failed mid-response", "remote", cc.RemoteIP, "err", err)
		}
		return false
	}
	ferr := cc.W.Flush()
	cc.SetUpstream(nil) // before the pool may hand it to another exchange
	s.pool.Release(uc, reusable)
	if ferr != nil {
		ex.status, ex.note = 499, "client closed connection"
		return false
	}
	return !f.Close
}

// send writes the request to the app and reads the response head into
// cc.Res, on a pooled connection. A request without a body whose reused
// connection turns out to be closed is sent once more on a new one.
func (s *Sidecar) send(cc *h1.ServerConn, hasBody bool) (*h1.Conn, error) {
	ctx := context.Background()
	uc, err := s.pool.Get(ctx)
	if err != nil {
		return nil, &upstreamError{err: err, connect: true}
	}
	cc.SetUpstream(uc)
	err = s.roundTrip(cc, uc, hasBody)
	if err != nil && uc.Reused && !hasBody && retryable(err) {
		uc.Close()
		if uc, err = s.pool.Dial(ctx); err != nil {
			return nil, &upstreamError{err: err, connect: true}
		}
		cc.SetUpstream(uc)
		err = s.roundTrip(cc, uc, hasBody)
	}
	if err != nil {
		uc.Close()
		return nil, err
	}
	return uc, nil
}

// upstreamError is a failure talking to the app.
type upstreamError struct {
	err     error
	connect bool // dialing failed
	wrote   bool // (part of) the request reached the app
}

func (e *upstreamError) Error() string { return e.err.Error() }
func (e *upstreamError) Unwrap() error { return e.err }

// retryable: the app closed a kept-alive connection before answering.
func retryable(err error) bool {
	var ue *upstreamError
	if !errors.As(err, &ue) || h1.IsTimeout(err) {
		return false
	}
	var he *h1.Error
	return !errors.As(err, &he)
}

// roundTrip sends cc.Req on uc and reads the final response head.
func (s *Sidecar) roundTrip(cc *h1.ServerConn, uc *h1.Conn, hasBody bool) error {
	req := &cc.Req
	// proxy_send_timeout and proxy_read_timeout: the app must take the
	// request and start answering within UpstreamTimeout. (A head alone
	// fits the idle connection's send buffer: its write cannot block.)
	if hasBody {
		_ = uc.SetDeadline(time.Now().Add(s.cfg.UpstreamTimeout))
	} else {
		_ = uc.SetReadDeadline(time.Now().Add(s.cfg.UpstreamTimeout))
	}
	writeRequestHead(uc.W, req, cc.RemoteIP, s.pool.Addr)
	if hasBody {
		if req.Expect100 {
			// Answer the client's Expect ourselves, as nginx does: the
			// body is read now, whatever the app would have said.
			if err := h1.WriteContinue(cc.W); err != nil {
				return err
			}
		}
		_ = cc.Conn.SetReadDeadline(time.Now().Add(s.cfg.ReadTimeout))
		if err := h1.CopyRequestBody(uc.W, cc.R, req, s.cfg.MaxBodyBytes); err != nil {
			var we *h1.WriteError
			if errors.As(err, &we) {
				return &upstreamError{err: err, wrote: true}
			}
			return err // the client's fault: ReadError or ErrBodyTooLarge
		}
	}
	if err := uc.W.Flush(); err != nil {
		return &upstreamError{err: err}
	}
	if hasBody { // the body took its time: the answer gets the whole timeout
		_ = uc.SetWriteDeadline(time.Time{}) // a pooled connection keeps no stale one
		_ = uc.SetReadDeadline(time.Now().Add(s.cfg.UpstreamTimeout))
	}
	if err := h1.ReadFinalResponse(uc.R, &cc.Res, s.cfg.MaxHeaderBytes); err != nil {
		return &upstreamError{err: err, wrote: true}
	}
	return nil
}

// badRequest answers a request whose head could not be read.
func (s *Sidecar) badRequest(cc *h1.ServerConn, he *h1.Error) {
	s.log.Info("bad request", "remote", cc.RemoteIP, "status", he.Status, "reason", he.Reason)
	s.writeError(cc, he.Status, true)
}

// failed answers a request that could not be forwarded, nginx-style: 502
// when the app is unreachable or answered nonsense, 504 when it was too
// slow, 400/408/413 for a client body that was malformed, late or too big,
// nothing when the client went away. It reports whether the connection
// may go on (never).
func (s *Sidecar) failed(cc *h1.ServerConn, ex *exchangeLog, err error, hasBody bool) bool {
	var (
		ue *upstreamError
		he *h1.Error
		re *h1.ReadError
		we *h1.WriteError
	)
	switch {
	case errors.As(err, &ue):
		ex.status = http.StatusBadGateway
		if h1.IsTimeout(err) {
			ex.status = http.StatusGatewayTimeout
		}
		ex.note = "upstream: " + err.Error()
		s.log.Warn("upstream error", "remote", cc.RemoteIP, "method", string(cc.Req.Method), "status", ex.status, "err", err)
	case errors.As(err, &we): // writing 100 Continue to the client
		ex.status, ex.note = 499, "client closed connection"
		return false
	case errors.Is(err, h1.ErrBodyTooLarge):
		ex.status = http.StatusRequestEntityTooLarge
	case errors.As(err, &re) && errors.As(err, &he):
		ex.status = he.Status // a malformed chunked body
	case errors.As(err, &re) && h1.IsTimeout(err):
		ex.status = http.StatusRequestTimeout
	case errors.As(err, &re):
		ex.status, ex.note = 499, "client closed connection while sending the body"
		return false
	default:
		ex.status = http.StatusBadGateway
		ex.note = err.Error()
	}
	s.writeError(cc, ex.status, true)
	if hasBody {
		cc.LingerClose()
	}
	return false
}

// exchangeLog is what the access log line says of one exchange.
type exchangeLog struct {
	status int
	bytes  int64
	note   string
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
