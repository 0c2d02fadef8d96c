package worker

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/portway/portway/internal/storage/bagtest"
	"github.com/portway/portway/internal/storage/model"
	"github.com/portway/portway/internal/storage/store"
)

const childDirEnv = "PORTWAY_WORKER_TEST_CHILD_DIR"

// TestChildWorker is the body of the process TestKilledWorker kills: a
// worker that hangs in the copy step until it is killed.
func TestChildWorker(t *testing.T) {
	dir := os.Getenv(childDirEnv)
	if dir == "" {
		t.Skip("only runs as a child of TestKilledWorker")
	}
	e := &env{dir: dir, db: filepath.Join(dir, "storage.db"), buckets: filepath.Join(dir, "buckets"), storage: filepath.Join(dir, "storage")}
	st, err := store.Open(context.Background(), e.db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := New(Config{Store: st, BucketsDir: e.buckets, StorageDir: e.storage, WorkDir: filepath.Join(dir, "work"),
		Owner: "doomed", Concurrency: 1, PollInterval: 10 * time.Millisecond, LeaseDuration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	w.stepHook = func(ctx context.Context, _ uuid.UUID, step string) {
		if step == stepCopy {
			_ = os.WriteFile(filepath.Join(dir, "at-copy"), nil, 0o644)
			<-ctx.Done()
		}
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {} // until killed
}

// A worker process killed mid-ingest (SIGKILL: no cleanup, its lease
// stays) leaves the ingest to another worker once the lease expires.
func TestKilledWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	e := newEnv(t)
	e.putBag(t, "b1.tar.gz", bagtest.Options{ExternalIdentifier: "b1"})
	id := e.create(t, model.IngestCreate, "b1", "b1.tar.gz", "")

	cmd := exec.Command(os.Args[0], "-test.run=^TestChildWorker$", "-test.count=1")
	cmd.Env = append(os.Environ(), childDirEnv+"="+e.dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-waited
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(e.dir, "at-copy")); err == nil {
			break
		}
		select {
		case err := <-waited:
			t.Fatalf("child exited early: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("child never reached the copy step")
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, bounded by the deadline
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-waited
	waited <- nil // for the cleanup

	in, _ := e.st.GetIngest(t.Context(), id)
	if in.Status != model.IngestProcessing || in.Version != 1 {
		t.Fatalf("after the kill: %s %v %q", in.Status, in.Version, descriptions(in))
	}
	left, _ := filepath.Glob(filepath.Join(e.dir, "work", id.String()+"-doomed-*"))
	if len(left) != 1 {
		t.Fatalf("the killed worker's unpack directory: %q", left)
	}
	// A worker that lives after the dead one's lease has expired.
	e.startWorker(t, e.st, func(c *Config, _ *Worker) {
		c.Owner, c.LeaseDuration = "rescuer", time.Minute
		c.Now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	})
	in = e.waitDone(t, id)
	if in.Status != model.IngestSucceeded || in.Version != 1 {
		t.Fatalf("%s %v %q", in.Status, in.Version, descriptions(in))
	}
	if _, err := os.Stat(filepath.Join(e.storage, "digitised", "b1", "v1", "data", "a.txt")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(left[0]); !os.IsNotExist(err) {
		t.Fatalf("the killed worker's unpack directory %s is still there: %v", left[0], err)
	}
}
