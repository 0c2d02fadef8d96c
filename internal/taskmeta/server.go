package taskmeta

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// DefaultListen is where the Server listens for host-process containers.
const DefaultListen = "127.0.0.1:0"

// Source looks up the container a token was issued to. It reports the
// task's document and the container's name in it; ok is false for a token
// it does not know (any more).
type Source interface {
	Metadata(token string) (task Task, container string, ok bool)
}

// Config configures a Server.
type Config struct {
	// Listen is a loopback host:port (default DefaultListen).
	Listen string
	Source Source
	Logger *slog.Logger
}

// Validate checks the config.
func (c Config) Validate() error {
	if c.Source == nil {
		return errors.New("source: required")
	}
	if c.Listen == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return fmt.Errorf("listen: %q is not a loopback IP address", host)
	}
	return nil
}

// Server serves the task metadata endpoint.
type Server struct {
	cfg  Config
	log  *slog.Logger
	srv  *http.Server
	mu   sync.Mutex
	ln   net.Listener // the Server's own, once started
	wg   sync.WaitGroup
	done bool
}

// New validates cfg and builds a Server; nothing listens until Start.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("taskmeta: invalid config: %w", err)
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: cfg.Logger}
	s.srv = &http.Server{
		Handler:           Handler(cfg.Source),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// Start binds the Server's own listener.
func (s *Server) Start(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("taskmeta: %w", err)
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	s.Serve(ln)
	s.log.Info("task metadata endpoint listening", "addr", ln.Addr().String())
	return nil
}

// Serve serves ln too (until Stop, or until ln is closed). A listener
// given after Stop is closed at once.
func (s *Server) Serve(ln net.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		ln.Close()
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			s.log.Warn("task metadata listener failed", "addr", ln.Addr().String(), "err", err)
		}
	}()
}

// Addr is the Server's own listener's host:port ("" before Start).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// URI is a container's version 4 URI on the Server's own listener.
func (s *Server) URI(token string) string { return URI(s.Addr(), "v4", token) }

// Stop closes every listener and waits for open requests (until ctx ends).
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.done = true
	s.mu.Unlock()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	s.wg.Wait()
	if err != nil {
		return fmt.Errorf("taskmeta: stop: %w", err)
	}
	return nil
}

// URI is the metadata URI of the container holding token, served on the
// listener at addr (host:port): "http://ADDR/v4/TOKEN" (version "v4") or
// "http://ADDR/v3/TOKEN" ("v3").
func URI(addr, version, token string) string {
	return "http://" + addr + "/" + version + "/" + token
}

// NewToken returns a fresh container token: 32 hex digits.
func NewToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics rather)
	return hex.EncodeToString(b[:])
}

// Handler serves the documents of src:
//
//	GET /{v3,v4}/TOKEN             the container's metadata
//	GET /{v3,v4}/TOKEN/task        the task's metadata
//	GET /{v3,v4}/TOKEN/stats       501: portway keeps no Docker stats
//	GET /{v3,v4}/TOKEN/task/stats  501
//
// An unknown token is 404; only GET and HEAD are allowed.
func Handler(src Source) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := serve(src, w, r); err != nil {
			var he *httpError
			if !errors.As(err, &he) {
				he = &httpError{http.StatusInternalServerError, "internal error"}
			}
			writeJSON(w, he.status, map[string]string{"error": he.msg})
		}
	})
}

type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func serve(src Source, w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		return &httpError{http.StatusMethodNotAllowed, "method not allowed"}
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if len(parts) < 2 || (parts[0] != "v3" && parts[0] != "v4") || len(parts[1]) != 32 {
		return &httpError{http.StatusNotFound, "not found"}
	}
	task, name, ok := src.Metadata(parts[1])
	if !ok {
		return &httpError{http.StatusNotFound, "unknown container: the task may have stopped"}
	}
	switch rest := strings.Join(parts[2:], "/"); rest {
	case "":
		for _, c := range task.Containers {
			if c.Name == name {
				writeJSON(w, http.StatusOK, c)
				return nil
			}
		}
		return &httpError{http.StatusNotFound, "unknown container"}
	case "task":
		writeJSON(w, http.StatusOK, task)
		return nil
	case "stats", "task/stats":
		return &httpError{http.StatusNotImplemented, "portway does not report container statistics"}
	default:
		return &httpError{http.StatusNotFound, "not found"}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
