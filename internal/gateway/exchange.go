package gateway

import (
	"bufio"
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/portway/portway/internal/h1"
)

// request is the view of one client request that routing, authorization
// and gateway responses need; its head is in the connection's Req. It
// also holds what the request accumulates for its response and log line,
// and its integration call when it is forwarded (one allocation for all).
type request struct {
	sc       *h1.ServerConn
	method   string
	rawPath  string        // the escaped path as sent
	rawQuery string        // without "?"; "" when none
	host     string        // the Host field, an absolute-form target's authority, or the local address (HTTP/1.0 without Host)
	mapped   *mappedParams // the integration's request parameters; nil without mappings

	st   reqState
	call integrationCall
}

func newRequest(sc *h1.ServerConn) *request {
	h := &sc.Req
	r := &request{sc: sc, method: string(h.Method), host: string(h.Host)}
	target := h.Target
	switch {
	case h.Authority != nil: // absolute form: http://host/path; the authority replaces Host
		r.host = string(h.Authority)
		target = target[len("http://")+len(h.Authority):]
		if len(target) == 0 || target[0] == '?' {
			target = append([]byte("/"), target...)
		}
	case h.Host == nil && sc.Conn != nil:
		// HTTP/1.0 without Host: the address the client connected to.
		r.host = sc.Conn.LocalAddr().String()
	}
	for i, c := range target {
		if c == '?' {
			r.rawQuery = string(target[i+1:])
			target = target[:i]
			break
		}
	}
	r.rawPath = string(target)
	return r
}

// exchange serves one request on sc: the gateway's own response or the
// integration's, and one access log line. It reports whether the
// connection may carry another request.
func (g *Gateway) exchange(sc *h1.ServerConn) bool {
	r := newRequest(sc)
	r.st = reqState{start: g.now(), requestID: newRequestID(), apigwID: newAPIGWID(), resourcePath: "-", clientID: "-", trace: g.traceHeader(&sc.Req)}
	st := &r.st
	_ = sc.Conn.SetWriteDeadline(time.Now().Add(g.timeouts.Write))
	keep := true
	if m, target, gerr := g.handle(r, st); gerr != nil {
		keep = g.answer(r, st, gerr)
	} else if m.mock != nil {
		keep = g.answerMock(r, st, m.mock)
	} else {
		keep = g.forward(r, st, m, target)
	}
	g.logAccess(r, st)
	g.recordHop(r, st)
	g.observeRequest(r, st)
	return keep && !sc.Req.Close
}

// answer writes a gateway response for a request whose body was not read:
// the connection closes when there is a body (it would have to be read to
// find the next request).
func (g *Gateway) answer(r *request, st *reqState, e *gwError) bool {
	h := &r.sc.Req
	hasBody := h.Chunked || h.ContentLength > 0
	g.writeError(r.sc.W, r, st, e, hasBody || h.Close)
	if err := r.sc.W.Flush(); err != nil {
		st.status = statusClientClosed
		return false
	}
	if hasBody {
		r.sc.LingerClose()
		return false
	}
	return true
}

// handle decides what to do with a request: the gateway response to give
// (gwError), or the method and integration URL to forward it to.
func (g *Gateway) handle(r *request, st *reqState) (*methodRoute, *url.URL, *gwError) {
	st.path = r.rawPath
	var served bool
	if st.domain, served = g.hosts.check(r.host, r.sc.Conn); !served {
		return nil, nil, newGWError(respUnknownHost, "host not served")
	}
	if requestHeaderSize(&r.sc.Req) > MaxHeaderBytes {
		return nil, nil, newGWError(RespRequestTooLarge, "request line and headers over 10 KiB")
	}
	segs, err := normalizePath(st.path, g.encSlash)
	if err != nil {
		return nil, nil, newGWError(RespBadRequestParameters, "path rejected by normalization")
	}
	st.path = canonicalPath(st.path, segs)
	stage, rest, gerr := g.resolveStage(r, st, segs)
	if gerr != nil {
		return nil, nil, gerr
	}
	if stage.limiter != nil && !stage.limiter.AllowN(g.now(), 1) {
		return nil, nil, newGWError(RespThrottled, "stage rate limit")
	}
	if r.sc.Req.ContentLength > MaxRequestBodyBytes {
		return nil, nil, newGWError(RespRequestTooLarge, "Content-Length over limit")
	}
	rt, params := g.router.match(rest)
	if rt == nil {
		return nil, nil, newGWError(RespMissingAuthToken, "no such resource")
	}
	st.resourcePath = rt.path
	m := rt.method(r.method)
	if m == nil {
		return nil, nil, newGWError(RespMissingAuthToken, "no such method")
	}
	if m.auth == AuthCognito {
		authz, _ := r.sc.Req.Get(m.ident)
		p, gerr := g.auth.authorize(context.Background(), authz, m.scopes)
		g.observeAuthorizer(st, gerr)
		if gerr != nil {
			st.authError, st.claimedClientID = gerr.reason, claimedClientID(authz)
			return nil, nil, gerr
		}
		st.clientID = p.clientID
		if stage.clients != nil && !stage.clients.allow(p.clientID, g.now()) {
			return nil, nil, newGWError(RespThrottled, "client rate limit")
		}
	}
	if m.mock != nil {
		return m, nil, nil
	}
	target, err := m.uris[stage.index].expand(params)
	if err != nil {
		return nil, nil, newGWError(RespAPIConfigurationError, "integration URI: "+err.Error())
	}
	if len(m.mapped) > 0 {
		r.mapped = resolveMappings(m.mapped, &r.sc.Req, r.rawQuery, params)
	}
	return m, target, nil
}

// resolveStage places the request on a stage, by custom domain and base
// path mapping or by the invoke URL's first segment (see stages.go), and
// returns the segments left for the resource tree.
func (g *Gateway) resolveStage(r *request, st *reqState, segs []segment) (*stageRT, []segment, *gwError) {
	if ms := g.domains.lookup(st.domain); ms != nil {
		m, rest := matchMapping(ms, segs)
		if m == nil {
			return nil, nil, newGWError(respNoBasePathMapping, "no base path mapping on "+st.domain)
		}
		st.stage, st.prefix = m.stage.name, m.prefix
		return m.stage, rest, nil
	}
	if len(segs) == 0 {
		return nil, nil, newGWError(RespMissingAuthToken, "no stage in path")
	}
	stage := g.byStage[segs[0].dec]
	if stage == nil {
		return nil, nil, newGWError(RespMissingAuthToken, "no such stage")
	}
	st.stage, st.prefix = stage.name, "/"+stage.name
	return stage, segs[1:], nil
}

// requestHeaderSize is what AWS counts against its 10 KiB limit: the request
// line and the header values (Host included).
func requestHeaderSize(h *h1.Head) int {
	n := len(h.Method) + 1 + len(h.Target) + 1 + len("HTTP/1.1")
	for _, f := range h.Fields {
		n += len(f.Value)
	}
	return n
}

// writeError is the one place where gateway responses are written.
func (g *Gateway) writeError(w *bufio.Writer, r *request, st *reqState, e *gwError, closing bool) {
	rr := g.responses[e.typ]
	if rr == nil {
		rr = g.responses[RespDefault5XX]
	}
	st.errType, st.reason = e.typ, e.reason
	body := rr.render(e.message, r.renderContext(st))
	status := rr.status
	if e.status != 0 {
		status = e.status
	}
	st.code, st.bytes = status, int64(len(body))
	writeStatusLine(w, status, "")
	for k, v := range rr.headers {
		if h1.Fold(k, "content-length") || h1.Fold(k, "connection") || h1.Fold(k, "transfer-encoding") {
			continue // framing is the gateway's
		}
		writeField(w, http.CanonicalHeaderKey(k), v)
	}
	writeField(w, headerErrorType, rr.errorType)
	g.writeOwnEnd(w, r, st, body, closing)
}

// writeOwnEnd ends an answer the gateway writes itself (a gateway response,
// a MOCK integration's): its ids, Date and framing fields, the blank line
// and, but for HEAD, the body.
func (g *Gateway) writeOwnEnd(w *bufio.Writer, r *request, st *reqState, body string, closing bool) {
	writeField(w, headerRequestID, st.requestID)
	writeField(w, headerAPIGWID, st.apigwID)
	writeField(w, "Date", h1.Date(g.now()))
	writeField(w, "Content-Length", strconv.Itoa(len(body)))
	if closing {
		writeField(w, "Connection", "close")
	}
	w.WriteString("\r\n")
	if r.method != http.MethodHead {
		w.WriteString(body)
	}
}

// renderContext is the $context of an answer the gateway writes itself.
func (r *request) renderContext(st *reqState) renderContext {
	return renderContext{
		requestID: st.requestID, apigwID: st.apigwID, path: st.path, resourcePath: st.resourcePath,
		method: r.method, stage: st.stage, domainName: st.domain, sourceIP: r.sc.RemoteIP,
	}
}

// badRequest answers a request whose head could not be read, as net/http
// does (plain text, no gateway ids: the request never reached the API).
func (g *Gateway) badRequest(sc *h1.ServerConn, he *h1.Error) {
	g.log.Debug("bad request", "sourceIp", sc.RemoteIP, "status", he.Status, "reason", he.Reason)
	text := strconv.Itoa(he.Status) + " " + http.StatusText(he.Status)
	_ = sc.Conn.SetWriteDeadline(time.Now().Add(g.timeouts.Write))
	sc.W.WriteString("HTTP/1.1 " + text + "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n" + text)
	_ = sc.W.Flush()
}

func writeStatusLine(w *bufio.Writer, status int, reason string) {
	w.WriteString("HTTP/1.1 ")
	w.Write(strconv.AppendInt(w.AvailableBuffer(), int64(status), 10))
	w.WriteByte(' ')
	if reason == "" {
		reason = http.StatusText(status)
	}
	w.WriteString(reason)
	w.WriteString("\r\n")
}

func writeField(w *bufio.Writer, name, value string) {
	w.WriteString(name)
	w.WriteString(": ")
	w.WriteString(value)
	w.WriteString("\r\n")
}
