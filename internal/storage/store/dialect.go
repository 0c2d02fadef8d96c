package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// dialect is what differs between the SQLite and PostgreSQL stores. The
// SQL is otherwise shared: it is written with ? placeholders and rebound.
type dialect struct {
	name string
	// numbered placeholders ($1, $2, …) instead of ?
	numbered bool
	// forUpdate is appended to a SELECT whose rows the transaction then
	// writes. SQLite needs none: BEGIN IMMEDIATE holds the write lock.
	forUpdate string
	// skipLocked is appended to the claim query so that concurrent
	// claimers pass over rows another transaction is claiming.
	skipLocked string
	// lockBag serialises version assignment for one bag.
	lockBag func(ctx context.Context, tx *txn, space, externalIdentifier string) error
	// lockMigrations serialises schema migration across processes.
	lockMigrations func(ctx context.Context, tx *txn) error
	migrations     []string
}

var sqliteDialect = &dialect{
	name:           "sqlite",
	lockBag:        func(context.Context, *txn, string, string) error { return nil },
	lockMigrations: func(context.Context, *txn) error { return nil },
	migrations:     migrations,
}

var postgresDialect = &dialect{
	name:       "postgres",
	numbered:   true,
	forUpdate:  " FOR UPDATE",
	skipLocked: " FOR UPDATE SKIP LOCKED",
	lockBag: func(ctx context.Context, tx *txn, space, ext string) error {
		_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext(?))`, space+"/"+ext)
		return err
	},
	lockMigrations: func(ctx context.Context, tx *txn) error {
		_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7736580)`) // "portway"
		return err
	},
	migrations: pgMigrations(),
}

// pgMigrations are the SQLite migrations with SQLite-only clauses dropped.
func pgMigrations() []string {
	out := make([]string, len(migrations))
	for i, m := range migrations {
		out[i] = strings.ReplaceAll(m, "WITHOUT ROWID", "")
	}
	return out
}

// rebind turns ? placeholders into $1, $2, … for PostgreSQL. The store's
// SQL has no ? inside string literals.
func (d *dialect) rebind(q string) string {
	if !d.numbered || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// db is a pool whose queries are rebound for its dialect.
type db struct {
	*sql.DB
	d *dialect
}

func (d db) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return d.DB.ExecContext(ctx, d.d.rebind(q), args...)
}

func (d db) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return d.DB.QueryRowContext(ctx, d.d.rebind(q), args...)
}

func (d db) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return d.DB.QueryContext(ctx, d.d.rebind(q), args...)
}

// txn is a transaction whose queries are rebound for its dialect.
type txn struct {
	tx *sql.Tx
	d  *dialect
}

func (t *txn) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, t.d.rebind(q), args...)
}

func (t *txn) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.d.rebind(q), args...)
}

func (t *txn) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, t.d.rebind(q), args...)
}

func (t *txn) Commit() error   { return t.tx.Commit() }
func (t *txn) Rollback() error { return t.tx.Rollback() }

// pgCode returns the SQLSTATE of a PostgreSQL error, or "".
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}
