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

const ingestColumns = `id, space, external_identifier, ingest_type, version,
	source_provider, source_bucket, source_path, callback_url, callback_status,
	status, events_json, created_date, modified_date`

// CreateIngest stores a new ingest. It is committed when this returns nil.
// An ingest with the same id gives ErrConflict.
func (s *Store) CreateIngest(ctx context.Context, in model.Ingest) error {
	row, err := ingestToRow(in)
	if err != nil {
		return fmt.Errorf("store: create ingest %s: %w", in.ID, err)
	}
	err = s.writeTx(ctx, func(tx *txn) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO ingests (`+ingestColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, row.args()...)
		return err
	})
	if isUniqueViolation(err) {
		return fmt.Errorf("store: create ingest %s: %w", in.ID, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("store: create ingest %s: %w", in.ID, err)
	}
	return nil
}

// GetIngest returns the ingest with this id, or ErrNotFound.
func (s *Store) GetIngest(ctx context.Context, id uuid.UUID) (model.Ingest, error) {
	in, err := scanIngest(s.r.queryRow(ctx, &s.reads.getIngest, id.String()))
	if err != nil {
		return model.Ingest{}, fmt.Errorf("store: get ingest %s: %w", id, err)
	}
	return in, nil
}

// UpdateIngest reads the ingest, lets fn change it, and writes it back, all
// in one transaction: concurrent updates from any process serialise. The
// id, space, external identifier, type, source location and created date
// are fixed at creation; changes fn makes to them are ignored. fn's error
// aborts the update and is returned as is.
func (s *Store) UpdateIngest(ctx context.Context, id uuid.UUID, fn func(*model.Ingest) error) (model.Ingest, error) {
	return s.updateIngest(ctx, id, nil, fn)
}

// updateIngest is UpdateIngest with pre run first in the transaction.
func (s *Store) updateIngest(ctx context.Context, id uuid.UUID, pre func(*txn) error, fn func(*model.Ingest) error) (model.Ingest, error) {
	var out model.Ingest
	err := s.writeTx(ctx, func(tx *txn) error {
		if pre != nil {
			if err := pre(tx); err != nil {
				return err
			}
		}
		in, err := scanIngest(tx.QueryRowContext(ctx, `SELECT `+ingestColumns+` FROM ingests WHERE id = ?`+s.d.forUpdate, id.String()))
		if err != nil {
			return err
		}
		next := in
		next.Events = append([]model.Event(nil), in.Events...)
		if in.Callback != nil {
			cb := *in.Callback
			next.Callback = &cb
		}
		if err := fn(&next); err != nil {
			return fnError{err}
		}
		next.ID, next.Space, next.ExternalIdentifier = in.ID, in.Space, in.ExternalIdentifier
		next.Type, next.SourceLocation, next.CreatedDate = in.Type, in.SourceLocation, in.CreatedDate
		row, err := ingestToRow(next)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE ingests SET version = ?, callback_url = ?, callback_status = ?,
			status = ?, events_json = ?, modified_date = ? WHERE id = ?`,
			row.version, row.callbackURL, row.callbackStatus, row.status, row.events, row.modified, row.id); err != nil {
			return err
		}
		out, err = rowToIngest(row)
		return err
	})
	var fe fnError
	if errors.As(err, &fe) {
		return model.Ingest{}, fe.err
	}
	if err != nil {
		return model.Ingest{}, fmt.Errorf("store: update ingest %s: %w", id, err)
	}
	return out, nil
}

// fnError marks an error returned by an UpdateIngest callback.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }
func (e fnError) Unwrap() error { return e.err }

// ingestRow is an ingest as stored.
type ingestRow struct {
	id, space, extID, ingestType      string
	version                           sql.NullInt64
	provider, bucket, path            string
	callbackURL, callbackStatus       sql.NullString
	status, events, created, modified string
}

func (r *ingestRow) args() []any {
	return []any{r.id, r.space, r.extID, r.ingestType, r.version, r.provider, r.bucket, r.path,
		r.callbackURL, r.callbackStatus, r.status, r.events, r.created, r.modified}
}

func ingestToRow(in model.Ingest) (*ingestRow, error) {
	switch {
	case in.ID == uuid.Nil:
		return nil, errors.New("id must be set")
	case in.Space == "" || in.ExternalIdentifier == "":
		return nil, errors.New("space and external identifier must be set")
	case in.Type != model.IngestCreate && in.Type != model.IngestUpdate:
		return nil, fmt.Errorf("unknown ingest type %q", in.Type)
	case !in.Status.Valid():
		return nil, fmt.Errorf("unknown status %q", in.Status)
	case in.Callback != nil && !in.Callback.Status.Valid():
		return nil, fmt.Errorf("unknown callback status %q", in.Callback.Status)
	case in.Version < 0:
		return nil, fmt.Errorf("bad version %d", in.Version)
	case in.CreatedDate.IsZero():
		return nil, errors.New("created date must be set")
	}
	events := make([]model.Event, len(in.Events))
	copy(events, in.Events)
	for i := range events {
		events[i].CreatedDate = model.Timestamp(events[i].CreatedDate)
	}
	ev, err := json.Marshal(events)
	if err != nil {
		return nil, fmt.Errorf("encode events: %w", err)
	}
	modified := in.LastModifiedDate
	if modified.IsZero() {
		modified = in.CreatedDate
	}
	r := &ingestRow{
		id: in.ID.String(), space: in.Space, extID: in.ExternalIdentifier, ingestType: string(in.Type),
		provider: string(in.SourceLocation.Provider), bucket: in.SourceLocation.Bucket, path: in.SourceLocation.Path,
		status: string(in.Status), events: string(ev),
		created: model.FormatTime(in.CreatedDate), modified: model.FormatTime(modified),
	}
	if in.Version > 0 {
		r.version = sql.NullInt64{Int64: int64(in.Version), Valid: true}
	}
	if in.Callback != nil {
		r.callbackURL = sql.NullString{String: in.Callback.URL, Valid: true}
		r.callbackStatus = sql.NullString{String: string(in.Callback.Status), Valid: true}
	}
	return r, nil
}

func rowToIngest(r *ingestRow) (model.Ingest, error) {
	id, err := uuid.Parse(r.id)
	if err != nil {
		return model.Ingest{}, fmt.Errorf("stored id %q: %w", r.id, err)
	}
	var events []model.Event
	if err := json.Unmarshal([]byte(r.events), &events); err != nil {
		return model.Ingest{}, fmt.Errorf("stored events of %s: %w", r.id, err)
	}
	if events == nil {
		events = []model.Event{}
	}
	created, err := model.ParseTime(r.created)
	if err != nil {
		return model.Ingest{}, fmt.Errorf("stored created date of %s: %w", r.id, err)
	}
	modified, err := model.ParseTime(r.modified)
	if err != nil {
		return model.Ingest{}, fmt.Errorf("stored modified date of %s: %w", r.id, err)
	}
	in := model.Ingest{
		ID: id, Type: model.IngestType(r.ingestType), Space: r.space, ExternalIdentifier: r.extID,
		SourceLocation: model.Location{Provider: model.Provider(r.provider), Bucket: r.bucket, Path: r.path},
		Status:         model.IngestStatus(r.status), Events: events,
		CreatedDate: created, LastModifiedDate: modified,
	}
	if r.version.Valid {
		in.Version = model.BagVersion(r.version.Int64)
	}
	if r.callbackURL.Valid {
		in.Callback = &model.Callback{URL: r.callbackURL.String, Status: model.CallbackStatus(r.callbackStatus.String)}
	}
	return in, nil
}

func scanIngest(row *sql.Row) (model.Ingest, error) {
	var r ingestRow
	err := row.Scan(&r.id, &r.space, &r.extID, &r.ingestType, &r.version, &r.provider, &r.bucket, &r.path,
		&r.callbackURL, &r.callbackStatus, &r.status, &r.events, &r.created, &r.modified)
	if errors.Is(err, sql.ErrNoRows) {
		return model.Ingest{}, ErrNotFound
	}
	if err != nil {
		return model.Ingest{}, err
	}
	return rowToIngest(&r)
}
