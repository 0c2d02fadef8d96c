package worker

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/portway/portway/internal/storage/bagtest"
	"github.com/portway/portway/internal/storage/model"
)

// A worker starting up removes the scratch directories of workers that
// died mid-ingest, and keeps those of live workers and anything not its.
func TestStartSweepsDeadWorkersScratch(t *testing.T) {
	e := newEnv(t)
	work, staging := filepath.Join(e.dir, "work"), filepath.Join(e.storage, stagingDir)
	live := e.create(t, model.IngestCreate, "live", "live.tar.gz", "")
	if _, ok, err := e.st.ClaimIngest(t.Context(), "worker-live", time.Now(), time.Hour); !ok || err != nil {
		t.Fatalf("claim: %v %v", ok, err)
	}
	expired := e.create(t, model.IngestCreate, "expired", "expired.tar.gz", "")
	if _, ok, err := e.st.ClaimIngest(t.Context(), "worker-dead", time.Now().Add(-2*time.Hour), time.Hour); !ok || err != nil {
		t.Fatalf("claim: %v %v", ok, err)
	}
	unknown := uuid.New()
	dirs := map[string]bool{ // path → kept
		filepath.Join(work, scratchPrefix(live, "worker-live")+"-123"):    true,
		filepath.Join(staging, scratchPrefix(live, "worker-live")):        true,
		filepath.Join(work, scratchPrefix(live, "worker-dead")+"-456"):    false, // lease taken over
		filepath.Join(staging, scratchPrefix(live, "worker-dead")):        false,
		filepath.Join(work, scratchPrefix(expired, "worker-dead")+"-789"): false, // lease expired
		filepath.Join(staging, scratchPrefix(expired, "worker-dead")):     false,
		filepath.Join(work, scratchPrefix(unknown, "worker-dead")+"-1"):   false, // no such ingest
		filepath.Join(work, "not-an-ingest"):                              true,
		filepath.Join(staging, "0000"):                                    true,
		filepath.Join(e.storage, "digitised", "b1", "v1"):                 true,
	}
	for d := range dirs {
		if err := os.MkdirAll(filepath.Join(d, "data"), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "data", "a.txt"), []byte("x"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	e.startWorker(t, e.st, func(c *Config, _ *Worker) { c.Concurrency = 1 })
	for d, kept := range dirs {
		_, err := os.Stat(d)
		if got := err == nil; got != kept {
			t.Errorf("%s: kept %v, want %v (%v)", d, got, kept, err)
		}
	}
}

// A worker that takes over an ingest (status processing: an earlier attempt
// died) removes that attempt's scratch directories when it claims it.
func TestTakeOverSweepsEarlierAttempt(t *testing.T) {
	e := newEnv(t)
	e.startWorker(t, e.st, nil) // its start-up sweep finds nothing
	e.putBag(t, "b1.tar.gz", bagtest.Options{ExternalIdentifier: "b1"})
	now := model.Timestamp(time.Now())
	in := model.Ingest{ID: uuid.New(), Type: model.IngestCreate, Space: "digitised", ExternalIdentifier: "b1",
		SourceLocation: model.Location{Provider: model.ProviderAmazonS3, Bucket: "uploads", Path: "b1.tar.gz"},
		Status:         model.IngestProcessing, CreatedDate: now, LastModifiedDate: now,
		Events: []model.Event{{CreatedDate: now, Description: "Unpacking started"}}}
	dead := []string{
		filepath.Join(e.dir, "work", scratchPrefix(in.ID, "worker-dead")+"-1"),
		filepath.Join(e.storage, stagingDir, scratchPrefix(in.ID, "worker-dead")),
	}
	for _, d := range dead {
		if err := os.MkdirAll(filepath.Join(d, "data"), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.st.CreateIngest(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	if got := e.waitDone(t, in.ID); got.Status != model.IngestSucceeded {
		t.Fatalf("%s %q", got.Status, descriptions(got))
	}
	for _, d := range dead {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s not removed: %v", d, err)
		}
	}
}
