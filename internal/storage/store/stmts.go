package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// The hot read queries: what GET /ingests/{id} and GET /bags/… run. They
// are prepared once per Store (readStmts) rather than parsed per request.
// Each must be a single statement with nothing after it, so that the SQLite
// driver keeps the compiled statement and only resets it between uses.
const (
	getIngestSQL = `SELECT ` + ingestColumns + ` FROM ingests WHERE id = ?`

	latestManifestSQL = `SELECT ` + manifestColumns + ` FROM storage_manifests
		WHERE space = ? AND external_identifier = ? ORDER BY version DESC LIMIT 1`

	manifestVersionSQL = `SELECT ` + manifestColumns + ` FROM storage_manifests
		WHERE space = ? AND external_identifier = ? AND version = ?`

	listVersionsSQL = `SELECT version, created_date FROM storage_manifests
		WHERE space = ? AND external_identifier = ? ORDER BY version DESC`

	listVersionsBeforeSQL = `SELECT version, created_date FROM storage_manifests
		WHERE space = ? AND external_identifier = ? AND version < ? ORDER BY version DESC`
)

// readStmt is one hot read: its SQL (with ? placeholders) and, once
// prepared on the read pool, its statement. A nil stmt runs the SQL ad hoc.
type readStmt struct {
	name string
	sql  string
	stmt *sql.Stmt
}

// readStmts are a Store's prepared hot reads. *sql.Stmt is safe for
// concurrent use; database/sql prepares it again on each pool connection
// that runs it (and drops it with the connection).
type readStmts struct {
	getIngest          readStmt
	latestManifest     readStmt
	manifestVersion    readStmt
	listVersions       readStmt
	listVersionsBefore readStmt
}

func newReadStmts() *readStmts {
	return &readStmts{
		getIngest:          readStmt{name: "get ingest", sql: getIngestSQL},
		latestManifest:     readStmt{name: "latest storage manifest", sql: latestManifestSQL},
		manifestVersion:    readStmt{name: "storage manifest version", sql: manifestVersionSQL},
		listVersions:       readStmt{name: "list versions", sql: listVersionsSQL},
		listVersionsBefore: readStmt{name: "list versions before", sql: listVersionsBeforeSQL},
	}
}

func (rs *readStmts) all() []*readStmt {
	return []*readStmt{&rs.getIngest, &rs.latestManifest, &rs.manifestVersion, &rs.listVersions, &rs.listVersionsBefore}
}

// prepare prepares every statement on d, rebound for its dialect. On
// failure the ones already prepared are closed.
func (rs *readStmts) prepare(ctx context.Context, d db) error {
	for _, r := range rs.all() {
		st, err := d.DB.PrepareContext(ctx, d.d.rebind(r.sql))
		if err != nil {
			rs.close()
			return fmt.Errorf("prepare %s query: %w", r.name, err)
		}
		r.stmt = st
	}
	return nil
}

// close closes the prepared statements. It leaves them in place, so that
// a read racing Close fails as one on a closed pool would; closing twice is
// harmless.
func (rs *readStmts) close() error {
	var errs []error
	for _, r := range rs.all() {
		if r.stmt != nil {
			if err := r.stmt.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close %s statement: %w", r.name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// queryRow runs r's query on the read pool.
func (d db) queryRow(ctx context.Context, r *readStmt, args ...any) *sql.Row {
	if r.stmt != nil {
		return r.stmt.QueryRowContext(ctx, args...)
	}
	return d.QueryRowContext(ctx, r.sql, args...)
}

// query runs r's query on the read pool.
func (d db) query(ctx context.Context, r *readStmt, args ...any) (*sql.Rows, error) {
	if r.stmt != nil {
		return r.stmt.QueryContext(ctx, args...)
	}
	return d.QueryContext(ctx, r.sql, args...)
}
