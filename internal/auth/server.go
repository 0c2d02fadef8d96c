package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
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

// Server is the Cognito stand-in: token endpoint, JWKS and discovery.
type Server struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	keys    *keySet
	clients *ClientStore
	catalog *scopeCatalog
	limiter *failureLimiter
	handler http.Handler
	base    atomic.Pointer[string] // base URL once known

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
	keys, err := loadOrCreateKeys(clients.dir, cfg.Now, cfg.Logger)
	if err != nil {
		return nil, fmt.Errorf("auth: keys: %w", err)
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		now:     cfg.Now,
		keys:    keys,
		clients: clients,
		catalog: newScopeCatalog(cfg.ResourceServers),
		limiter: newFailureLimiter(cfg.AuthFailureBurst, cfg.AuthFailureRefill),
	}
	if cfg.PublicURL != "" {
		s.base.Store(&cfg.PublicURL)
	}
	s.handler = s.routes()
	return s, nil
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	pool := "/" + s.cfg.UserPoolID
	mux.Handle("/oauth2/token", s.wrap(s.handleToken))
	mux.Handle("/.well-known/jwks.json", s.wrap(s.handleJWKS))
	mux.Handle(pool+"/.well-known/jwks.json", s.wrap(s.handleJWKS))
	mux.Handle(pool+"/.well-known/openid-configuration", s.wrap(s.handleDiscovery))
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
	if s.cfg.PublicURL == "" {
		base := "http://" + dialableAddr(ln.Addr())
		s.base.Store(&base)
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
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
	s.log.Info("auth: listening", "url", s.URL(), "issuer", s.Issuer(), "kid", s.keys.active().kid)
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

// URL is the base URL, e.g. "http://127.0.0.1:8081": PublicURL if set, else
// the bound address after Start, else "http://" + Config.Listen.
func (s *Server) URL() string {
	if p := s.base.Load(); p != nil {
		return *p
	}
	return "http://" + s.cfg.Listen
}

// Issuer is the iss of issued tokens: URL() + "/" + UserPoolID.
func (s *Server) Issuer() string { return s.URL() + "/" + s.cfg.UserPoolID }

// TokenURL is the token endpoint.
func (s *Server) TokenURL() string { return s.URL() + "/oauth2/token" }

// JWKSURL is the JWKS at the root; the same set is also served at
// Issuer() + "/.well-known/jwks.json".
func (s *Server) JWKSURL() string { return s.URL() + "/.well-known/jwks.json" }

// KeyID returns the key id that signs new tokens.
func (s *Server) KeyID() string { return s.keys.active().kid }

// Scopes returns every full scope string the resource servers define.
func (s *Server) Scopes() []string { return append([]string(nil), s.catalog.list...) }

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
