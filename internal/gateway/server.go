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

	"golang.org/x/time/rate"
)

// Server timeouts. The integration timeout (≤ 29 s) bounds each proxied
// exchange; these bound what the client does.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 60 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 90 * time.Second
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
	limiter   *rate.Limiter // nil: no throttling

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
	g := &Gateway{cfg: cfg, log: cfg.Logger, now: cfg.Now, transport: newTransport()}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.now == nil {
		g.now = time.Now
	}
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
	if cfg.Throttle.RateLimit > 0 {
		g.limiter = rate.NewLimiter(rate.Limit(cfg.Throttle.RateLimit), cfg.Throttle.BurstLimit)
	}
	g.proxy = g.newReverseProxy()
	return g, nil
}

func (g *Gateway) buildRoute(i int) *route {
	res := g.cfg.Resources[i]
	rt := &route{path: res.Path, methods: map[string]*methodRoute{}}
	for _, m := range res.Methods {
		uri, _ := substituteStageVars(m.Integration.URI, g.cfg.StageVariables) // validated
		tmpl, _ := parseURITemplate(uri)
		rt.methods[m.HTTPMethod] = &methodRoute{
			auth: m.Authorization, scopes: m.Scopes, uri: tmpl,
			timeout: orDefault(m.Integration.Timeout, DefaultIntegrationTimeout),
		}
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
	srv := &http.Server{
		Handler:           g,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
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
	g.log.Info("gateway listening", "url", "http://"+ln.Addr().String(), "stage", g.cfg.Stage)
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

// InvokeURL is URL() + "/" + stage.
func (g *Gateway) InvokeURL() string {
	if u := g.URL(); u != "" {
		return u + "/" + g.cfg.Stage
	}
	return ""
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
	if g.limiter != nil && !g.limiter.AllowN(g.now(), 1) {
		return newGWError(RespThrottled, "stage rate limit")
	}
	if r.ContentLength > MaxRequestBodyBytes {
		return newGWError(RespRequestTooLarge, "Content-Length over limit")
	}
	segs, err := normalizePath(st.path, g.cfg.AllowEncodedSlashes)
	if err != nil {
		return newGWError(RespBadRequestParameters, "path rejected by normalization")
	}
	st.path = joinRaw(segs)
	if len(segs) == 0 || segs[0].dec != g.cfg.Stage {
		return newGWError(RespMissingAuthToken, "no such stage")
	}
	rt, params := g.router.match(segs[1:])
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
	}
	target, err := m.uri.expand(params)
	if err != nil {
		return newGWError(RespAPIConfigurationError, "integration URI: "+err.Error())
	}
	g.forward(w, r, st, m, target)
	return nil
}

// forward runs the HTTP_PROXY integration under its timeout.
func (g *Gateway) forward(w *recorder, r *http.Request, st *reqState, m *methodRoute, target *url.URL) {
	ctx, cancel := context.WithTimeout(r.Context(), m.timeout)
	defer cancel()
	pc := &proxyCall{target: target, stage: g.cfg.Stage, traceID: newTraceID(g.now()), parent: r.Context(), st: st}
	out := r.WithContext(context.WithValue(ctx, proxyCallKey{}, pc))
	if r.Body != nil && r.Body != http.NoBody {
		// MaxBytesReader gets the server's writer so that it can close the connection.
		out.Body = &limitedBody{ReadCloser: http.MaxBytesReader(w.ResponseWriter, r.Body, MaxRequestBodyBytes), tooLarge: &pc.tooLarge}
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
		method: r.Method, stage: g.cfg.Stage, sourceIP: sourceIP(r),
	})
	h := w.Header()
	for k, v := range rr.headers {
		h.Set(k, v)
	}
	h[headerErrorType] = []string{rr.errorType}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rr.status)
	_, _ = io.WriteString(w, body)
}
