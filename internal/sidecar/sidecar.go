package sidecar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// Sidecar is a running (or ready to run) nginx-style proxy.
type Sidecar struct {
	cfg       Config
	log       *slog.Logger
	transport *http.Transport
	proxy     *httputil.ReverseProxy
	srv       *http.Server

	mu      sync.Mutex
	ln      net.Listener
	serveCh chan error
}

// New validates cfg and builds a Sidecar; nothing is bound until Start.
func New(cfg Config) (*Sidecar, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sidecar: invalid config: %w", err)
	}
	cfg = cfg.withDefaults()
	upstream, _ := url.Parse(cfg.Upstream) // validated above
	s := &Sidecar{cfg: cfg, log: cfg.Logger, transport: newTransport(cfg)}
	s.proxy = newProxy(cfg, upstream, s.transport)
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// ServeHTTP proxies one request (exposed so the sidecar can be mounted in tests
// or behind another listener).
func (s *Sidecar) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		s.log.Info("access", "remote", clientIP(r), "method", r.Method, "path", r.URL.Path,
			"status", sw.code(), "bytes", sw.bytes, "duration", time.Since(start))
	}()
	if r.ContentLength > s.cfg.MaxBodyBytes {
		writeError(sw, http.StatusRequestEntityTooLarge)
		return
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(sw, r.Body, s.cfg.MaxBodyBytes)
	}
	s.proxy.ServeHTTP(sw, r)
}

// Start binds the listener and serves in the background. A busy address is an
// error naming it, and nothing is left listening.
func (s *Sidecar) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sidecar: start: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return errors.New("sidecar: already started")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("sidecar: listen %s: %w", s.cfg.Listen, err)
	}
	if s.cfg.ProxyProtocol {
		ln = ProxyListener(ln, s.cfg.ProxyHeaderTimeout, s.log)
	}
	s.ln = ln
	s.serveCh = make(chan error, 1)
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.serveCh <- err
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

// Stop stops accepting, lets in-flight requests finish until ctx ends, then
// closes whatever is left.
func (s *Sidecar) Stop(ctx context.Context) error {
	s.mu.Lock()
	started := s.ln != nil
	serveCh := s.serveCh
	s.mu.Unlock()
	if !started {
		return nil
	}
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
		err = fmt.Errorf("sidecar: shutdown: %w", err)
	}
	s.transport.CloseIdleConnections()
	if serr := <-serveCh; serr != nil && err == nil {
		err = fmt.Errorf("sidecar: serve: %w", serr)
	}
	serveCh <- nil // let a second Stop return at once
	return err
}

// statusWriter records the status and size for the access log. Unwrap lets
// http.ResponseController (used by ReverseProxy) reach Flush and Hijack.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}
