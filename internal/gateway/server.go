package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portway/portway/internal/h1"
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
// integrations and gateway responses, for its stages and custom domains.
type Gateway struct {
	cfg       Config
	log       *slog.Logger
	now       func() time.Time
	router    *router
	auth      *authorizer     // nil when no method uses COGNITO_USER_POOLS
	transport *http.Transport // the JWKS fetches'
	upstreams upstreams       // keep-alive connections to integration hosts
	fw        h1.Forwarder    // the integrations' forwarding core
	responses map[string]*resolvedResponse
	stages    []*stageRT
	byStage   map[string]*stageRT
	domains   domainTable
	hosts     *servedHosts
	timeouts  TimeoutsConfig // with defaults applied
	scheme    string         // "https" when the listener serves TLS
	encSlash  bool           // %2F allowed in paths (Config.AllowEncodedSlashes)
	port      string         // the listener's port: X-Forwarded-Port (set before serving)
	metrics   *gwMetrics     // nil without Config.Metrics

	access     *accessFormat // nil: no access log file (Config.AccessLog)
	accessErrs atomic.Int64  // failed writes to it

	mu   sync.Mutex
	srv  *h1.Server
	ln   net.Listener
	done chan struct{}
}

// New validates cfg and builds a gateway; Start binds its listener.
func New(cfg Config) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("gateway config: %w", err)
	}
	g := &Gateway{cfg: cfg, log: cfg.Logger, now: cfg.Now, transport: newTransport(cfg.Authorizer.ClientTLS)}
	g.encSlash = cfg.AllowEncodedSlashes == nil || *cfg.AllowEncodedSlashes
	g.scheme = "http"
	if cfg.TLS != nil {
		g.scheme = "https"
	}
	g.upstreams = upstreams{link: cfg.VPCLink, pools: map[string]*h1.Pool{}}
	t := cfg.Timeouts
	g.timeouts = TimeoutsConfig{
		ReadHeader: orDefault(t.ReadHeader, defaultReadHeaderTimeout),
		Read:       orDefault(t.Read, defaultReadTimeout),
		// By default the client has the response written within 60 s, or
		// 30 s more than the longest integration timeout (when raised).
		Write: orDefault(t.Write, max(defaultWriteTimeout, longestIntegrationTimeout(cfg.Resources)+30*time.Second)),
		Idle:  orDefault(t.Idle, defaultIdleTimeout),
	}
	// The integration timeout, given per request, bounds the exchange
	// with the backend; timeouts.read the client's body.
	g.fw = h1.Forwarder{MaxBodyBytes: MaxRequestBodyBytes, MaxResponseHead: 64 << 10, BodyTimeout: g.timeouts.Read}
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
	g.hosts = newServedHosts(cfg)
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
	if al := cfg.AccessLog; al != nil && al.Out != nil {
		g.access, _ = parseAccessFormat(al.Format) // validated
	}
	if g.metrics, err = newGWMetrics(cfg.Metrics, g.Stages(), cfg.Resources); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	return g, nil
}

func (g *Gateway) buildRoute(i int) *route {
	res := g.cfg.Resources[i]
	rt := &route{path: res.Path, methods: map[string]*methodRoute{}}
	for _, m := range res.Methods {
		mr := &methodRoute{
			auth: m.Authorization, scopes: m.Scopes, ident: m.IdentityHeader,
			timeout: orDefault(m.Integration.Timeout, DefaultIntegrationTimeout),
		}
		if hm := m.Integration.HTTPMethod; hm != "" && hm != MethodAny && hm != m.HTTPMethod {
			mr.integMethod = hm
		}
		if mr.ident == "" {
			mr.ident = "authorization"
		}
		if m.Integration.Type == IntegrationMock {
			mr.mock = m.Integration.Mock
			if mr.mock == nil {
				mr.mock = &MockResponse{}
			}
			rt.methods[m.HTTPMethod] = mr
			continue
		}
		if len(m.Integration.RequestParameters) > 0 {
			params, _ := parseResourcePath(res.Path) // validated
			mr.mapped = buildMappings(m.Integration.RequestParameters, params)
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
	// No TCP keep-alive probes on client connections (nginx sets none
	// either): the idle timeout closes them, and accepting saves the
	// setsockopt calls.
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(ctx, "tcp", g.cfg.Listen)
	if err != nil {
		return fmt.Errorf("gateway: listen on %s: %w", g.cfg.Listen, err)
	}
	if g.cfg.TLS != nil {
		// The handshake runs on the connection's first read, under the
		// server's header timeout.
		ln = tls.NewListener(ln, g.cfg.TLS)
	}
	srv := &h1.Server{
		Handle:            g.exchange,
		BadRequest:        g.badRequest,
		Panic:             g.panicked,
		MaxHeaderBytes:    hardMaxHeaderBytes,
		IdleTimeout:       g.timeouts.Idle,
		ReadHeaderTimeout: g.timeouts.ReadHeader,
		Logger:            g.log,
	}
	g.hosts.addListener(ln.Addr()) // before serving: read without a lock
	if _, port, err := net.SplitHostPort(ln.Addr().String()); err == nil {
		g.port = port
	}
	done := make(chan struct{})
	g.srv, g.ln, g.done = srv, ln, done
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	g.log.Info("gateway listening", "url", g.scheme+"://"+ln.Addr().String(), "stage", g.stages[0].name, "stages", len(g.stages), "domains", len(g.domains))
	return nil
}

// Stop shuts down gracefully, bounded by ctx; then closes what is left.
func (g *Gateway) Stop(ctx context.Context) error {
	g.mu.Lock()
	srv, ln, done := g.srv, g.ln, g.done
	g.srv, g.ln, g.done = nil, nil, nil
	g.mu.Unlock()
	if srv == nil {
		return nil
	}
	ln.Close()
	<-done
	err := srv.Shutdown(ctx)
	g.upstreams.close()
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
	return g.scheme + "://" + g.ln.Addr().String()
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
