package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/portway/portway/internal/storage/model"
)

// ErrLeaseLost is returned by the leased operations when the caller no
// longer holds the ingest's lease (it expired and another worker took it).
var ErrLeaseLost = errors.New("lease lost")

// ErrBagExists and ErrBagMissing are AssignVersion's refusals: a create of
// a bag that exists, an update of one that does not.
var (
	ErrBagExists  = errors.New("bag already exists")
	ErrBagMissing = errors.New("bag does not exist")
)

// workLeft is the condition for an ingest with work left to do.
const workLeft = `(status IN ('accepted', 'processing') OR callback_status IN ('pending', 'processing'))`

// ClaimIngest leases the oldest ingest with work left (not finished, or
// with a callback to send) whose lease is free or expired at now, to owner
// until now+ttl. ok is false when there is nothing to claim. Claims are
// transactions: two workers never hold one ingest.
func (s *Store) ClaimIngest(ctx context.Context, owner string, now time.Time, ttl time.Duration) (in model.Ingest, ok bool, err error) {
	if owner == "" || ttl <= 0 {
		return model.Ingest{}, false, errors.New("store: claim ingest: owner and a positive ttl are required")
	}
	nowS, expS := model.FormatTime(now), model.FormatTime(now.Add(ttl))
	// Look first on the read pool, so that idle workers polling do not
	// take the write lock.
	var one int
	err = s.r.QueryRowContext(ctx, `SELECT 1 FROM ingests WHERE `+workLeft+`
		AND (lease_expiry IS NULL OR lease_expiry < ?) LIMIT 1`, nowS).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return model.Ingest{}, false, nil
	}
	if err != nil {
		return model.Ingest{}, false, fmt.Errorf("store: claim ingest: %w", err)
	}
	err = s.writeTx(ctx, func(tx *txn) error {
		var id string
		err := tx.QueryRowContext(ctx, `SELECT id FROM ingests WHERE `+workLeft+`
			AND (lease_expiry IS NULL OR lease_expiry < ?)
			ORDER BY created_date LIMIT 1`+s.d.skipLocked, nowS).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE ingests SET lease_owner = ?, lease_expiry = ? WHERE id = ?`, owner, expS, id); err != nil {
			return err
		}
		in, err = scanIngest(tx.QueryRowContext(ctx, `SELECT `+ingestColumns+` FROM ingests WHERE id = ?`, id))
		ok = err == nil
		return err
	})
	if err != nil {
		return model.Ingest{}, false, fmt.Errorf("store: claim ingest: %w", err)
	}
	return in, ok, nil
}

// RenewLease extends owner's lease on the ingest to now+ttl, or returns
// ErrLeaseLost.
func (s *Store) RenewLease(ctx context.Context, id uuid.UUID, owner string, now time.Time, ttl time.Duration) error {
	err := s.writeTx(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, `UPDATE ingests SET lease_expiry = ? WHERE id = ? AND lease_owner = ?`,
			model.FormatTime(now.Add(ttl)), id.String(), owner)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return errors.Join(ErrLeaseLost, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: renew lease on %s: %w", id, err)
	}
	return nil
}

// ReleaseLease gives up owner's lease, so that another worker may claim
// the ingest at once if work is left. Not holding it is not an error.
func (s *Store) ReleaseLease(ctx context.Context, id uuid.UUID, owner string) error {
	err := s.writeTx(ctx, func(tx *txn) error {
		_, err := tx.ExecContext(ctx, `UPDATE ingests SET lease_owner = NULL, lease_expiry = NULL WHERE id = ? AND lease_owner = ?`,
			id.String(), owner)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: release lease on %s: %w", id, err)
	}
	return nil
}

// LeaseHolder returns the owner of the ingest's lease if the lease is
// unexpired at now, or "" (also for an unknown ingest). Workers use it to
// tell their dead predecessors' scratch directories from live ones.
func (s *Store) LeaseHolder(ctx context.Context, id uuid.UUID, now time.Time) (string, error) {
	var owner sql.NullString
	err := s.r.QueryRowContext(ctx, `SELECT lease_owner FROM ingests WHERE id = ? AND lease_expiry >= ?`,
		id.String(), model.FormatTime(now)).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store: lease holder of %s: %w", id, err)
	}
	return owner.String, nil
}

// checkLease fails with ErrLeaseLost unless owner holds the ingest's lease,
// locking the row (PostgreSQL) for the rest of the transaction.
func (s *Store) checkLease(ctx context.Context, tx *txn, id uuid.UUID, owner string) error {
	var got sql.NullString
	err := tx.QueryRowContext(ctx, `SELECT lease_owner FROM ingests WHERE id = ?`+s.d.forUpdate, id.String()).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	if !got.Valid || got.String != owner {
		return ErrLeaseLost
	}
	return nil
}

// UpdateLeasedIngest is UpdateIngest for the holder of the ingest's lease:
// it fails with ErrLeaseLost, writing nothing, if owner lost it.
func (s *Store) UpdateLeasedIngest(ctx context.Context, id uuid.UUID, owner string, fn func(*model.Ingest) error) (model.Ingest, error) {
	return s.updateIngest(ctx, id, func(tx *txn) error { return s.checkLease(ctx, tx, id, owner) }, fn)
}

// AssignVersion gives the leased ingest its bag version, once: the next
// version after every stored one and every one held by another ingest of
// the bag that has not failed. A create of a bag that has versions fails
// with ErrBagExists, an update of one that has none with ErrBagMissing. An
// ingest that already has a version (a worker took it over) keeps it.
func (s *Store) AssignVersion(ctx context.Context, id uuid.UUID, owner string, now time.Time) (model.BagVersion, error) {
	var v model.BagVersion
	err := s.writeTx(ctx, func(tx *txn) error {
		if err := s.checkLease(ctx, tx, id, owner); err != nil {
			return err
		}
		in, err := scanIngest(tx.QueryRowContext(ctx, `SELECT `+ingestColumns+` FROM ingests WHERE id = ?`, id.String()))
		if err != nil {
			return err
		}
		if in.Version > 0 {
			v = in.Version
			return nil
		}
		if err := s.d.lockBag(ctx, tx, in.Space, in.ExternalIdentifier); err != nil {
			return fmt.Errorf("lock bag: %w", err)
		}
		var latest int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(v), 0) FROM (
				SELECT MAX(version) AS v FROM storage_manifests WHERE space = ? AND external_identifier = ?
				UNION ALL
				SELECT MAX(version) AS v FROM ingests WHERE space = ? AND external_identifier = ?
					AND id <> ? AND version IS NOT NULL AND status <> 'failed'
			) AS versions`, in.Space, in.ExternalIdentifier, in.Space, in.ExternalIdentifier, in.ID.String()).Scan(&latest); err != nil {
			return err
		}
		switch {
		case in.Type == model.IngestCreate && latest > 0:
			return ErrBagExists
		case in.Type == model.IngestUpdate && latest == 0:
			return ErrBagMissing
		}
		v = model.BagVersion(latest + 1)
		_, err = tx.ExecContext(ctx, `UPDATE ingests SET version = ?, modified_date = ? WHERE id = ?`,
			int64(v), model.FormatTime(now), in.ID.String())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: assign version to %s: %w", id, err)
	}
	return v, nil
}

// RegisterBag stores the manifest of the leased ingest's bag and updates
// the ingest with fn in one transaction: both or neither, and nothing if
// owner lost the lease.
func (s *Store) RegisterBag(ctx context.Context, owner string, m model.StorageManifest, fn func(*model.Ingest) error) (model.Ingest, error) {
	if m.IngestID == uuid.Nil {
		return model.Ingest{}, errors.New("store: register bag: the manifest must name its ingest")
	}
	return s.updateIngest(ctx, m.IngestID, func(tx *txn) error {
		if err := s.checkLease(ctx, tx, m.IngestID, owner); err != nil {
			return err
		}
		return s.putStorageManifest(ctx, tx, m)
	}, fn)
}
