package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// IsPostgresDSN reports whether s is a PostgreSQL connection URL.
func IsPostgresDSN(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// OpenDSN opens a PostgreSQL store for a postgres:// or postgresql:// URL
// and a SQLite store for anything else, taken as a file path.
func OpenDSN(ctx context.Context, dsn string, opts Options) (*Store, error) {
	if IsPostgresDSN(dsn) {
		return OpenPostgres(ctx, dsn, opts)
	}
	return Open(ctx, dsn, opts)
}

// RedactDSN returns dsn with its password replaced, for logs and errors.
func RedactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://…"
	}
	return u.Redacted()
}

// OpenPostgres connects to PostgreSQL and brings the schema up to date.
// Every host's tasks may share one server: writes are transactions that
// lock the rows they change, and migrations take an advisory lock.
func OpenPostgres(ctx context.Context, dsn string, opts Options) (*Store, error) {
	if !IsPostgresDSN(dsn) {
		return nil, errors.New("store: a PostgreSQL DSN must start with postgres:// or postgresql://")
	}
	shown := RedactDSN(dsn)
	if opts.MaxReadConns <= 0 {
		opts.MaxReadConns = 4
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	p, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", shown, redactErr(err, dsn))
	}
	p.SetMaxOpenConns(opts.MaxReadConns + 4)
	p.SetMaxIdleConns(opts.MaxReadConns + 4)
	p.SetConnMaxIdleTime(5 * time.Minute)
	s := &Store{d: postgresDialect, r: db{p, postgresDialect}, w: db{p, postgresDialect}, reads: newReadStmts()}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := p.PingContext(pctx); err != nil {
		p.Close()
		return nil, fmt.Errorf("store: connect to %s: %w", shown, redactErr(err, dsn))
	}
	if err := migrate(pctx, s.w, opts.Now); err != nil {
		p.Close()
		return nil, fmt.Errorf("store: %s: %w", shown, err)
	}
	if err := s.reads.prepare(pctx, s.r); err != nil {
		p.Close()
		return nil, fmt.Errorf("store: %s: %w", shown, redactErr(err, dsn))
	}
	return s, nil
}

// redactErr keeps a password in the DSN out of an error message.
func redactErr(err error, dsn string) error {
	u, perr := url.Parse(dsn)
	if perr != nil || u.User == nil {
		return err
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" || !strings.Contains(err.Error(), pw) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), pw, "xxxxx"))
}
