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
// backend's Connection, Content-Length, Date, Server, WWW-Authenticate, …
// remapped to x-amzn-Remapped-* (remappedHeaders). The integration
// timeout bounds the exchange with the
// backend. It reports whether the client connection may go on.
func (g *Gateway) forward(r *request, st *reqState, m *methodRoute, target *url.URL) bool {
	r.call = integrationCall{g: g, r: r, target: target, method: m.integMethod, prefix: st.prefix, proto: g.scheme, traceID: st.trace, start: g.now()}
	o := g.fw.Forward(&r.call, r.sc, g.upstreams.pool(hostPort(target)), time.Now().Add(m.timeout))
	if o.Relayed {
		st.code, st.bytes = o.Status, o.Bytes
	} else {
		st.integrationLatency = g.now().Sub(r.call.start)
	}
	switch fe := o.Err; {
	case fe == nil:
	case fe.Kind == h1.ClientGone:
		st.status, st.reason = statusClientClosed, "client closed connection"
		var re *h1.ReadError
		if errors.As(fe, &re) {
			st.reason = "client closed request"
		}
	case o.Relayed:
		st.reason = "integration failed mid-response: " + fe.Error()
		g.log.Warn("integration failed mid-response", "requestId", st.requestID, "err", fe)
	}
	return o.Keep
}

// integrationCall is one request to a backend; it is the h1.Hop through
// which the gateway forwards it, and lives in its request.
type integrationCall struct {
	g       *Gateway
	r       *request
	target  *url.URL
	method  string    // the integration's HTTP method; "" is the client's
	prefix  string    // X-Forwarded-Prefix: "/stage" or "/base/path"
	proto   string    // X-Forwarded-Proto: the client's scheme
	traceID string    // the X-Amzn-Trace-Id sent: the caller's or the gateway's
	start   time.Time // by the gateway's clock, for integrationLatency
}

var _ h1.Hop = (*integrationCall)(nil)

// WriteRequestHead writes the integration request's head.
func (c *integrationCall) WriteRequestHead(w *bufio.Writer, sc *h1.ServerConn) {
	c.g.noteUpstream(sc, &c.r.st)
	writeIntegrationRequest(w, c.r, c)
}

// WriteResponseHead writes the backend's response head for the client.
func (c *integrationCall) WriteResponseHead(w *bufio.Writer, sc *h1.ServerConn, f h1.Framing) {
	st := &c.r.st
	st.integrationLatency = c.g.now().Sub(c.start)
	c.g.writeResponseHead(w, &sc.Res, st, f)
}

// Fail answers a request that could not be forwarded with a gateway
// response: the backend's failures as AWS answers them (504 on the
// integration timeout, else 500), the client's body as DEFAULT_4XX.
func (c *integrationCall) Fail(sc *h1.ServerConn, fe *h1.ForwardError) int {
	var gerr *gwError
	switch fe.Kind {
	case h1.UpstreamTimeout:
		gerr = newGWError(RespIntegrationTimeout, "integration timed out")
	case h1.BodyTooLarge:
		gerr = newGWError(RespRequestTooLarge, "request body over limit")
	case h1.BadBody:
		reason := fe.Error()
		var he *h1.Error
		if errors.As(fe, &he) {
			reason = he.Reason
		}
		gerr = &gwError{typ: RespDefault4XX, status: fe.Status(), message: "Bad Request", reason: "malformed request body: " + reason}
	case h1.BodyTimeout:
		// The client stalled while sending its body (timeouts.read). AWS
		// has no response type for it; answer 408 through DEFAULT_4XX.
		gerr = &gwError{typ: RespDefault4XX, status: http.StatusRequestTimeout, message: "Request Timeout", reason: "client request body timed out"}
	default:
		// AWS: "Execution failed due to configuration error", 500.
		gerr = newGWError(RespAPIConfigurationError, "integration: "+fe.Error())
	}
	c.g.writeError(sc.W, c.r, &c.r.st, gerr, true)
	return c.r.st.code
}

// Headers AWS remaps or drops between the client and an HTTP integration.
// Sources: API Gateway developer guide, "Amazon API Gateway important notes
// for REST APIs" (the headers that "may be remapped to x-amzn-Remapped-HEADER
// when sent to your integration endpoint or sent back by your integration
// endpoint", and the Android SDK note on WWW-Authenticate, in
// awsdocs/amazon-api-gateway-developer-guide's api-gateway-known-issues.md);
// responses recorded from AWS in localstack's test_apigateway_http snapshot
// (Connection, Content-Length, Date and the backend's x-amzn-RequestId come
// back remapped) and the request and response lists localstack checks
// against AWS (header_utils.py); x-amzn-Remapped-WWW-Authenticate read by
// clients of HTTP_PROXY APIs (knavesec/CredMaster through FireProx).

// remappedHeaders come back from the backend as x-amzn-Remapped-<Name>
// instead. Content-Length stays real for the client and the gateway writes
// its own Date; Server is not replaced; Connection is hop-by-hop.
var remappedHeaders = [...]string{
	"Authorization", "Connection", "Content-Length", "Content-MD5", "Date",
	"Max-Forwards", "Server", "User-Agent", "WWW-Authenticate", "x-amzn-RequestId",
}

// droppedResponseField reports the backend's fields that never reach the
// client, besides the hop-by-hop ones: Host, Proxy-Authenticate, Via (and
// the gateway's own x-amz-apigw-id, which it writes itself).
func droppedResponseField(name []byte) bool {
	switch len(name) {
	case 3:
		return h1.Fold(name, "via")
	case 4:
		return h1.Fold(name, "host")
	case 14:
		return h1.Fold(name, headerAPIGWID)
	case 18:
		return h1.Fold(name, "proxy-authenticate")
	}
	return false
}

// droppedRequestField reports the client's fields that never reach the
// integration, besides the hop-by-hop ones (Connection, Expect, TE,
// Trailer, Transfer-Encoding, Upgrade, …) and those the gateway sets
// itself (Host, X-Forwarded-*, X-Amzn-Trace-Id): Content-MD5,
// Max-Forwards, Proxy-Authenticate, Server, Via and WWW-Authenticate.
func droppedRequestField(name []byte) bool {
	switch len(name) {
	case 3:
		return h1.Fold(name, "via")
	case 6:
		return h1.Fold(name, "server")
	case 11:
		return h1.Fold(name, "content-md5")
	case 12:
		return h1.Fold(name, "max-forwards")
	case 16:
		return h1.Fold(name, "www-authenticate")
	case 18:
		return h1.Fold(name, "proxy-authenticate")
	}
	return false
}

// writeIntegrationRequest writes the request head for the backend. The
// client's hop-by-hop fields and any Forwarded / X-Forwarded-* it sent are
// dropped, its X-Amzn-Trace-Id passed on only when well-formed (else the
// gateway's own); X-Forwarded-For keeps the client's
// list and appends its address, as AWS does. Like AWS, the gateway sends
// X-Forwarded-For, -Proto and -Port (recorded from AWS in localstack's
// test_apigateway_http snapshot: the backend of an HTTP_PROXY integration
// sees x-forwarded-for, x-forwarded-port and x-forwarded-proto, no
// x-forwarded-host); X-Forwarded-Host and -Prefix only when configured.
// X-Forwarded-Proto follows the listener: https with TLS (execute-api is
// HTTPS only, so AWS always sends https), http without.
func writeIntegrationRequest(w *bufio.Writer, r *request, call *integrationCall) {
	req := &r.sc.Req
	if call.method != "" {
		w.WriteString(call.method)
	} else {
		w.WriteString(r.method)
	}
	w.WriteByte(' ')
	path := call.target.EscapedPath()
	if path == "" {
		path = "/"
	}
	w.WriteString(path)
	if r.mapped != nil {
		writeMappedQuery(w, call.target.RawQuery, r.mapped)
	} else if q := call.target.RawQuery; q != "" || r.rawQuery != "" {
		w.WriteByte('?')
		w.WriteString(q)
		if q != "" && r.rawQuery != "" {
			w.WriteByte('&')
		}
		writeClientQuery(w, r.rawQuery)
	}
	w.WriteString(" HTTP/1.1\r\n")
	writeField(w, "Host", call.target.Host)
	var xffBuf [4][]byte // the client's X-Forwarded-For fields, without allocating
	xff := xffBuf[:0]
	for _, f := range req.Fields {
		switch {
		case h1.HopByHop(f.Name), req.Listed(f.Name), droppedRequestField(f.Name), h1.Fold(f.Name, "host"), h1.Fold(f.Name, "forwarded"),
			h1.Fold(f.Name, "x-forwarded-host"), h1.Fold(f.Name, "x-forwarded-proto"), h1.Fold(f.Name, "x-forwarded-port"),
			h1.Fold(f.Name, "x-forwarded-prefix"):
			continue
		case h1.Fold(f.Name, "x-amzn-trace-id"):
			continue // the request's trace (reqState.trace) follows
		case h1.Fold(f.Name, "x-forwarded-for"):
			xff = append(xff, f.Value)
			continue
		case r.mapped != nil && r.mapped.mappedHeader(f.Name):
			continue
		}
		h1.WriteField(w, f)
	}
	if r.mapped != nil {
		for _, f := range r.mapped.headers {
			h1.WriteField(w, f)
		}
	}
	h1.WriteForwardedFor(w, xff, r.sc.RemoteIP)
	g := call.g
	if g.port != "" {
		writeField(w, "X-Forwarded-Port", g.port)
	}
	writeField(w, "X-Forwarded-Proto", call.proto)
	if g.cfg.ForwardedHeaders.Host {
		writeField(w, "X-Forwarded-Host", r.host)
	}
	if g.cfg.ForwardedHeaders.Prefix {
		writeField(w, "X-Forwarded-Prefix", call.prefix)
	}
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
			w.WriteString("x-amzn-Remapped-")
			w.WriteString(remapped)
			w.WriteString(": ")
			w.Write(f.Value)
			w.WriteString("\r\n")
			continue
		}
		if h1.HopByHop(f.Name) || res.Listed(f.Name) || droppedResponseField(f.Name) {
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

// writeClientQuery writes the client's query for the integration as far as
// AWS's handling of it is known: ";" splits the data as "&" does (API
// Gateway developer guide, "Amazon API Gateway important notes for REST
// APIs": the semicolon "results in the data being split"), and "%2F"
// arrives decoded as "/" (REST APIs decode request parameters before
// passing them on, same notes; seen through an HTTP_PROXY integration in
// ustayready/fireprox#44). Everything else goes as sent: how AWS
// re-encodes other characters is not documented.
func writeClientQuery(w *bufio.Writer, q string) {
	start := 0
	for i := 0; i < len(q); i++ {
		var repl byte
		skip := 1
		switch {
		case q[i] == ';':
			repl = '&'
		case q[i] == '%' && i+2 < len(q) && q[i+1] == '2' && (q[i+2] == 'F' || q[i+2] == 'f'):
			repl, skip = '/', 3
		default:
			continue
		}
		w.WriteString(q[start:i])
		w.WriteByte(repl)
		start = i + skip
		i += skip - 1
	}
	w.WriteString(q[start:])
}
