package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Default client timeouts (Config.Timeouts). The integration timeout
// (≤ 29 s) bounds each proxied exchange; these bound what the client does.
const (
	defaultReadHeaderTimeout = 10 * time.Second
	defaultReadTimeout       = 60 * time.Second
	defaultWriteTimeout      = 60 * time.Second
	defaultIdleTimeout       = 90 * time.Second
)

// Gateway is the REST API stand-in: routing, authorizer, HTTP_PROXY
// integrations and gateway responses for one stage.
type Gateway struct {
	cfg       Config
	log       *slog.Logger
	now       func() time.Time
	router    *router
	auth      *authorizer // nil when no method uses COGNITO_USER_POOLS
	transport *http.Transport
	proxy     *httputil.ReverseProxy
	responses map[string]*resolvedResponse
	stages    []*stageRT
	byStage   map[string]*stageRT
	domains   domainTable

	mu   sync.Mutex
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// New validates cfg and builds a gateway; Start binds its listener.
func New(cfg Config) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("gateway config: %w", err)
	}
	g := &Gateway{cfg: cfg, log: cfg.Logger, now: cfg.Now, transport: newTransport(cfg.VPCLink)}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.now == nil {
		g.now = time.Now
	}
	g.byStage = map[string]*stageRT{}
	for i, st := range cfg.stageList() {
		srt := newStageRT(i, st, cfg.Throttle)
		g.stages = append(g.stages, srt)
		g.byStage[st.Name] = srt
	}
	g.domains = buildDomains(cfg.Domains, g.byStage)
	rt, err := buildTree(cfg.Resources, g.buildRoute)
	if err != nil {
		return nil, fmt.Errorf("gateway config: %w", err)
	}
	g.router = rt
	if usesAuthorizer(cfg.Resources) {
		a := cfg.Authorizer
		client := &http.Client{Transport: g.transport, Timeout: orDefault(a.FetchTimeout, defaultJWKSFetchTimeout)}
		keys := newJWKSCache(a.JWKSURL, client, g.now, orDefault(a.RefetchPeriod, defaultJWKSRefetchPeriod), client.Timeout)
		g.auth = newAuthorizer(a.Issuer, keys, g.now, a.MaxCachedTokens)
	}
	g.responses = resolveResponses(cfg.Responses)
	g.proxy = g.newReverseProxy()
	return g, nil
}

func (g *Gateway) buildRoute(i int) *route {
	res := g.cfg.Resources[i]
	rt := &route{path: res.Path, methods: map[string]*methodRoute{}}
	for _, m := range res.Methods {
		mr := &methodRoute{
			auth: m.Authorization, scopes: m.Scopes,
			timeout: orDefault(m.Integration.Timeout, DefaultIntegrationTimeout),
		}
		for _, st := range g.cfg.stageList() {
			uri, _ := substituteStageVars(m.Integration.URI, st.Variables) // validated
			tmpl, _ := parseURITemplate(uri)
			mr.uris = append(mr.uris, tmpl)
		}
		rt.methods[m.HTTPMethod] = mr
	}
	return rt
}

func usesAuthorizer(resources []Resource) bool {
	for _, r := range resources {
		for _, m := range r.Methods {
			if m.Authorization == AuthCognito {
				return true
			}
		}
	}
	return false
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Start binds the listener and serves in the background.
func (g *Gateway) Start(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.srv != nil {
		return errors.New("gateway: already started")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", g.cfg.Listen)
	if err != nil {
		return fmt.Errorf("gateway: listen on %s: %w", g.cfg.Listen, err)
	}
	t := g.cfg.Timeouts
	srv := &http.Server{
		Handler:           g,
		ReadHeaderTimeout: orDefault(t.ReadHeader, defaultReadHeaderTimeout),
		ReadTimeout:       orDefault(t.Read, defaultReadTimeout),
		WriteTimeout:      orDefault(t.Write, defaultWriteTimeout),
		IdleTimeout:       orDefault(t.Idle, defaultIdleTimeout),
		MaxHeaderBytes:    hardMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
	}
	done := make(chan struct{})
	g.srv, g.ln, g.done = srv, ln, done
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.log.Error("gateway serve", "err", err)
		}
	}()
	g.log.Info("gateway listening", "url", "http://"+ln.Addr().String(), "stage", g.stages[0].name, "stages", len(g.stages), "domains", len(g.domains))
	return nil
}

// Stop shuts down gracefully, bounded by ctx; then closes what is left.
func (g *Gateway) Stop(ctx context.Context) error {
	g.mu.Lock()
	srv, done := g.srv, g.done
	g.srv, g.ln, g.done = nil, nil, nil
	g.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		_ = srv.Close()
	}
	<-done
	g.transport.CloseIdleConnections()
	if err != nil {
		return fmt.Errorf("gateway: shutdown: %w", err)
	}
	return nil
}

// URL is the base URL of the bound listener ("" before Start), without the stage.
func (g *Gateway) URL() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ln == nil {
		return ""
	}
	return "http://" + g.ln.Addr().String()
}

// InvokeURL is URL() + "/" + the first stage.
func (g *Gateway) InvokeURL() string {
	if u := g.URL(); u != "" {
		return u + "/" + g.stages[0].name
	}
	return ""
}

// Stages lists the stage names, the shorthand Config.Stage first.
func (g *Gateway) Stages() []string {
	out := make([]string, len(g.stages))
	for i, s := range g.stages {
		out[i] = s.name
	}
	return out
}

// ServeHTTP handles one request; every response carries x-amzn-RequestId and
// x-amz-apigw-id, and every request produces one access log line.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st := &reqState{start: g.now(), requestID: newRequestID(), apigwID: newAPIGWID(), resourcePath: "-", clientID: "-"}
	h := w.Header()
	h[headerRequestID] = []string{st.requestID}
	h[headerAPIGWID] = []string{st.apigwID}
	rec := &recorder{ResponseWriter: w}
	defer g.logAccess(rec, r, st)
	if err := g.handle(rec, r, st); err != nil {
		g.writeError(rec, r, st, err)
	}
}

func (g *Gateway) handle(w *recorder, r *http.Request, st *reqState) *gwError {
	st.path = rawRequestPath(r)
	if requestHeaderSize(r) > MaxHeaderBytes {
		return newGWError(RespRequestTooLarge, "request line and headers over 10 KiB")
	}
	segs, err := normalizePath(st.path, g.cfg.AllowEncodedSlashes)
	if err != nil {
		return newGWError(RespBadRequestParameters, "path rejected by normalization")
	}
	st.path = joinRaw(segs)
	stage, rest, gerr := g.resolveStage(r, st, segs)
	if gerr != nil {
		return gerr
	}
	if stage.limiter != nil && !stage.limiter.AllowN(g.now(), 1) {
		return newGWError(RespThrottled, "stage rate limit")
	}
	if r.ContentLength > MaxRequestBodyBytes {
		return newGWError(RespRequestTooLarge, "Content-Length over limit")
	}
	rt, params := g.router.match(rest)
	if rt == nil {
		return newGWError(RespMissingAuthToken, "no such resource")
	}
	st.resourcePath = rt.path
	m := rt.method(r.Method)
	if m == nil {
		return newGWError(RespMissingAuthToken, "no such method")
	}
	if m.auth == AuthCognito {
		p, gerr := g.auth.authorize(r.Context(), r.Header.Get("Authorization"), m.scopes)
		if gerr != nil {
			return gerr
		}
		st.clientID = p.clientID
		if stage.clients != nil && !stage.clients.allow(p.clientID, g.now()) {
			return newGWError(RespThrottled, "client rate limit")
		}
	}
	target, err := m.uris[stage.index].expand(params)
	if err != nil {
		return newGWError(RespAPIConfigurationError, "integration URI: "+err.Error())
	}
	g.forward(w, r, st, m, target)
	return nil
}

// resolveStage places the request on a stage, by custom domain and base
// path mapping or by the invoke URL's first segment (see stages.go), and
// returns the segments left for the resource tree.
func (g *Gateway) resolveStage(r *http.Request, st *reqState, segs []segment) (*stageRT, []segment, *gwError) {
	st.domain = hostName(r.Host)
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
func requestHeaderSize(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + len(r.Host)
	for _, vs := range r.Header {
		for _, v := range vs {
			n += len(v)
		}
	}
	return n
}

// forward runs the HTTP_PROXY integration under its timeout.
func (g *Gateway) forward(w *recorder, r *http.Request, st *reqState, m *methodRoute, target *url.URL) {
	ctx, cancel := context.WithTimeout(r.Context(), m.timeout)
	defer cancel()
	pc := &proxyCall{target: target, prefix: st.prefix, traceID: newTraceID(g.now()), parent: r.Context(), st: st}
	out := r.WithContext(context.WithValue(ctx, proxyCallKey{}, pc))
	if r.Body != nil && r.Body != http.NoBody {
		// MaxBytesReader gets the server's writer so that it can close the connection.
		out.Body = &limitedBody{ReadCloser: http.MaxBytesReader(w.ResponseWriter, r.Body, MaxRequestBodyBytes), tooLarge: &pc.tooLarge, timedOut: &pc.bodyTime}
	}
	g.proxy.ServeHTTP(w, out)
}

// writeError is the one place where gateway responses are written.
func (g *Gateway) writeError(w http.ResponseWriter, r *http.Request, st *reqState, e *gwError) {
	rr := g.responses[e.typ]
	if rr == nil {
		rr = g.responses[RespDefault5XX]
	}
	st.errType, st.reason = e.typ, e.reason
	body := rr.render(e.message, renderContext{
		requestID: st.requestID, apigwID: st.apigwID, path: st.path, resourcePath: st.resourcePath,
		method: r.Method, stage: st.stage, domainName: st.domain, sourceIP: sourceIP(r),
	})
	h := w.Header()
	for k, v := range rr.headers {
		h.Set(k, v)
	}
	h[headerErrorType] = []string{rr.errorType}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	status := rr.status
	if e.status != 0 {
		status = e.status
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}
