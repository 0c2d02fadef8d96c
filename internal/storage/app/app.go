package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/portway/portway/internal/storage/api"
	"github.com/portway/portway/internal/storage/bags"
	"github.com/portway/portway/internal/storage/ingests"
	"github.com/portway/portway/internal/storage/store"
	"github.com/portway/portway/internal/storage/worker"
)

// Server limits. IdleTimeout is longer than any sane proxy keep-alive in
// front of the app (the sidecar must close idle upstream connections
// first, or a reused connection can race the app closing it).
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
)

type state int

const (
	stateNew state = iota
	stateRunning
	stateStopped
)

// App is one bags or ingests app: an HTTP server over the shared store.
type App struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	state  state
	store  *store.Store
	worker *worker.Worker // ingests apps only
	srv    *http.Server
	addr   string
	done   chan struct{} // closed when Serve returns

	wrapHandler func(http.Handler) http.Handler // tests only
}

// New validates cfg and returns an App that is not yet running.
func New(cfg Config) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("app: invalid config: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &App{cfg: cfg, log: cfg.Logger.With("app", cfg.Kind)}, nil
}

// Start opens the store (creating or migrating its schema), binds the
// listener and starts serving. ctx bounds the start-up only. On failure
// nothing is left open or listening.
func (a *App) Start(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.state != stateNew {
		return errors.New("app: Start called twice")
	}
	st, err := store.OpenDSN(ctx, a.cfg.storeDSN(), store.Options{Now: a.cfg.Now})
	if err != nil {
		return fmt.Errorf("app %s: %w", a.cfg.Kind, err)
	}
	var wk *worker.Worker
	if a.cfg.Kind == KindIngests && a.cfg.WorkerConcurrency >= 0 {
		dir := a.cfg.stateDir()
		wk, err = worker.New(worker.Config{
			Store: st, BucketsDir: filepath.Join(dir, "buckets"), StorageDir: filepath.Join(dir, "storage"),
			WorkDir: filepath.Join(dir, "work"), Concurrency: a.cfg.WorkerConcurrency,
			PollInterval: a.cfg.PollInterval, LeaseDuration: a.cfg.LeaseDuration,
			Callbacks: a.cfg.Callbacks, Logger: a.log, Now: a.cfg.Now,
		})
		if err != nil {
			st.Close()
			return fmt.Errorf("app %s: %w", a.cfg.Kind, err)
		}
	}
	h, err := a.handler(st, wk)
	if err != nil {
		st.Close()
		return fmt.Errorf("app %s: %w", a.cfg.Kind, err)
	}
	if a.wrapHandler != nil {
		h = a.wrapHandler(h)
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", a.cfg.Listen)
	if err != nil {
		st.Close()
		return fmt.Errorf("app %s: listen on %s: %w", a.cfg.Kind, a.cfg.Listen, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	if wk != nil {
		if err := wk.Start(ctx); err != nil {
			ln.Close()
			st.Close()
			return fmt.Errorf("app %s: %w", a.cfg.Kind, err)
		}
	}
	a.store, a.worker, a.srv, a.addr, a.done = st, wk, srv, ln.Addr().String(), make(chan struct{})
	a.state = stateRunning
	go func() {
		defer close(a.done)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("server stopped", "err", err)
		}
	}()
	where := st.Path()
	if where == "" {
		where = store.RedactDSN(a.cfg.storeDSN())
	}
	a.log.Info("app listening", "addr", a.addr, "store", st.Backend(), "db", where)
	return nil
}

// Stop stops accepting connections, waits (bounded by ctx; then the
// remaining connections are cut) for requests in flight, then closes the
// store. Calling it again, or before Start, is a no-op.
func (a *App) Stop(ctx context.Context) error {
	a.mu.Lock()
	if a.state != stateRunning {
		a.state = stateStopped
		a.mu.Unlock()
		return nil
	}
	a.state = stateStopped
	srv, st, wk, done := a.srv, a.store, a.worker, a.done
	a.mu.Unlock()

	err := srv.Shutdown(ctx)
	if err != nil {
		err = fmt.Errorf("app %s: shutdown: %w", a.cfg.Kind, err)
		_ = srv.Close() // ctx expired: cut the remaining connections
	}
	<-done
	if wk != nil {
		// Work in progress is cancelled and its leases released, so that
		// another task resumes it at once.
		if werr := wk.Stop(ctx); werr != nil {
			err = errors.Join(err, fmt.Errorf("app %s: %w", a.cfg.Kind, werr))
		}
	}
	if cerr := st.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("app %s: close store: %w", a.cfg.Kind, cerr))
	}
	a.log.Info("app stopped", "addr", a.Addr())
	return err
}

// Addr is the bound listen address ("127.0.0.1:9001"), "" before Start.
func (a *App) Addr() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.addr
}

// URL is "http://" + Addr(), "" before Start.
func (a *App) URL() string {
	if addr := a.Addr(); addr != "" {
		return "http://" + addr
	}
	return ""
}

// handler routes the health check and the kind's API; anything else is a
// 404 in the service's error shape.
func (a *App) handler(st *store.Store, wk *worker.Worker) (http.Handler, error) {
	var (
		kindHandler http.Handler
		owns        func(path string) bool
	)
	switch a.cfg.Kind {
	case KindBags:
		h, err := bags.NewHandler(bags.Config{Store: st, Logger: a.log})
		if err != nil {
			return nil, err
		}
		kindHandler = h
		owns = func(p string) bool { return strings.HasPrefix(p, "/bags/") }
	case KindIngests:
		cfg := ingests.Config{Store: st, Logger: a.log, Now: a.cfg.Now}
		if wk != nil {
			cfg.OnCreate = func(uuid.UUID) { wk.Wake() }
		}
		h, err := ingests.NewHandler(cfg)
		if err != nil {
			return nil, err
		}
		kindHandler = h
		owns = func(p string) bool { return p == "/ingests" || strings.HasPrefix(p, "/ingests/") }
	default:
		return nil, fmt.Errorf("unknown kind %q", a.cfg.Kind)
	}
	root := func(w http.ResponseWriter, r *http.Request) error {
		p := r.URL.EscapedPath()
		switch {
		case p == api.HealthcheckPath:
			return api.Healthcheck(w, r)
		case owns(p):
			kindHandler.ServeHTTP(w, r)
			return nil
		}
		return api.ResourceNotFound()
	}
	return api.Traced(a.cfg.Traces, api.AccessLog(a.log, api.Handle(a.log, root))), nil
}
