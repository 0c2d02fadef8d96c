// Package app is the entry point of the storage service's two apps, the
// bags API and the ingests API: one HTTP server over the shared store.
//
// Layout of internal/storage:
//
//	model    domain types (ingests, bag versions, manifests), identifier
//	         rules, sentinel errors; no HTTP or SQL
//	store    SQLite store (modernc.org/sqlite, WAL, migrations), safe for
//	         several processes on one file
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
	"strconv"
	"strings"
	"time"
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
	Logger *slog.Logger
	Now    func() time.Time
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
	case c.DBPath == "":
		errs = append(errs, errors.New("dbPath: must not be empty"))
	case strings.Contains(c.DBPath, "?") || c.DBPath == ":memory:" || strings.HasPrefix(c.DBPath, "file:"):
		errs = append(errs, fmt.Errorf("dbPath: must be a plain file path, got %q", c.DBPath))
	}
	return errors.Join(errs...)
}
