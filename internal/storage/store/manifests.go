package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/portway/portway/internal/storage/model"
)

// storedManifest is the manifest_json document: everything that is not a
// key column. Its field names are a storage format; keep them stable.
type storedManifest struct {
	Info             model.BagInfo      `json:"info"`
	Manifest         model.FileManifest `json:"manifest"`
	TagManifest      model.FileManifest `json:"tagManifest"`
	Location         model.Location     `json:"location"`
	ReplicaLocations []model.Location   `json:"replicaLocations"`
}

// PutStorageManifest registers a stored bag version. A version that
// already exists gives ErrConflict; an IngestID naming no ingest gives
// ErrNotFound.
func (s *Store) PutStorageManifest(ctx context.Context, m model.StorageManifest) error {
	return s.writeTx(ctx, func(tx *txn) error { return s.putStorageManifest(ctx, tx, m) })
}

func (s *Store) putStorageManifest(ctx context.Context, tx *txn, m model.StorageManifest) error {
	bag := fmt.Sprintf("%s %s", m.ID(), m.Version)
	switch {
	case m.Space == "" || m.ExternalIdentifier == "":
		return fmt.Errorf("store: put storage manifest %s: space and external identifier must be set", bag)
	case m.Version < 1:
		return fmt.Errorf("store: put storage manifest %s: version must be >= 1", bag)
	case m.CreatedDate.IsZero():
		return fmt.Errorf("store: put storage manifest %s: created date must be set", bag)
	}
	doc := storedManifest{
		Info: m.Info, Manifest: m.Manifest, TagManifest: m.TagManifest,
		Location: m.Location, ReplicaLocations: m.ReplicaLocations,
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("store: put storage manifest %s: encode: %w", bag, err)
	}
	var ingestID sql.NullString
	if m.IngestID != uuid.Nil {
		ingestID = sql.NullString{String: m.IngestID.String(), Valid: true}
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO storage_manifests
		(space, external_identifier, version, created_date, ingest_id, manifest_json)
		VALUES (?, ?, ?, ?, ?, ?)`,
		m.Space, m.ExternalIdentifier, int64(m.Version), model.FormatTime(m.CreatedDate), ingestID, string(body))
	switch {
	case isUniqueViolation(err):
		return fmt.Errorf("store: put storage manifest %s: %w", bag, ErrConflict)
	case isForeignKeyViolation(err):
		return fmt.Errorf("store: put storage manifest %s: ingest %s: %w", bag, m.IngestID, ErrNotFound)
	case err != nil:
		return fmt.Errorf("store: put storage manifest %s: %w", bag, err)
	}
	return nil
}

const manifestColumns = `space, external_identifier, version, created_date, ingest_id, manifest_json`

// LatestStorageManifest returns the highest version of a bag, or ErrNotFound.
func (s *Store) LatestStorageManifest(ctx context.Context, space, externalIdentifier string) (model.StorageManifest, error) {
	m, err := scanManifest(s.r.queryRow(ctx, &s.reads.latestManifest, space, externalIdentifier))
	if err != nil {
		return model.StorageManifest{}, fmt.Errorf("store: latest storage manifest %s: %w", model.BagID(space, externalIdentifier), err)
	}
	return m, nil
}

// StorageManifestVersion returns one version of a bag, or ErrNotFound.
func (s *Store) StorageManifestVersion(ctx context.Context, space, externalIdentifier string, v model.BagVersion) (model.StorageManifest, error) {
	m, err := scanManifest(s.r.queryRow(ctx, &s.reads.manifestVersion, space, externalIdentifier, int64(v)))
	if err != nil {
		return model.StorageManifest{}, fmt.Errorf("store: storage manifest %s %s: %w", model.BagID(space, externalIdentifier), v, err)
	}
	return m, nil
}

// ListVersions returns a bag's versions newest first; with before > 0 only
// those older than before. No versions is an empty list, not an error.
func (s *Store) ListVersions(ctx context.Context, space, externalIdentifier string, before model.BagVersion) ([]model.VersionSummary, error) {
	var (
		rows *sql.Rows
		err  error
	)
	if before > 0 {
		rows, err = s.r.query(ctx, &s.reads.listVersionsBefore, space, externalIdentifier, int64(before))
	} else {
		rows, err = s.r.query(ctx, &s.reads.listVersions, space, externalIdentifier)
	}
	if err != nil {
		return nil, fmt.Errorf("store: list versions of %s: %w", model.BagID(space, externalIdentifier), err)
	}
	defer rows.Close()
	out := []model.VersionSummary{}
	for rows.Next() {
		var (
			v       int64
			created string
		)
		if err := rows.Scan(&v, &created); err != nil {
			return nil, fmt.Errorf("store: list versions of %s: %w", model.BagID(space, externalIdentifier), err)
		}
		t, err := model.ParseTime(created)
		if err != nil {
			return nil, fmt.Errorf("store: list versions of %s: stored date %q: %w", model.BagID(space, externalIdentifier), created, err)
		}
		out = append(out, model.VersionSummary{Space: space, ExternalIdentifier: externalIdentifier, Version: model.BagVersion(v), CreatedDate: t})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list versions of %s: %w", model.BagID(space, externalIdentifier), err)
	}
	return out, nil
}

func scanManifest(row *sql.Row) (model.StorageManifest, error) {
	var (
		m        model.StorageManifest
		version  int64
		created  string
		ingestID sql.NullString
		body     string
	)
	err := row.Scan(&m.Space, &m.ExternalIdentifier, &version, &created, &ingestID, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return model.StorageManifest{}, ErrNotFound
	}
	if err != nil {
		return model.StorageManifest{}, err
	}
	m.Version = model.BagVersion(version)
	if m.CreatedDate, err = model.ParseTime(created); err != nil {
		return model.StorageManifest{}, fmt.Errorf("stored created date %q: %w", created, err)
	}
	if ingestID.Valid {
		if m.IngestID, err = uuid.Parse(ingestID.String); err != nil {
			return model.StorageManifest{}, fmt.Errorf("stored ingest id %q: %w", ingestID.String, err)
		}
	}
	var doc storedManifest
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		return model.StorageManifest{}, fmt.Errorf("stored manifest document: %w", err)
	}
	m.Info, m.Manifest, m.TagManifest = doc.Info, doc.Manifest, doc.TagManifest
	m.Location, m.ReplicaLocations = doc.Location, doc.ReplicaLocations
	return m, nil
}
