package auth

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// HTTP server bounds.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 15 * time.Second
	idleTimeout       = 60 * time.Second
	maxHeaderBytes    = 32 << 10
)

// httpTimeouts bound every connection; tests shorten them.
type httpTimeouts struct {
	readHeader, read, write, idle time.Duration
}

// Server is the Cognito stand-in: token endpoint, JWKS and discovery.
type Server struct {
	cfg      Config
	timeouts httpTimeouts
	log      *slog.Logger
	now      func() time.Time
	keys     *KeyStore
	clients  *ClientStore
	metrics  *authMetrics // nil without Config.Metrics
	// resourceServers holds the configured resource servers and those
	// created at runtime: the scope catalog.
	resourceServers *resourceServerStore
	limiter         *failureLimiter
	handler         http.Handler
	base            atomic.Pointer[string] // base URL once known

	mu   sync.Mutex // guards srv and done
	srv  *http.Server
	done chan struct{}
}

// New validates cfg, loads (or creates and persists) the signing keys and
// opens the client store. It does not listen; see Start.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("auth: config: %w", err)
	}
	cfg = cfg.withDefaults()
	clients, err := OpenClientStore(cfg.StateDir,
		WithResourceServers(cfg.ResourceServers),
		WithDefaultTokenValidity(cfg.TokenValidity),
		WithBcryptCost(cfg.BcryptCost),
		WithClock(cfg.Now),
		WithLogger(cfg.Logger),
	)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	clients.warm()
	rss, err := newResourceServerStore(clients.dir, cfg.ResourceServers)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	// The store checks client scopes against every resource server,
	// including those created later.
	clients.opt.catalog = rss.scopes
	keys, err := OpenKeyStore(cfg.StateDir, WithClock(cfg.Now), WithLogger(cfg.Logger))
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	s := &Server{
		cfg:             cfg,
		timeouts:        httpTimeouts{readHeaderTimeout, readTimeout, writeTimeout, idleTimeout},
		log:             cfg.Logger,
		now:             cfg.Now,
		keys:            keys,
		clients:         clients,
		resourceServers: rss,
		limiter:         newFailureLimiter(cfg.AuthFailureBurst, cfg.AuthFailureRefill),
	}
	if cfg.PublicURL != "" {
		s.base.Store(&cfg.PublicURL)
	}
	if s.metrics, err = newAuthMetrics(cfg.Metrics); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	s.handler = s.routes()
	return s, nil
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	pool := "/" + s.cfg.UserPoolID
	mux.Handle("/oauth2/token", tokenCORS(s.wrap(s.countTokenErrors(s.handleToken))))
	mux.Handle("/.well-known/jwks.json", s.wrap(s.handleJWKS))
	mux.Handle(pool+"/.well-known/jwks.json", s.wrap(s.handleJWKS))
	mux.Handle(pool+"/.well-known/openid-configuration", s.wrap(s.handleDiscovery))
	if p := s.issuerPath(); p != pool {
		// A configured Issuer with another path: serve its well-known
		// documents there too. (Root "/.well-known/jwks.json" already is.)
		if p != "" {
			mux.Handle(p+"/.well-known/jwks.json", s.wrap(s.handleJWKS))
		}
		mux.Handle(p+"/.well-known/openid-configuration", s.wrap(s.handleDiscovery))
	}
	mux.Handle("/", s.wrap(func(http.ResponseWriter, *http.Request) error {
		return newError(http.StatusNotFound, errNotFound, "")
	}))
	return mux
}

// Handler returns the HTTP handler, for tests and for embedding.
func (s *Server) Handler() http.Handler { return s.handler }

// Clients returns the client store.
func (s *Server) Clients() *ClientStore { return s.clients }

// Start binds the listener and serves in the background until Stop. ctx
// bounds only the start itself. A busy address fails with an error naming it.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return errors.New("auth: already started")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("auth: start: %w", err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("auth: listen on %s: %w", s.cfg.Listen, err)
	}
	if s.cfg.TLS != nil {
		ln = tls.NewListener(ln, s.cfg.TLS)
	}
	if s.cfg.PublicURL == "" {
		base := s.scheme() + "://" + dialableAddr(ln.Addr())
		s.base.Store(&base)
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.timeouts.readHeader,
		ReadTimeout:       s.timeouts.read,
		WriteTimeout:      s.timeouts.write,
		IdleTimeout:       s.timeouts.idle,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("auth: serve", "err", err)
		}
	}()
	s.srv, s.done = srv, done
	s.log.Info("auth: listening", "url", s.URL(), "issuer", s.Issuer(), "kid", s.keys.ActiveKID())
	return nil
}

// Stop shuts the server down gracefully; when ctx ends first, remaining
// connections are closed. Stop without Start is a no-op.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil {
		return nil
	}
	srv, done := s.srv, s.done
	s.srv, s.done = nil, nil
	err := srv.Shutdown(ctx)
	if err != nil {
		_ = srv.Close()
	}
	<-done
	if err != nil {
		return fmt.Errorf("auth: stop: %w", err)
	}
	return nil
}

// URL is the base URL, e.g. "http://127.0.0.1:8081" ("https://…" with
// TLS): PublicURL if set, else the bound address after Start, else
// Config.Listen.
func (s *Server) URL() string {
	if p := s.base.Load(); p != nil {
		return *p
	}
	return s.scheme() + "://" + s.cfg.Listen
}

func (s *Server) scheme() string {
	if s.cfg.TLS != nil {
		return "https"
	}
	return "http"
}

// Issuer is the iss of issued tokens, which verifiers must expect:
//   - Config.Issuer when set;
//   - with IssuerStyle "aws", Cognito's form
//     "https://cognito-idp.{Region}.amazonaws.com/{UserPoolID}";
//   - otherwise URL() + "/" + UserPoolID.
//
// {issuer path}/.well-known/openid-configuration and
// {issuer path}/.well-known/jwks.json are served by this server (see
// IssuerMetadataURL), as is /.well-known/jwks.json.
func (s *Server) Issuer() string {
	switch {
	case s.cfg.Issuer != "":
		return s.cfg.Issuer
	case s.cfg.IssuerStyle == IssuerStyleAWS:
		return "https://cognito-idp." + s.cfg.Region + ".amazonaws.com/" + s.cfg.UserPoolID
	}
	return s.URL() + "/" + s.cfg.UserPoolID
}

// issuerPath is the path part of Issuer(), without a trailing slash.
func (s *Server) issuerPath() string {
	if s.cfg.Issuer == "" {
		return "/" + s.cfg.UserPoolID
	}
	u, err := url.Parse(s.cfg.Issuer)
	if err != nil { // Validate rules this out
		return "/" + s.cfg.UserPoolID
	}
	return strings.TrimRight(u.EscapedPath(), "/")
}

// IssuerMetadataURL is where this server serves the issuer's documents:
// URL() + the issuer's path; append "/.well-known/openid-configuration" or
// "/.well-known/jwks.json". It equals Issuer() for the local issuer style.
func (s *Server) IssuerMetadataURL() string { return s.URL() + s.issuerPath() }

// TokenURL is the token endpoint.
func (s *Server) TokenURL() string { return s.URL() + "/oauth2/token" }

// JWKSURL is the JWKS at the root; the same set is also served at
// Issuer() + "/.well-known/jwks.json".
func (s *Server) JWKSURL() string { return s.URL() + "/.well-known/jwks.json" }

// KeyID returns the key id that signs new tokens.
func (s *Server) KeyID() string { return s.keys.ActiveKID() }

// Keys returns the signing key store.
func (s *Server) Keys() *KeyStore { return s.keys }

// Scopes returns every full scope string the resource servers define.
func (s *Server) Scopes() []string { return append([]string(nil), s.resourceServers.scopes().list...) }

// dialableAddr turns a bound address into one clients can dial: an
// unspecified IP becomes loopback.
func dialableAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	ip := tcp.IP
	switch {
	case ip == nil || ip.Equal(net.IPv4zero) || ip.Equal(net.IPv6unspecified):
		ip = net.IPv4(127, 0, 0, 1)
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(tcp.Port))
}
