package h1

import (
	"errors"
	"net"
	"net/http"
)

// FailKind is what a forwarded exchange failed at, which decides the
// answer a hop gives (ForwardError.Status is nginx's).
type FailKind uint8

const (
	// UpstreamFailed: the upstream could not be reached, or closed or
	// reset the connection, or answered with a malformed head (502).
	UpstreamFailed FailKind = iota
	// UpstreamTimeout: connecting, taking the request or starting the
	// answer took the upstream too long (504).
	UpstreamTimeout
	// BodyTooLarge: a chunked request body went over the limit (413).
	BodyTooLarge
	// BadBody: the client's chunked body was malformed (400).
	BadBody
	// BodyTimeout: the client stalled while sending its body (408).
	BodyTimeout
	// ClientGone: the client closed its connection; nothing can be
	// answered (nginx logs 499).
	ClientGone
)

// ForwardError is why a forwarded exchange failed.
type ForwardError struct {
	Kind FailKind
	Err  error

	// For the retry rule (see mayRetry).
	sent     bool // some of the request reached the upstream connection
	answered bool // some of the response came back
}

func (e *ForwardError) Error() string { return e.Err.Error() }
func (e *ForwardError) Unwrap() error { return e.Err }

// Status is the status nginx answers (or logs) the failure with.
func (e *ForwardError) Status() int {
	switch e.Kind {
	case UpstreamTimeout:
		return http.StatusGatewayTimeout
	case BodyTooLarge:
		return http.StatusRequestEntityTooLarge
	case BadBody:
		var he *Error
		if errors.As(e.Err, &he) {
			return he.Status
		}
		return http.StatusBadRequest
	case BodyTimeout:
		return http.StatusRequestTimeout
	case ClientGone:
		return 499
	}
	return http.StatusBadGateway
}

// upstreamError is a failure talking to the upstream.
func upstreamError(err error, sent, answered bool) *ForwardError {
	kind := UpstreamFailed
	if IsTimeout(err) {
		kind = UpstreamTimeout
	}
	return &ForwardError{Kind: kind, Err: err, sent: sent, answered: answered}
}

// clientBodyError classifies a failure copying the client's body that was
// not a write to the upstream.
func clientBodyError(err error) *ForwardError {
	var he *Error
	switch {
	case errors.Is(err, ErrBodyTooLarge):
		return &ForwardError{Kind: BodyTooLarge, Err: err}
	case errors.As(err, &he):
		return &ForwardError{Kind: BadBody, Err: err}
	case IsTimeout(err):
		return &ForwardError{Kind: BodyTimeout, Err: err}
	}
	return &ForwardError{Kind: ClientGone, Err: err}
}

func isWriteError(err error) bool {
	var we *WriteError
	return errors.As(err, &we)
}

// Idempotent reports whether a request with method may be sent again
// after the upstream may have received it (RFC 9110 section 9.2.2).
func Idempotent(method []byte) bool {
	switch string(method) {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// mayRetry is the one retry rule: a failed attempt is made once more, on a
// new connection, only when
//   - the connection was a kept-alive one (its peer may have closed it
//     while it was idle) and it failed, before any response byte, by being
//     closed or reset — not by a timeout, not by a malformed answer (nginx's
//     default proxy_next_upstream, "error timeout", leaves out
//     invalid_header), not by Shutdown closing it;
//   - the client's body, if any, has not been read yet (it is streamed, not
//     kept);
//   - and the request is idempotent, or none of it reached the connection
//     (the very first write failed: the peer had reset it already).
func mayRetry(c *Conn, method []byte, bodyRead bool, fe *ForwardError) bool {
	if !c.Reused || bodyRead || fe.Kind != UpstreamFailed || fe.answered || errors.Is(fe.Err, net.ErrClosed) {
		return false
	}
	return !fe.sent || Idempotent(method)
}
