// Package sidecar is the nginx-style proxy that runs in front of every app
// container of a task: it forwards everything to the app on the task's own IP,
// sets X-Real-IP / X-Forwarded-For like nginx's proxy_set_header, passes the
// gateway's X-Forwarded-Proto/-Host/-Prefix through unchanged and adds the
// storage service's CORS headers to every response.
//
// It is a lean HTTP/1.1 forwarder built on internal/h1 rather than on
// net/http: one goroutine per client connection reads a request, forwards
// it on a pooled keep-alive connection to the app and streams the response
// back, with no per-request goroutines or header maps. The exchange runs
// on h1.Forwarder, the core the gateway shares; the sidecar adds its heads
// and nginx's error pages (exchange.go). Messages are checked
// as strictly as nginx checks them (see package h1) and re-framed on the
// way through, so the client, the sidecar and the app cannot disagree on
// where a message ends.
package sidecar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/portway/portway/internal/h1"
)

// Sidecar is a running (or ready to run) nginx-style proxy.
type Sidecar struct {
	cfg  Config
	log  *slog.Logger
	pool *h1.Pool
	fw   h1.Forwarder
	srv  *h1.Server
	// serverLine is the Server field as written ("Server: nginx\r\n"), or
	// "" for none.
	serverLine string

	mu      sync.Mutex
	ln      net.Listener
	stopped bool
	served  chan struct{} // closed when Serve returns
}

// New validates cfg and builds a Sidecar; nothing is bound until Start.
func New(cfg Config) (*Sidecar, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sidecar: invalid config: %w", err)
	}
	cfg = cfg.withDefaults()
	upstream, _ := url.Parse(cfg.Upstream) // validated above
	addr := upstream.Host
	if upstream.Port() == "" {
		addr = net.JoinHostPort(upstream.Hostname(), "80")
	}
	s := &Sidecar{
		cfg:  cfg,
		log:  cfg.Logger,
		pool: &h1.Pool{Addr: addr, DialTimeout: cfg.ConnectTimeout, MaxIdle: 128, IdleTimeout: upstreamIdleTimeout},
		// proxy_send_timeout and proxy_read_timeout: the app must take the
		// request, start answering and send its answer within
		// UpstreamTimeout each; client_body_timeout for the client's body.
		fw: h1.Forwarder{MaxBodyBytes: cfg.MaxBodyBytes, MaxResponseHead: cfg.MaxHeaderBytes, BodyTimeout: cfg.ReadTimeout, UpstreamTimeout: cfg.UpstreamTimeout},
	}
	if cfg.ServerHeader != "" {
		s.serverLine = "Server: " + cfg.ServerHeader + "\r\n"
	}
	s.srv = &h1.Server{
		Handle:            s.exchange,
		BadRequest:        s.badRequest,
		Panic:             s.panicked,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		IdleTimeout:       cfg.IdleTimeout,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		Logger:            cfg.Logger,
	}
	return s, nil
}

// upstreamIdleTimeout is how long an idle upstream connection is reused:
// shorter than the app's own keep-alive (120 s), so the sidecar, not the
// app, closes it.
const upstreamIdleTimeout = 50 * time.Second

// Start binds the listener and serves in the background. A busy address is an
// error naming it, and nothing is left listening.
func (s *Sidecar) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sidecar: start: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil || s.stopped {
		return errors.New("sidecar: already started")
	}
	// No TCP keep-alive probes on client connections (nginx sets none
	// either): the idle timeout closes them, and accepting saves the
	// setsockopt calls.
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("sidecar: listen %s: %w", s.cfg.Listen, err)
	}
	if s.cfg.ProxyProtocol {
		ln = ProxyListener(ln, s.cfg.ProxyHeaderTimeout, s.log)
	}
	s.ln = ln
	s.served = make(chan struct{})
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(ln)
	}()
	s.log.Info("sidecar listening", "addr", ln.Addr().String(), "upstream", s.cfg.Upstream, "proxyProtocol", s.cfg.ProxyProtocol)
	return nil
}

// Addr is the bound address ("ip:port"); empty before Start.
func (s *Sidecar) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Stop stops accepting, closes idle connections, lets requests in flight
// finish until ctx ends, then closes whatever is left.
func (s *Sidecar) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.ln == nil || s.stopped {
		s.stopped = true
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	ln := s.ln
	s.mu.Unlock()

	ln.Close()
	<-s.served
	err := s.srv.Shutdown(ctx)
	s.pool.Close()
	if err != nil {
		return fmt.Errorf("sidecar: shutdown: %w", err)
	}
	return nil
}
