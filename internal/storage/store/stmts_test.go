package store

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/portway/portway/internal/storage/model"
)

// The SQLite driver keeps a compiled statement only for a single statement
// with nothing after it; trailing space or a semicolon would make it parse
// the SQL on every run again.
func TestReadQueriesAreSingleStatements(t *testing.T) {
	for _, r := range newReadStmts().all() {
		if strings.TrimSpace(r.sql) != r.sql || strings.Contains(r.sql, ";") {
			t.Errorf("%s: %q has a tail", r.name, r.sql)
		}
	}
}

func TestReadsArePrepared(t *testing.T) { forEachBackend(t, testReadsArePrepared) }

func testReadsArePrepared(t *testing.T, open opener) {
	s := open(t)
	for _, r := range s.reads.all() {
		if r.stmt == nil {
			t.Errorf("%s: not prepared", r.name)
		}
	}
}

// Many more concurrent readers than read connections: each statement is
// prepared again on every connection that runs it, and a write through
// another handle (another process) shows at once.
func TestPreparedReadsConcurrently(t *testing.T) { forEachBackend(t, testPreparedReadsConcurrently) }

func testPreparedReadsConcurrently(t *testing.T, open opener) {
	s, other := open(t), open(t)
	ctx := t.Context()
	in := newIngest("b1")
	if err := other.CreateIngest(ctx, in); err != nil {
		t.Fatal(err)
	}
	for v := model.BagVersion(1); v <= 3; v++ {
		if err := other.PutStorageManifest(ctx, newManifest("b1", v)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- func() error {
				for range 20 {
					got, err := s.GetIngest(ctx, in.ID)
					if err != nil || got.ID != in.ID {
						return fmt.Errorf("GetIngest: %v, %v", got.ID, err)
					}
					m, err := s.LatestStorageManifest(ctx, "digitised", "b1")
					if err != nil || m.Version != 3 {
						return fmt.Errorf("LatestStorageManifest: %v, %v", m.Version, err)
					}
					if m, err = s.StorageManifestVersion(ctx, "digitised", "b1", 2); err != nil || m.Version != 2 {
						return fmt.Errorf("StorageManifestVersion: %v, %v", m.Version, err)
					}
					if _, err := s.StorageManifestVersion(ctx, "digitised", "b1", 9); !errors.Is(err, ErrNotFound) {
						return fmt.Errorf("StorageManifestVersion 9: %v", err)
					}
					if vs, err := s.ListVersions(ctx, "digitised", "b1", 0); err != nil || len(vs) != 3 {
						return fmt.Errorf("ListVersions: %d, %v", len(vs), err)
					}
					if vs, err := s.ListVersions(ctx, "digitised", "b1", 3); err != nil || len(vs) != 2 || vs[0].Version != 2 {
						return fmt.Errorf("ListVersions before 3: %v, %v", vs, err)
					}
				}
				return nil
			}()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Another handle's writes, and its schema changes, show through the
	// prepared statements.
	if err := other.PutStorageManifest(ctx, newManifest("b1", 4)); err != nil {
		t.Fatal(err)
	}
	if _, err := other.w.ExecContext(ctx, `CREATE INDEX test_manifests_created ON storage_manifests (created_date)`); err != nil {
		t.Fatal(err)
	}
	if m, err := s.LatestStorageManifest(ctx, "digitised", "b1"); err != nil || m.Version != 4 {
		t.Fatalf("after another handle's write: %v, %v", m.Version, err)
	}
	if vs, err := s.ListVersions(ctx, "digitised", "b1", 0); err != nil || len(vs) != 4 {
		t.Fatalf("after another handle's write: %d versions, %v", len(vs), err)
	}
}

func TestReadAfterCloseFails(t *testing.T) { forEachBackend(t, testReadAfterCloseFails) }

func testReadAfterCloseFails(t *testing.T, open opener) {
	s := open(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetIngest(t.Context(), newIngest("x").ID); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("GetIngest after Close: %v", err)
	}
	if _, err := s.ListVersions(t.Context(), "digitised", "x", 0); err == nil {
		t.Fatal("ListVersions after Close succeeded")
	}
}

// A statement that does not prepare fails with its name, and the ones
// prepared before it are closed.
func TestPrepareFailureNamesTheQuery(t *testing.T) {
	forEachBackend(t, testPrepareFailureNamesTheQuery)
}

func testPrepareFailureNamesTheQuery(t *testing.T, open opener) {
	s := open(t)
	rs := newReadStmts()
	rs.listVersionsBefore.sql = `SELECT version FROM no_such_table WHERE space = ?`
	err := rs.prepare(t.Context(), s.r)
	if err == nil || !strings.Contains(err.Error(), "prepare list versions before query") {
		t.Fatalf("prepare: %v", err)
	}
	if rs.getIngest.stmt == nil {
		t.Fatal("the statements prepared before were dropped, not closed")
	}
	if err := rs.getIngest.stmt.QueryRowContext(t.Context(), "x").Scan(new(string)); err == nil || errors.Is(err, sql.ErrNoRows) {
		t.Fatalf("a statement prepared before the failure still runs: %v", err)
	}
}
