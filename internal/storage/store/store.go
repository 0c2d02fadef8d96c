// Package store is the storage service's SQLite store: ingests and storage
// manifests in one database file that several processes (every bags and
// ingests task) open at the same time.
//
// Concurrency model: the file is in WAL mode, so readers never block the
// writer and vice versa. Each Store has a read pool and a single write
// connection; every write is one BEGIN IMMEDIATE transaction, which takes
// the database's write lock up front (no deadlock-prone lock upgrades), and
// writers in other processes wait for it for up to the busy timeout.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/portway/portway/internal/storage/model"
)

// Errors callers can test with errors.Is; they are the model's sentinels.
var (
	ErrNotFound = model.ErrNotFound
	ErrConflict = model.ErrConflict
)

// Options tune a Store. The zero value is usable.
type Options struct {
	// BusyTimeout is how long a write waits for another connection's (or
	// process's) write lock before failing. Default 5s.
	BusyTimeout time.Duration
	// MaxReadConns bounds the read pool. Default 4.
	MaxReadConns int
	// Now stamps schema migrations. Default time.Now.
	Now func() time.Time
}

// Store is safe for concurrent use, also by several processes on one file
// (SQLite) or several hosts on one server (PostgreSQL).
type Store struct {
	path string // SQLite file; "" for PostgreSQL
	d    *dialect
	r    db // read pool
	w    db // SQLite: one connection, all writes serialised in-process; PostgreSQL: r
	// reads are the hot read queries, prepared on r once.
	reads *readStmts
}

// Open opens (creating if needed) the database at path and brings its
// schema up to date.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("store: path must not be empty")
	}
	if strings.Contains(path, "?") || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("store: path %q: must be a plain file path", path)
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 5 * time.Second
	}
	if opts.MaxReadConns <= 0 {
		opts.MaxReadConns = 4
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("store: create directory for %s: %w", path, err)
		}
	}
	dsn := path + "?" + dsnQuery(opts.BusyTimeout)
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", dsn)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(opts.MaxReadConns)
	r.SetMaxIdleConns(opts.MaxReadConns)
	s := &Store{path: path, d: sqliteDialect, r: db{r, sqliteDialect}, w: db{w, sqliteDialect}, reads: newReadStmts()}
	if err := migrate(ctx, s.w, opts.Now); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	// After migrating: the statements name the current schema's tables.
	if err := s.reads.prepare(ctx, s.r); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	return s, nil
}

// dsnQuery holds the per-connection settings. busy_timeout is applied
// first by the driver, so that switching to WAL waits for other processes.
func dsnQuery(busy time.Duration) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(busy.Milliseconds(), 10)+")")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)") // a 201 means the ingest is on disk
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	return q.Encode()
}

// Path is the database file ("" for PostgreSQL).
func (s *Store) Path() string { return s.path }

// Backend is "sqlite" or "postgres".
func (s *Store) Backend() string { return s.d.name }

// Close closes the prepared statements and both pools.
func (s *Store) Close() error {
	err := s.reads.close()
	if s.r.DB == s.w.DB {
		return errors.Join(err, s.r.Close())
	}
	return errors.Join(err, s.r.Close(), s.w.Close())
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var n int
	if err := s.r.QueryRowContext(ctx, "SELECT 1").Scan(&n); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// writeTx runs fn in one write transaction and commits it; any error
// rolls it back. On SQLite that is BEGIN IMMEDIATE on the write
// connection; on PostgreSQL a READ COMMITTED transaction whose reads that
// precede writes lock their rows (dialect.forUpdate).
func (s *Store) writeTx(ctx context.Context, fn func(*txn) error) error {
	return s.w.writeTx(ctx, fn)
}

func (d db) writeTx(ctx context.Context, fn func(*txn) error) error {
	tx, err := d.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(&txn{tx, d.d}); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// sqliteCode returns the extended result code of a driver error, or 0.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

func isUniqueViolation(err error) bool {
	switch sqliteCode(err) {
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return true
	}
	return pgCode(err) == "23505"
}

func isForeignKeyViolation(err error) bool {
	return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY || pgCode(err) == "23503"
}
