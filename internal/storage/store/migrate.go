package store

import (
	"context"
	"fmt"
	"time"

	"github.com/portway/portway/internal/storage/model"
)

// migrations are applied in order; migrations[i] takes the schema from
// version i to i+1. Never edit one that has shipped: append a new one.
var migrations = []string{
	// 1: ingests and storage manifests.
	`CREATE TABLE ingests (
		id                  TEXT PRIMARY KEY,
		space               TEXT NOT NULL,
		external_identifier TEXT NOT NULL,
		ingest_type         TEXT NOT NULL CHECK (ingest_type IN ('create', 'update')),
		version             INTEGER CHECK (version IS NULL OR version > 0),
		source_provider     TEXT NOT NULL,
		source_bucket       TEXT NOT NULL,
		source_path         TEXT NOT NULL,
		callback_url        TEXT,
		callback_status     TEXT CHECK (callback_status IN ('pending', 'processing', 'succeeded', 'failed')),
		status              TEXT NOT NULL CHECK (status IN ('accepted', 'processing', 'succeeded', 'failed')),
		events_json         TEXT NOT NULL DEFAULT '[]',
		created_date        TEXT NOT NULL,
		modified_date       TEXT NOT NULL,
		CHECK ((callback_url IS NULL) = (callback_status IS NULL))
	);
	CREATE INDEX ingests_by_status ON ingests (status, created_date);
	CREATE INDEX ingests_by_bag ON ingests (space, external_identifier, created_date);
	CREATE TABLE storage_manifests (
		space               TEXT NOT NULL,
		external_identifier TEXT NOT NULL,
		version             INTEGER NOT NULL CHECK (version > 0),
		created_date        TEXT NOT NULL,
		ingest_id           TEXT REFERENCES ingests (id),
		manifest_json       TEXT NOT NULL,
		PRIMARY KEY (space, external_identifier, version)
	) WITHOUT ROWID;
	CREATE INDEX storage_manifests_by_ingest ON storage_manifests (ingest_id) WHERE ingest_id IS NOT NULL;`,
	// 2: leases for the ingest workers. An ingest is claimable while work
	// remains (status accepted or processing, or a callback to send) and
	// nobody holds an unexpired lease on it.
	`ALTER TABLE ingests ADD COLUMN lease_owner TEXT;
	ALTER TABLE ingests ADD COLUMN lease_expiry TEXT;
	CREATE INDEX ingests_pending_callbacks ON ingests (callback_status, created_date)
		WHERE callback_status IN ('pending', 'processing');`,
}

// SchemaVersion is the schema version this binary writes.
func SchemaVersion() int { return len(migrations) }

// migrate brings the schema up to date in one write transaction, so that
// processes opening the same new file at once apply each migration once:
// the first takes the write lock, the others wait and then find nothing
// left to do.
func migrate(ctx context.Context, w db, now func() time.Time) error {
	migrations := w.d.migrations
	return w.writeTx(ctx, func(tx *txn) error {
		if err := w.d.lockMigrations(ctx, tx); err != nil {
			return fmt.Errorf("lock schema: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
			version      INTEGER PRIMARY KEY,
			applied_date TEXT NOT NULL
		)`); err != nil {
			return fmt.Errorf("create schema_version: %w", err)
		}
		var cur int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&cur); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if cur > len(migrations) {
			return fmt.Errorf("database schema version %d is newer than this binary supports (%d)", cur, len(migrations))
		}
		for v := cur; v < len(migrations); v++ {
			if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
				return fmt.Errorf("migration %d: %w", v+1, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version, applied_date) VALUES (?, ?)`,
				v+1, model.FormatTime(now())); err != nil {
				return fmt.Errorf("record migration %d: %w", v+1, err)
			}
		}
		return nil
	})
}
