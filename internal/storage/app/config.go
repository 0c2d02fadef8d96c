// Package app is the entry point of the storage service's two apps, the
// bags API and the ingests API: one HTTP server over the shared store.
//
// Layout of internal/storage:
//
//	model    domain types (ingests, bag versions, manifests), identifier
//	         rules, sentinel errors; no HTTP or SQL
//	store    the store: SQLite (modernc.org/sqlite, WAL, migrations), safe
//	         for several processes on one file, or PostgreSQL (pgx) for
//	         several hosts; leases for the ingest workers
//	bagit    safe tar.gz unpacking and BagIt verification
//	worker   the ingests app's worker: claim under a lease, unpack, verify,
//	         assign a version, copy to storage, register, call back
//	bagtest  test helper: generated BagIt bags, valid or broken
//	api      shared HTTP pieces: *api.Error, the one error→response place,
//	         JSON writing, public URLs from X-Forwarded-*, health check
//	ingests  POST /ingests, GET /ingests/{id}
//	bags     GET /bags/{space}/{id}[?version=vN], …/versions[?before=vN]
//	app      Config, lifecycle, routing per kind
//
// Where the real service and the brief differ, the app follows the real
// service: a missing field is "Invalid value at .x: required property not
// supplied.", and ?version= that is not vN is a 404 naming it (?before= that
// is not vN is a 400 "Cannot parse version string: …").
package app

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/portway/portway/internal/egress"
	"github.com/portway/portway/internal/storage/api"
	"github.com/portway/portway/internal/storage/store"
)

// The app kinds.
const (
	KindBags    = "bags"
	KindIngests = "ingests"
)

// Config configures an App.
type Config struct {
	Kind   string // "bags" | "ingests"
	Listen string // host:port; port 0 picks a free port
	DBPath string // SQLite file shared by every task of both services
	// Store, if set, is the store instead of DBPath: a PostgreSQL URL
	// (postgres://user:pass@host/db) or a SQLite file path.
	Store string
	// StateDir holds buckets/{bucket}/{path} (ingest sources), storage/
	// (stored bags) and work/ (scratch). Default: DBPath's directory.
	StateDir string
	// Ingest worker (ingests apps only). WorkerConcurrency is how many
	// ingests one app works on at once: 0 means the default (2), a
	// negative value runs no worker. Zero durations mean the worker's
	// defaults (poll 1s, lease 1m).
	WorkerConcurrency int
	PollInterval      time.Duration
	LeaseDuration     time.Duration
	// Callbacks is the address policy of the worker's callbacks (see
	// package egress): Allow lists the CIDRs whose loopback and private
	// addresses may be called back, Deny the addresses of the stack the
	// app runs in. The zero value allows public addresses only.
	Callbacks egress.Config

	// Traces, when set, gets the app's hop of every request that carries
	// an X-Amzn-Trace-Id (trace.Reporter); nil: not recorded.
	Traces api.HopRecorder

	Logger *slog.Logger
	Now    func() time.Time
}

// stateDir is StateDir or its default.
func (c Config) stateDir() string {
	if c.StateDir != "" {
		return c.StateDir
	}
	if c.DBPath != "" {
		return filepath.Dir(c.DBPath)
	}
	if c.Store != "" && !store.IsPostgresDSN(c.Store) {
		return filepath.Dir(c.Store)
	}
	return ""
}

// storeDSN is what store.OpenDSN opens.
func (c Config) storeDSN() string {
	if c.Store != "" {
		return c.Store
	}
	return c.DBPath
}

// Validate reports every invalid field, each error naming its field.
func (c Config) Validate() error {
	var errs []error
	if c.Kind != KindBags && c.Kind != KindIngests {
		errs = append(errs, fmt.Errorf("kind: must be %q or %q, got %q", KindBags, KindIngests, c.Kind))
	}
	if c.Listen == "" {
		errs = append(errs, errors.New("listen: must not be empty"))
	} else if _, port, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen: must be host:port: %w", err))
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		errs = append(errs, fmt.Errorf("listen: port %q must be a number from 0 to 65535", port))
	}
	switch {
	case c.DBPath == "" && c.Store == "":
		errs = append(errs, errors.New("dbPath: must not be empty (or set store)"))
	case c.DBPath != "" && badPath(c.DBPath):
		errs = append(errs, fmt.Errorf("dbPath: must be a plain file path, got %q", c.DBPath))
	}
	if c.Store != "" && !store.IsPostgresDSN(c.Store) && badPath(c.Store) {
		errs = append(errs, errors.New("store: must be a postgres:// URL or a plain file path"))
	}
	if c.Kind == KindIngests && c.stateDir() == "" {
		errs = append(errs, errors.New("stateDir: must be set when the store is not a SQLite file"))
	}
	if c.PollInterval < 0 {
		errs = append(errs, fmt.Errorf("pollInterval: must not be negative, got %s", c.PollInterval))
	}
	if c.LeaseDuration < 0 {
		errs = append(errs, fmt.Errorf("leaseDuration: must not be negative, got %s", c.LeaseDuration))
	}
	if err := c.Callbacks.Validate(); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			errs = append(errs, errors.New("callbacks."+line))
		}
	}
	return errors.Join(errs...)
}

func badPath(p string) bool {
	return strings.Contains(p, "?") || p == ":memory:" || strings.HasPrefix(p, "file:")
}
