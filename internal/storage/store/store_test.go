package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/portway/portway/internal/storage/model"
)

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 123456789, time.UTC)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state", "storage.db")
	return openAt(t, path), path
}

func openAt(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newIngest(ext string) model.Ingest {
	return model.Ingest{
		ID:                 uuid.New(),
		Type:               model.IngestCreate,
		Space:              "digitised",
		ExternalIdentifier: ext,
		SourceLocation:     model.Location{Provider: model.ProviderAmazonS3, Bucket: "uploads", Path: ext + ".tar.gz"},
		Callback:           &model.Callback{URL: "https://example.org/cb", Status: model.CallbackPending},
		Status:             model.IngestAccepted,
		CreatedDate:        t0,
		LastModifiedDate:   t0,
	}
}

func newManifest(ext string, v model.BagVersion) model.StorageManifest {
	return model.StorageManifest{
		Space: "digitised", ExternalIdentifier: ext, Version: v,
		CreatedDate: t0.Add(time.Duration(v) * time.Hour),
		Info:        model.BagInfo{ExternalIdentifier: ext, PayloadOxum: "1904.1", BaggingDate: "2013-03-27"},
		Manifest: model.FileManifest{ChecksumAlgorithm: "SHA-256", Files: []model.File{
			{Name: "data/a.txt", Path: v.String() + "/data/a.txt", Checksum: "abc", Size: 1904},
		}},
		TagManifest: model.FileManifest{ChecksumAlgorithm: "SHA-256", Files: []model.File{}},
		Location:    model.Location{Provider: model.ProviderAmazonS3, Bucket: "store", Path: "digitised/" + ext},
	}
}

func TestOpenValidatesPath(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db", "a?b.db"} {
		if _, err := Open(t.Context(), p, Options{}); err == nil {
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

func TestMigrationIsIdempotentOnReopen(t *testing.T) {
	s, path := openTemp(t)
	version := func(s *Store) (v, rows int) {
		t.Helper()
		if err := s.r.QueryRowContext(t.Context(), `SELECT MAX(version), COUNT(*) FROM schema_version`).Scan(&v, &rows); err != nil {
			t.Fatal(err)
		}
		return v, rows
	}
	if v, n := version(s); v != SchemaVersion() || n != SchemaVersion() {
		t.Fatalf("schema version %d (%d rows), want %d", v, n, SchemaVersion())
	}
	in := newIngest("b1")
	if err := s.CreateIngest(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for range 2 {
		s2 := openAt(t, path)
		if v, n := version(s2); v != SchemaVersion() || n != SchemaVersion() {
			t.Fatalf("after reopen: schema version %d (%d rows), want %d", v, n, SchemaVersion())
		}
		if _, err := s2.GetIngest(t.Context(), in.ID); err != nil {
			t.Fatalf("data lost on reopen: %v", err)
		}
		var mode string
		if err := s2.r.QueryRowContext(t.Context(), `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
			t.Fatalf("journal_mode = %q, %v", mode, err)
		}
		var fk int
		if err := s2.r.QueryRowContext(t.Context(), `PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
			t.Fatalf("foreign_keys = %d, %v", fk, err)
		}
		s2.Close()
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	s, path := openTemp(t)
	if _, err := s.w.ExecContext(t.Context(), `INSERT INTO schema_version VALUES (?, 'x')`, SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(t.Context(), path, Options{}); err == nil {
		t.Fatal("Open of a newer schema succeeded")
	}
}

func TestIngestRoundTripAndUpdate(t *testing.T) { forEachBackend(t, testIngestRoundTripAndUpdate) }

func testIngestRoundTripAndUpdate(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	in := newIngest("PP/MIA/1")
	if err := s.CreateIngest(ctx, in); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateIngest(ctx, in); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate create: %v, want ErrConflict", err)
	}
	got, err := s.GetIngest(ctx, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := in
	want.CreatedDate, want.LastModifiedDate = model.Timestamp(t0), model.Timestamp(t0)
	want.Events = []model.Event{}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}

	later := t0.Add(time.Minute)
	upd, err := s.UpdateIngest(ctx, in.ID, func(i *model.Ingest) error {
		i.Status = model.IngestProcessing
		i.Version = 2
		i.Events = append(i.Events, model.Event{CreatedDate: later, Description: "Unpacking started"})
		i.LastModifiedDate = later
		i.Space = "ignored"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err = s.GetIngest(ctx, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != model.IngestProcessing || got.Version != 2 || len(got.Events) != 1 ||
		got.Events[0].Description != "Unpacking started" || !got.LastModifiedDate.Equal(model.Timestamp(later)) ||
		got.Space != "digitised" || !reflect.DeepEqual(got, upd) {
		t.Fatalf("after update: %+v (returned %+v)", got, upd)
	}

	boom := errors.New("boom")
	if _, err := s.UpdateIngest(ctx, in.ID, func(i *model.Ingest) error { i.Status = model.IngestFailed; return boom }); err != boom {
		t.Fatalf("UpdateIngest fn error = %v, want boom", err)
	}
	if got, _ := s.GetIngest(ctx, in.ID); got.Status != model.IngestProcessing {
		t.Fatalf("aborted update was written: %v", got.Status)
	}
	missing := uuid.New()
	if _, err := s.GetIngest(ctx, missing); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetIngest(missing) = %v", err)
	}
	if _, err := s.UpdateIngest(ctx, missing, func(*model.Ingest) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("UpdateIngest(missing) = %v", err)
	}
	bad := newIngest("x")
	bad.Status = "weird"
	if err := s.CreateIngest(ctx, bad); err == nil {
		t.Fatal("invalid status accepted")
	}
}

func TestStorageManifests(t *testing.T) { forEachBackend(t, testStorageManifests) }

func testStorageManifests(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	for _, v := range []model.BagVersion{1, 3, 2} {
		if err := s.PutStorageManifest(ctx, newManifest("PP/MIA/1", v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutStorageManifest(ctx, newManifest("PP/MIA/1", 2)); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate version: %v", err)
	}
	orphan := newManifest("other", 1)
	orphan.IngestID = uuid.New()
	if err := s.PutStorageManifest(ctx, orphan); !errors.Is(err, ErrNotFound) {
		t.Fatalf("manifest for unknown ingest: %v", err)
	}
	in := newIngest("other")
	if err := s.CreateIngest(ctx, in); err != nil {
		t.Fatal(err)
	}
	orphan.IngestID = in.ID
	if err := s.PutStorageManifest(ctx, orphan); err != nil {
		t.Fatalf("manifest for known ingest: %v", err)
	}

	latest, err := s.LatestStorageManifest(ctx, "digitised", "PP/MIA/1")
	if err != nil || latest.Version != 3 {
		t.Fatalf("latest = %v, %v", latest.Version, err)
	}
	want := newManifest("PP/MIA/1", 3)
	want.CreatedDate = model.Timestamp(want.CreatedDate)
	if !reflect.DeepEqual(latest, want) {
		t.Fatalf("latest\n got %+v\nwant %+v", latest, want)
	}
	v2, err := s.StorageManifestVersion(ctx, "digitised", "PP/MIA/1", 2)
	if err != nil || v2.Version != 2 || v2.Manifest.Files[0].Path != "v2/data/a.txt" {
		t.Fatalf("v2 = %+v, %v", v2, err)
	}
	if _, err := s.StorageManifestVersion(ctx, "digitised", "PP/MIA/1", 9); !errors.Is(err, ErrNotFound) {
		t.Fatalf("v9: %v", err)
	}
	if _, err := s.LatestStorageManifest(ctx, "digitised", "PP/MIA"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing bag: %v", err)
	}
	o, err := s.LatestStorageManifest(ctx, "digitised", "other")
	if err != nil || o.IngestID != in.ID {
		t.Fatalf("ingest id not kept: %v %v", o.IngestID, err)
	}

	for _, tt := range []struct {
		before model.BagVersion
		want   string
	}{{0, "[v3 v2 v1]"}, {3, "[v2 v1]"}, {2, "[v1]"}, {1, "[]"}, {99, "[v3 v2 v1]"}} {
		list, err := s.ListVersions(ctx, "digitised", "PP/MIA/1", tt.before)
		if err != nil {
			t.Fatal(err)
		}
		var vs []model.BagVersion
		for _, e := range list {
			vs = append(vs, e.Version)
		}
		if got := fmt.Sprint(vs); got != tt.want {
			t.Errorf("ListVersions(before=%d) = %s, want %s", tt.before, got, tt.want)
		}
	}
	if list, err := s.ListVersions(ctx, "digitised", "nope", 0); err != nil || list == nil || len(list) != 0 {
		t.Fatalf("ListVersions(nope) = %#v, %v", list, err)
	}
}

// Several Store values on one file stand in for several processes' pools:
// each has its own connections and takes SQLite's file locks.
func TestConcurrentWriters(t *testing.T) { forEachBackend(t, testConcurrentWriters) }

func testConcurrentWriters(t *testing.T, open opener) {
	const stores, workers, each = 4, 4, 10
	ss := make([]*Store, stores)
	for i := range ss {
		ss[i] = open(t)
	}
	var wg sync.WaitGroup
	errs := make(chan error, stores*workers*each)
	for i, s := range ss {
		for w := range workers {
			wg.Go(func() {
				for n := range each {
					ext := fmt.Sprintf("s%dw%d", i, w)
					if err := s.CreateIngest(t.Context(), newIngest(ext)); err != nil {
						errs <- err
					}
					if err := s.PutStorageManifest(t.Context(), newManifest(ext, model.BagVersion(n+1))); err != nil {
						errs <- err
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assertCounts(t, ss[0], stores*workers*each, stores*workers*each)
}

func assertCounts(t *testing.T, s *Store, ingests, manifests int) {
	t.Helper()
	var ni, nm int
	if err := s.r.QueryRowContext(t.Context(), `SELECT (SELECT COUNT(*) FROM ingests), (SELECT COUNT(*) FROM storage_manifests)`).Scan(&ni, &nm); err != nil {
		t.Fatal(err)
	}
	if ni != ingests || nm != manifests {
		t.Fatalf("%d ingests and %d manifests, want %d and %d", ni, nm, ingests, manifests)
	}
}

const (
	childEnvDB = "PORTWAY_STORE_TEST_CHILD_DB"
	childEnvID = "PORTWAY_STORE_TEST_CHILD_ID"
	childN     = 15
)

// TestChildWriter is the body of a child process of TestSeveralProcesses.
func TestChildWriter(t *testing.T) {
	path := os.Getenv(childEnvDB)
	if path == "" {
		t.Skip("only runs as a child of TestSeveralProcesses")
	}
	id := os.Getenv(childEnvID)
	s := openAt(t, path) // children race each other through Open and migration too
	for n := range childN {
		ext := "child" + id
		in := newIngest(ext)
		if err := s.CreateIngest(t.Context(), in); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetIngest(t.Context(), in.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.PutStorageManifest(t.Context(), newManifest(ext, model.BagVersion(n+1))); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSeveralProcesses runs writers in separate OS processes on one new
// database file, as 2 bags + 2 ingests tasks do.
func TestSeveralProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	path := filepath.Join(t.TempDir(), "storage.db")
	const procs = 3
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := range procs {
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestChildWriter$", "-test.count=1")
		cmd.Env = append(os.Environ(), childEnvDB+"="+path, childEnvID+"="+strconv.Itoa(i))
		wg.Go(func() {
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("child %d: %v\n%s", i, err, out)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	s := openAt(t, path)
	assertCounts(t, s, procs*childN, procs*childN)
	list, err := s.ListVersions(t.Context(), "digitised", "child0", 0)
	if err != nil || len(list) != childN || list[0].Version != childN {
		t.Fatalf("child0 versions = %v, %v", list, err)
	}
}
