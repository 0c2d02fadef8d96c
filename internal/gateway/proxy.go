package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/portway/portway/internal/h1"
)

// upstreams keeps one pool of keep-alive connections per integration host.
type upstreams struct {
	link VPCLink // nil: dial over TCP

	mu    sync.Mutex
	pools map[string]*h1.Pool
}

// upstreamIdleTimeout: idle integration connections are reused this long,
// less than the sidecar's keep-alive (75 s), so the gateway closes them first.
const upstreamIdleTimeout = 50 * time.Second

func (u *upstreams) pool(addr string) *h1.Pool {
	u.mu.Lock()
	defer u.mu.Unlock()
	p := u.pools[addr]
	if p == nil {
		p = &h1.Pool{Addr: addr, DialTimeout: 5 * time.Second, MaxIdle: 64, IdleTimeout: upstreamIdleTimeout, DialFunc: u.dial}
		u.pools[addr] = p
	}
	return p
}

func (u *upstreams) dial(ctx context.Context, addr string) (net.Conn, error) {
	if u.link != nil {
		if c, ok, err := u.link.DialListener(ctx, addr); ok {
			return c, err
		}
	}
	d := net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return d.DialContext(ctx, "tcp", addr)
}

func (u *upstreams) close() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, p := range u.pools {
		p.Close()
	}
}

// newTransport is the JWKS client's transport.
func newTransport(tlsConfig *tls.Config) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                  nil, // never use proxies from the environment
		DialContext:            d.DialContext,
		TLSClientConfig:        tlsConfig,
		TLSHandshakeTimeout:    5 * time.Second,
		MaxIdleConns:           8,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
}

// hostPort is the address to dial for an integration URL.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// forward runs the HTTP_PROXY integration: the request goes to target with
// its method, query, headers (Authorization included, as AWS does) and
// body, plus the forwarding headers; the response comes back with the
// backend's Connection/Content-Length/Date/Server remapped to
// x-amzn-Remapped-*. The integration timeout bounds the exchange with the
// backend. It reports whether the client connection may go on.
func (g *Gateway) forward(r *request, st *reqState, m *methodRoute, target *url.URL) bool {
	sc := r.sc
	req := &sc.Req
	hasBody := req.Chunked || req.ContentLength > 0
	deadline := time.Now().Add(m.timeout)
	pool := g.upstreams.pool(hostPort(target))
	call := integrationCall{target: target, prefix: st.prefix, proto: g.scheme, traceID: newTraceID(g.now()), hasBody: hasBody, deadline: deadline}

	start := g.now()
	uc, err := g.send(r, pool, &call)
	st.integrationLatency = g.now().Sub(start)
	if err != nil {
		return g.integrationFailed(r, st, err, hasBody)
	}
	res := &sc.Res
	f := h1.Plan(req, res, !sc.Stopping())
	g.writeResponseHead(sc.W, res, st, f)
	st.code = res.Status
	var reusable bool
	st.bytes, reusable, err = h1.CopyResponseBody(sc.W, uc.R, res, f)
	if err != nil {
		uc.Close()
		var we *h1.WriteError
		if errors.As(err, &we) {
			st.status, st.reason = statusClientClosed, "client closed connection"
		} else {
			st.reason = "integration failed mid-response: " + err.Error()
			g.log.Warn("integration failed mid-response", "requestId", st.requestID, "err", err)
		}
		return false
	}
	ferr := sc.W.Flush()
	sc.SetUpstream(nil) // before the pool may hand it to another exchange
	pool.Release(uc, reusable)
	if ferr != nil {
		st.status, st.reason = statusClientClosed, "client closed connection"
		return false
	}
	return !f.Close
}

// integrationCall is one request to a backend.
type integrationCall struct {
	target   *url.URL
	prefix   string // X-Forwarded-Prefix: "/stage" or "/base/path"
	proto    string // X-Forwarded-Proto: the client's scheme
	traceID  string
	hasBody  bool
	deadline time.Time // the integration timeout
}

// integrationError is a failure talking to the backend (not the client's).
type integrationError struct{ err error }

func (e *integrationError) Error() string { return e.err.Error() }
func (e *integrationError) Unwrap() error { return e.err }

// send writes the request to the backend and reads the response head into
// the connection's Res. A request without a body whose kept-alive
// connection turns out to be closed is sent once more on a new one.
func (g *Gateway) send(r *request, pool *h1.Pool, call *integrationCall) (*h1.Conn, error) {
	ctx, cancel := context.WithDeadline(context.Background(), call.deadline)
	defer cancel()
	uc, err := pool.Get(ctx)
	if err != nil {
		return nil, &integrationError{err}
	}
	r.sc.SetUpstream(uc)
	err = g.roundTrip(r, uc, call)
	if err != nil && uc.Reused && !call.hasBody && !h1.IsTimeout(err) && isIntegrationError(err) {
		uc.Close()
		if uc, err = pool.Dial(ctx); err != nil {
			return nil, &integrationError{err}
		}
		r.sc.SetUpstream(uc)
		err = g.roundTrip(r, uc, call)
	}
	if err != nil {
		uc.Close()
		return nil, err
	}
	return uc, nil
}

func isIntegrationError(err error) bool {
	var ie *integrationError
	return errors.As(err, &ie)
}

func (g *Gateway) roundTrip(r *request, uc *h1.Conn, call *integrationCall) error {
	sc := r.sc
	req := &sc.Req
	_ = uc.SetDeadline(call.deadline)
	writeIntegrationRequest(uc.W, r, call)
	if call.hasBody {
		if req.Expect100 {
			// Go's server and AWS answer Expect themselves when the body
			// is wanted; so does the gateway, before reading it.
			if err := h1.WriteContinue(sc.W); err != nil {
				return err
			}
		}
		_ = sc.Conn.SetReadDeadline(time.Now().Add(g.timeouts.Read))
		if err := h1.CopyRequestBody(uc.W, sc.R, req, MaxRequestBodyBytes); err != nil {
			var we *h1.WriteError
			if errors.As(err, &we) {
				return &integrationError{err}
			}
			return err // the client's: ReadError or ErrBodyTooLarge
		}
	}
	if err := uc.W.Flush(); err != nil {
		return &integrationError{err}
	}
	if err := h1.ReadFinalResponse(uc.R, &sc.Res, 64<<10); err != nil {
		return &integrationError{err}
	}
	return nil
}

// integrationFailed answers a request that could not be forwarded.
func (g *Gateway) integrationFailed(r *request, st *reqState, err error, hasBody bool) bool {
	var (
		re *h1.ReadError
		he *h1.Error
		we *h1.WriteError
	)
	var gerr *gwError
	switch {
	case isIntegrationError(err) && h1.IsTimeout(err):
		gerr = newGWError(RespIntegrationTimeout, "integration timed out")
	case isIntegrationError(err):
		// AWS: "Execution failed due to configuration error", 500.
		gerr = newGWError(RespAPIConfigurationError, "integration: "+err.Error())
	case errors.As(err, &we): // writing 100 Continue
		st.status, st.reason = statusClientClosed, "client closed connection"
		return false
	case errors.Is(err, h1.ErrBodyTooLarge):
		gerr = newGWError(RespRequestTooLarge, "request body over limit")
	case errors.As(err, &re) && errors.As(err, &he):
		gerr = &gwError{typ: RespDefault4XX, status: he.Status, message: "Bad Request", reason: "malformed request body: " + he.Reason}
	case errors.As(err, &re) && h1.IsTimeout(err):
		// The client stalled while sending its body (timeouts.read). AWS
		// has no response type for it; answer 408 through DEFAULT_4XX.
		gerr = &gwError{typ: RespDefault4XX, status: http.StatusRequestTimeout, message: "Request Timeout", reason: "client request body timed out"}
	case errors.As(err, &re):
		st.status, st.reason = statusClientClosed, "client closed request"
		return false
	default:
		gerr = newGWError(RespAPIConfigurationError, "integration: "+err.Error())
	}
	g.writeError(r.sc.W, r, st, gerr, true)
	_ = r.sc.W.Flush()
	if hasBody {
		r.sc.LingerClose()
	}
	return false
}

// remappedHeaders come back from the backend also as x-amzn-Remapped-<Name>.
// Content-Length stays real for the client; Date is replaced by the gateway's
// own and Server is dropped; Connection is hop-by-hop and never forwarded.
var remappedHeaders = [...]string{"Connection", "Content-Length", "Date", "Server"}

// writeIntegrationRequest writes the request head for the backend. The
// client's hop-by-hop fields and any Forwarded / X-Forwarded-* and
// X-Amzn-Trace-Id it sent are dropped; X-Forwarded-For keeps the client's
// list and appends its address, as AWS does.
func writeIntegrationRequest(w *bufio.Writer, r *request, call *integrationCall) {
	req := &r.sc.Req
	w.WriteString(r.method)
	w.WriteByte(' ')
	path := call.target.EscapedPath()
	if path == "" {
		path = "/"
	}
	w.WriteString(path)
	q := call.target.RawQuery
	if r.rawQuery != "" {
		if q != "" {
			q += "&" + r.rawQuery
		} else {
			q = r.rawQuery
		}
	}
	if q != "" {
		w.WriteByte('?')
		w.WriteString(q)
	}
	w.WriteString(" HTTP/1.1\r\n")
	writeField(w, "Host", call.target.Host)
	var xffBuf [4][]byte // the client's X-Forwarded-For fields, without allocating
	xff := xffBuf[:0]
	for _, f := range req.Fields {
		switch {
		case h1.HopByHop(f.Name), req.Listed(f.Name), h1.Fold(f.Name, "host"), h1.Fold(f.Name, "forwarded"),
			h1.Fold(f.Name, "x-forwarded-host"), h1.Fold(f.Name, "x-forwarded-proto"),
			h1.Fold(f.Name, "x-forwarded-prefix"), h1.Fold(f.Name, "x-amzn-trace-id"):
			continue
		case h1.Fold(f.Name, "x-forwarded-for"):
			xff = append(xff, f.Value)
			continue
		}
		h1.WriteField(w, f)
	}
	h1.WriteForwardedFor(w, xff, r.sc.RemoteIP)
	writeField(w, "X-Forwarded-Host", r.host)
	writeField(w, "X-Forwarded-Proto", call.proto)
	writeField(w, "X-Forwarded-Prefix", call.prefix)
	writeField(w, "X-Amzn-Trace-Id", call.traceID)
	h1.WriteRequestFraming(w, req)
}

// writeResponseHead writes the backend's response head for the client, with
// the gateway's ids and Date and the framing the gateway sends the body in.
func (g *Gateway) writeResponseHead(w *bufio.Writer, res *h1.Head, st *reqState, f h1.Framing) {
	writeStatusLine(w, res.Status, string(res.Reason))
	sawConnection := false
	for _, f := range res.Fields {
		if remapped := remapName(f.Name); remapped != "" {
			if remapped == "Connection" {
				sawConnection = true
			}
			writeField(w, "x-amzn-Remapped-"+remapped, string(f.Value))
			continue
		}
		if h1.HopByHop(f.Name) || res.Listed(f.Name) || h1.Fold(f.Name, headerRequestID) || h1.Fold(f.Name, headerAPIGWID) {
			continue
		}
		h1.WriteField(w, f)
	}
	if res.Close && !sawConnection {
		writeField(w, "x-amzn-Remapped-Connection", "close")
	}
	writeField(w, headerRequestID, st.requestID)
	writeField(w, headerAPIGWID, st.apigwID)
	writeField(w, "Date", h1.Date(g.now()))
	h1.WriteResponseFraming(w, res, f)
}

// remapName is the canonical name of a remapped field, or "".
func remapName(name []byte) string {
	for _, n := range remappedHeaders {
		if h1.Fold(name, n) {
			return n
		}
	}
	return ""
}
