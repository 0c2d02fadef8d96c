package h1

import (
	"bufio"
	"context"
	"time"
)

// Hop is what one proxy hop adds to the forwarding core (Forwarder): the
// heads it writes and its own answer when forwarding fails. The methods
// run on the exchange's goroutine; sc.Req is the client's request and
// sc.Res the upstream's response head.
type Hop interface {
	// WriteRequestHead writes the request head for the upstream, ending
	// with WriteRequestFraming. It is called again for a retry.
	WriteRequestHead(w *bufio.Writer, sc *ServerConn)
	// WriteResponseHead writes the head of the upstream's response for
	// the client, ending with WriteResponseFraming(w, &sc.Res, f).
	WriteResponseHead(w *bufio.Writer, sc *ServerConn, f Framing)
	// Fail writes the hop's answer to a request that could not be
	// forwarded, with Connection: close, and returns its status. It is
	// not called when the client is gone or once the upstream's response
	// head has gone out.
	Fail(sc *ServerConn, err *ForwardError) int
}

// Forwarder is the forwarding core of the gateway and the sidecars: it
// sends the request in a ServerConn upstream on a pooled connection and
// streams the answer back, re-framed.
//
// A request is sent again, once and on a new connection, only when a
// kept-alive connection was closed or reset before any byte of an answer
// (not a timeout: the upstream is slow, not gone; not a malformed answer:
// the upstream had the request),
// none of the client's body has been read yet, and the request is
// idempotent (RFC 9110 section 9.2.2) or none of it was written.
//
// An answer the upstream gives before it has taken the whole request (an
// app refusing a body with 413, then closing) is passed on rather than
// taken for a failure: the rest of the body is not sent, and the client
// connection closes after a lingering read of what the client still sends.
//
// Set the fields once; a Forwarder keeps no state of its own.
type Forwarder struct {
	// MaxBodyBytes bounds a chunked request body (BodyTooLarge beyond;
	// negative: no bound). A Content-Length is the hop's to check before
	// forwarding.
	MaxBodyBytes int64
	// MaxResponseHead bounds the upstream's response head.
	MaxResponseHead int
	// BodyTimeout bounds reading the client's request body.
	BodyTimeout time.Duration
	// UpstreamTimeout, when set, bounds each wait on the upstream on its
	// own: taking the request, starting the answer, sending its body. The
	// deadline given to Forward, when set, bounds them all.
	UpstreamTimeout time.Duration
}

// Outcome is how a forwarded exchange ended.
type Outcome struct {
	Status  int           // the status the client got: the upstream's or the hop's; 0 for none
	Relayed bool          // the upstream's response head went out
	Bytes   int64         // response body bytes passed on
	Err     *ForwardError // nil, or what failed (mid-response when Relayed)
	Keep    bool          // the client connection may carry another request
}

// earlyAnswerWait bounds the look for an answer after the upstream
// stopped taking the request: one it sent is in the socket already.
const earlyAnswerWait = 100 * time.Millisecond

// progress is how far one request got, for the retry rule and for how
// the client connection ends.
type progress struct {
	hasBody  bool
	bodyRead bool // reading the client's body has begun
	bodyDone bool // the client's body has been read to its end
	early    bool // the upstream answered before it took the whole request
}

// Forward forwards sc.Req to pool's upstream and the answer to sc, or
// hop's answer when that fails. deadline, when not zero, bounds the
// exchange with the upstream.
func (fw *Forwarder) Forward(hop Hop, sc *ServerConn, pool *Pool, deadline time.Time) Outcome {
	// The upstream stays registered (SetUpstream) until it goes back to the
	// pool, so that a panic or a Shutdown past its deadline closes it; the
	// server clears it after Handle.
	p := progress{hasBody: sc.Req.Chunked || sc.Req.ContentLength > 0}
	uc, fe := fw.send(hop, sc, pool, deadline, &p)
	if fe != nil {
		return fw.fail(hop, sc, fe, &p)
	}
	return fw.relay(hop, sc, pool, uc, deadline, &p)
}

// send gets a connection, writes the request and reads the final
// response head into sc.Res, on a new connection once more when mayRetry
// allows.
func (fw *Forwarder) send(hop Hop, sc *ServerConn, pool *Pool, deadline time.Time, p *progress) (*Conn, *ForwardError) {
	ctx := context.Background()
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	uc, err := pool.Get(ctx)
	for retried := false; ; retried = true {
		if err != nil {
			return nil, upstreamError(err, false, false)
		}
		sc.SetUpstream(uc)
		fe := fw.roundTrip(hop, sc, uc, deadline, p)
		if fe == nil {
			return uc, nil
		}
		uc.Close()
		if retried || !mayRetry(uc, sc.Req.Method, p.bodyRead, fe) {
			return nil, fe
		}
		uc, err = pool.Dial(ctx)
	}
}

// roundTrip writes the request on uc and reads the final response head.
func (fw *Forwarder) roundTrip(hop Hop, sc *ServerConn, uc *Conn, deadline time.Time, p *progress) *ForwardError {
	req := &sc.Req
	_ = uc.SetDeadline(fw.upstreamDeadline(deadline))
	uc.out.n = 0
	hop.WriteRequestHead(uc.W, sc)
	if p.hasBody {
		if req.Expect100 {
			// Answered by the proxy, as nginx does: the body is read now,
			// whatever the upstream would have said.
			if err := WriteContinue(sc.W); err != nil {
				return &ForwardError{Kind: ClientGone, Err: err}
			}
		}
		if fw.BodyTimeout > 0 {
			_ = sc.Conn.SetReadDeadline(time.Now().Add(fw.BodyTimeout))
		}
		p.bodyRead = true
		if err := CopyRequestBody(uc.W, sc.R, req, fw.MaxBodyBytes); err != nil {
			if isWriteError(err) {
				return fw.sendFailed(sc, uc, err, p)
			}
			return clientBodyError(err)
		}
		p.bodyDone = true
	}
	if err := uc.W.Flush(); err != nil {
		return fw.sendFailed(sc, uc, err, p)
	}
	if p.hasBody && fw.UpstreamTimeout > 0 {
		// The body took its time: the answer gets the whole timeout.
		_ = uc.SetReadDeadline(fw.upstreamDeadline(deadline))
	}
	return fw.readHead(sc, uc)
}

// sendFailed follows a failed write of the request. An upstream that
// stops taking a request may have answered it first (an app refusing a
// body too large for it, then closing): that answer wins over the write
// error.
func (fw *Forwarder) sendFailed(sc *ServerConn, uc *Conn, err error, p *progress) *ForwardError {
	if uc.out.n == 0 {
		// None of the request went out: anything to read is no answer to it.
		return upstreamError(err, false, false)
	}
	_ = uc.SetReadDeadline(time.Now().Add(earlyAnswerWait))
	rfe := fw.readHead(sc, uc)
	if rfe == nil {
		p.early = true
		return nil
	}
	return upstreamError(err, true, rfe.answered)
}

// readHead reads the upstream's final response head into sc.Res.
func (fw *Forwarder) readHead(sc *ServerConn, uc *Conn) *ForwardError {
	if _, err := uc.R.Peek(1); err != nil {
		return upstreamError(err, true, false) // closed, reset or silent: no answer at all
	}
	if err := ReadFinalResponse(uc.R, &sc.Res, fw.MaxResponseHead); err != nil {
		return upstreamError(err, true, true)
	}
	return nil
}

// relay passes the upstream's response on to the client.
func (fw *Forwarder) relay(hop Hop, sc *ServerConn, pool *Pool, uc *Conn, deadline time.Time, p *progress) Outcome {
	res := &sc.Res
	// After an early answer the rest of the client's body is not read, so
	// the connection cannot carry another request.
	f := Plan(&sc.Req, res, !sc.Stopping() && (!p.hasBody || p.bodyDone))
	hop.WriteResponseHead(sc.W, sc, f)
	if fw.UpstreamTimeout > 0 || p.early {
		_ = uc.SetReadDeadline(fw.upstreamDeadline(deadline))
	}
	o := Outcome{Status: res.Status, Relayed: true}
	n, reusable, err := CopyResponseBody(sc.W, uc.R, res, f)
	o.Bytes = n
	if err != nil {
		// Part of the response may be out: all that is left is to close
		// both sides (nginx does the same).
		uc.Close()
		if isWriteError(err) {
			o.Err = &ForwardError{Kind: ClientGone, Err: err}
		} else {
			o.Err = upstreamError(err, true, true)
		}
		return o
	}
	ferr := sc.W.Flush()
	sc.SetUpstream(nil)                    // before the pool may hand it to another exchange
	pool.Release(uc, reusable && !p.early) // after a failed write it is broken
	if ferr != nil {
		o.Err = &ForwardError{Kind: ClientGone, Err: &WriteError{Err: ferr}}
		return o
	}
	fw.lingerIfUnread(sc, p)
	o.Keep = !f.Close
	return o
}

// fail answers a request that could not be forwarded.
func (fw *Forwarder) fail(hop Hop, sc *ServerConn, fe *ForwardError, p *progress) Outcome {
	o := Outcome{Err: fe}
	if fe.Kind == ClientGone {
		return o
	}
	o.Status = hop.Fail(sc, fe)
	if sc.W.Flush() == nil {
		fw.lingerIfUnread(sc, p)
	}
	return o
}

// lingerIfUnread drains, briefly, a client body that was not read to its
// end before the connection closes, so that the client gets the answer
// rather than a reset.
func (fw *Forwarder) lingerIfUnread(sc *ServerConn, p *progress) {
	if p.hasBody && !p.bodyDone {
		sc.LingerClose()
	}
}

// upstreamDeadline is the deadline of the next wait on the upstream.
func (fw *Forwarder) upstreamDeadline(deadline time.Time) time.Time {
	if fw.UpstreamTimeout <= 0 {
		return deadline
	}
	d := time.Now().Add(fw.UpstreamTimeout)
	if !deadline.IsZero() && deadline.Before(d) {
		return deadline
	}
	return d
}
