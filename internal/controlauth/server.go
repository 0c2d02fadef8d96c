package controlauth

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// ServerConfig is a control API server's: where it listens, its TLS and
// what guards it.
type ServerConfig struct {
	// Field names the listen address in errors ("control.listen",
	// "--control-listen").
	Field  string
	Listen string
	// TLS, when set, makes the listener serve HTTPS. Without it only a
	// loopback listen address is allowed (CheckListen).
	TLS     *tls.Config
	Token   string
	Hint    string // how to authenticate, for a 401
	Handler http.Handler
	// SelfAuthenticated: see Config.SelfAuthenticated.
	SelfAuthenticated func(*http.Request) bool
}

// Server serves a control API, every request through a Guard.
type Server struct {
	cfg ServerConfig
	srv *http.Server
	ln  net.Listener
}

// NewServer checks cfg; Start binds the listener.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Field == "" {
		cfg.Field = "control.listen"
	}
	if cfg.Handler == nil {
		return nil, errors.New("control server: no handler")
	}
	if err := CheckListen(cfg.Field, cfg.Listen, cfg.TLS != nil); err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, srv: &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}}, nil
}

// Start binds the listener and serves in the background.
func (s *Server) Start(context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("%s %s: %w", s.cfg.Field, s.cfg.Listen, err)
	}
	// The guard checks Host against the bound address, so it is made
	// once the port is known.
	g, err := New(Config{Token: s.cfg.Token, Addr: ln.Addr().String(), TLS: s.cfg.TLS != nil, Hint: s.cfg.Hint,
		SelfAuthenticated: s.cfg.SelfAuthenticated})
	if err != nil {
		ln.Close()
		return err
	}
	if s.cfg.TLS != nil {
		ln = tls.NewListener(ln, s.cfg.TLS)
	}
	s.srv.Handler = g.Handler(s.cfg.Handler)
	s.ln = ln
	go func() { _ = s.srv.Serve(ln) }()
	return nil
}

// Stop shuts the server down, bounded by ctx.
func (s *Server) Stop(ctx context.Context) error {
	if s.ln == nil {
		return nil
	}
	return s.srv.Shutdown(ctx)
}

// URL is the base URL of the bound listener ("" before Start).
func (s *Server) URL() string {
	if s.ln == nil {
		return ""
	}
	scheme := "http"
	if s.cfg.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + s.ln.Addr().String()
}
