package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/portway/portway/internal/egress"
	"github.com/portway/portway/internal/storage/bagtest"
	"github.com/portway/portway/internal/storage/model"
	"github.com/portway/portway/internal/storage/store"
)

type env struct {
	dir, db, buckets, storage string
	st                        *store.Store
	dsn                       string // PostgreSQL; "" for SQLite at db
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{dir: dir, db: filepath.Join(dir, "storage.db"), buckets: filepath.Join(dir, "buckets"), storage: filepath.Join(dir, "storage")}
	e.st = e.open(t)
	return e
}

func (e *env) open(t *testing.T) *store.Store {
	t.Helper()
	dsn := e.dsn
	if dsn == "" {
		dsn = e.db
	}
	st, err := store.OpenDSN(t.Context(), dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func (e *env) startWorker(t *testing.T, st *store.Store, mod func(*Config, *Worker)) *Worker {
	t.Helper()
	return e.startWorkerConfig(t, st, nil, mod)
}

// startWorkerConfig is startWorker with pre changing the config before
// New (for what New builds from it, such as the callback client), mod
// after.
func (e *env) startWorkerConfig(t *testing.T, st *store.Store, pre func(*Config), mod func(*Config, *Worker)) *Worker {
	t.Helper()
	cfg := Config{Store: st, BucketsDir: e.buckets, StorageDir: e.storage, WorkDir: filepath.Join(e.dir, "work"),
		PollInterval: 10 * time.Millisecond, CallbackBackoff: time.Millisecond, CallbackTimeout: 5 * time.Second,
		Callbacks: egress.Config{Allow: []string{"127.0.0.0/8", "::1/128"}}}
	if pre != nil {
		pre(&cfg)
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if mod != nil {
		mod(&w.cfg, w)
	}
	if err := w.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := w.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return w
}

func (e *env) putBag(t *testing.T, name string, o bagtest.Options) *bagtest.Bag {
	t.Helper()
	b := bagtest.MustBuild(t, o)
	b.WriteFile(t, filepath.Join(e.buckets, "uploads", name))
	return b
}

func (e *env) create(t *testing.T, typ model.IngestType, ext, source, callback string) uuid.UUID {
	t.Helper()
	now := model.Timestamp(time.Now())
	in := model.Ingest{ID: uuid.New(), Type: typ, Space: "digitised", ExternalIdentifier: ext,
		SourceLocation: model.Location{Provider: model.ProviderAmazonS3, Bucket: "uploads", Path: source},
		Status:         model.IngestAccepted, CreatedDate: now, LastModifiedDate: now}
	if callback != "" {
		in.Callback = &model.Callback{URL: callback, Status: model.CallbackPending}
	}
	if err := e.st.CreateIngest(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	return in.ID
}

// waitDone waits until the ingest has succeeded or failed and its callback
// (if any) has been sent or given up.
func (e *env) waitDone(t *testing.T, id uuid.UUID) model.Ingest {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		in, err := e.st.GetIngest(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		done := in.Status == model.IngestSucceeded || in.Status == model.IngestFailed
		if done && (in.Callback == nil || in.Callback.Status == model.CallbackSucceeded || in.Callback.Status == model.CallbackFailed) {
			return in
		}
		if time.Now().After(deadline) {
			t.Fatalf("ingest %s not done: %+v", id, in)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, bounded by the deadline
	}
}

func descriptions(in model.Ingest) []string {
	out := make([]string, len(in.Events))
	for i, e := range in.Events {
		out[i] = e.Description
	}
	return out
}

func TestValidIngestIsStored(t *testing.T) {
	e := newEnv(t)
	e.startWorker(t, e.st, nil)
	gen := e.putBag(t, "b1.tar.gz", bagtest.Options{ExternalIdentifier: "b1", Prefix: "b1", BagInfo: map[string]string{"Source-Organization": "Wellcome"}})
	id := e.create(t, model.IngestCreate, "b1", "b1.tar.gz", "")
	in := e.waitDone(t, id)
	want := []string{"Unpacking started", "Unpacking succeeded", "Verification started", "Verification succeeded",
		"Assigning bag version succeeded - assigned v1", "Copying to storage succeeded", "Registering bag succeeded - stored digitised/b1 v1"}
	if in.Status != model.IngestSucceeded || in.Version != 1 || !reflect.DeepEqual(descriptions(in), want) {
		t.Fatalf("ingest %s v%d events %q", in.Status, in.Version, descriptions(in))
	}
	m, err := e.st.LatestStorageManifest(t.Context(), "digitised", "b1")
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != 1 || m.IngestID != id || m.Info.SourceOrganization != "Wellcome" || m.Info.PayloadOxum != gen.PayloadOxum ||
		m.Location.Path != "digitised/b1" || m.Manifest.ChecksumAlgorithm != "SHA-256" || len(m.Manifest.Files) != len(gen.Payload) {
		t.Fatalf("manifest %+v", m)
	}
	for _, f := range m.Manifest.Files {
		g := gen.Payload[f.Name]
		if f.Checksum != g.Sums["sha256"] || f.Size != g.Size || f.Path != "v1/"+f.Name {
			t.Errorf("file %+v, generated %+v", f, g)
		}
		data, err := os.ReadFile(filepath.Join(e.storage, "digitised", "b1", f.Path))
		if err != nil || int64(len(data)) != f.Size {
			t.Errorf("stored %s: %d bytes, %v", f.Path, len(data), err)
		}
	}
	if len(m.TagManifest.Files) != len(gen.Tag) {
		t.Errorf("tag manifest %+v", m.TagManifest)
	}
	// The scratch directory goes after the final status is written.
	deadline := time.Now().Add(10 * time.Second)
	for _, d := range []string{filepath.Join(e.dir, "work"), filepath.Join(e.storage, ".staging")} {
		for {
			ents, _ := os.ReadDir(d)
			if len(ents) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not cleaned up: %v", d, ents)
			}
			time.Sleep(5 * time.Millisecond) // polling a condition, bounded by the deadline
		}
	}
}

func TestUpdateAddsVersions(t *testing.T) {
	e := newEnv(t)
	e.startWorker(t, e.st, nil)
	e.putBag(t, "v1.tar.gz", bagtest.Options{ExternalIdentifier: "PP/MIA/1"})
	gen2 := e.putBag(t, "v2.tar.gz", bagtest.Options{ExternalIdentifier: "PP/MIA/1", Files: map[string]string{"data/new.txt": "second version"}})
	if in := e.waitDone(t, e.create(t, model.IngestCreate, "PP/MIA/1", "v1.tar.gz", "")); in.Status != model.IngestSucceeded {
		t.Fatalf("v1: %q", descriptions(in))
	}
	in := e.waitDone(t, e.create(t, model.IngestUpdate, "PP/MIA/1", "v2.tar.gz", ""))
	if in.Status != model.IngestSucceeded || in.Version != 2 {
		t.Fatalf("v2: %s %q", in.Status, descriptions(in))
	}
	list, err := e.st.ListVersions(t.Context(), "digitised", "PP/MIA/1", 0)
	if err != nil || len(list) != 2 || list[0].Version != 2 || list[1].Version != 1 {
		t.Fatalf("versions %+v %v", list, err)
	}
	m, _ := e.st.LatestStorageManifest(t.Context(), "digitised", "PP/MIA/1")
	if len(m.Manifest.Files) != 1 || m.Manifest.Files[0].Checksum != gen2.Payload["data/new.txt"].Sums["sha256"] {
		t.Fatalf("v2 manifest %+v", m.Manifest)
	}
	if _, err := os.Stat(filepath.Join(e.storage, "digitised", "PP", "MIA", "1", "v2", "data", "new.txt")); err != nil {
		t.Fatal(err)
	}
}

func ptr(s string) *string { return &s }

func TestFailedIngests(t *testing.T) {
	e := newEnv(t)
	e.startWorker(t, e.st, nil)
	e.putBag(t, "exists.tar.gz", bagtest.Options{ExternalIdentifier: "exists"})
	if in := e.waitDone(t, e.create(t, model.IngestCreate, "exists", "exists.tar.gz", "")); in.Status != model.IngestSucceeded {
		t.Fatalf("setup: %q", descriptions(in))
	}
	for _, tt := range []struct {
		name string
		typ  model.IngestType
		ext  string
		o    *bagtest.Options // nil: no source file
		want string
	}{
		{"bad checksum", model.IngestCreate, "b1", &bagtest.Options{BadChecksum: "data/a.txt"}, "Verification failed - checksum mismatch for data/a.txt"},
		{"wrong external identifier", model.IngestCreate, "b1", &bagtest.Options{InfoIdentifier: ptr("other")}, "Verification failed - External-Identifier in bag-info.txt (other) does not match the ingest's (b1)"},
		{"missing file", model.IngestCreate, "b1", &bagtest.Options{MissingFile: "data/a.txt"}, "Verification failed - missing file data/a.txt listed in manifest-sha256.txt"},
		{"extra file", model.IngestCreate, "b1", &bagtest.Options{ExtraFile: "data/x.txt"}, "Verification failed - unlisted payload file data/x.txt (not in manifest-sha256.txt)"},
		{"path escape", model.IngestCreate, "b1", &bagtest.Options{ExtraEntries: []bagtest.Entry{{Name: "../../evil", Data: "x"}}}, "Unpacking failed - entry ../../evil escapes the archive (.. in path)"},
		{"symlink", model.IngestCreate, "b1", &bagtest.Options{ExtraEntries: []bagtest.Entry{{Name: "data/l", Typeflag: '2', Linkname: "/etc/passwd"}}}, "Unpacking failed - entry data/l is a symbolic link; links are not allowed"},
		{"missing source", model.IngestCreate, "b1", nil, "Unpacking failed - there is no archive at uploads/missing source.tar.gz"},
		{"duplicate create", model.IngestCreate, "exists", &bagtest.Options{}, "Assigning bag version failed - bag digitised/exists already exists; use an update ingest to add a version"},
		{"update of a missing bag", model.IngestUpdate, "nope", &bagtest.Options{}, "Assigning bag version failed - bag digitised/nope does not exist; use a create ingest for a new bag"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := tt.name + ".tar.gz"
			if tt.o != nil {
				tt.o.ExternalIdentifier = tt.ext
				e.putBag(t, src, *tt.o)
			}
			in := e.waitDone(t, e.create(t, tt.typ, tt.ext, src, ""))
			ds := descriptions(in)
			if in.Status != model.IngestFailed || len(ds) == 0 || ds[len(ds)-1] != tt.want {
				t.Fatalf("%s %q\nwant last event %q", in.Status, ds, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(e.dir, "evil")); err == nil {
		t.Fatal("path escape wrote outside the work directory")
	}
	if list, _ := e.st.ListVersions(t.Context(), "digitised", "b1", 0); len(list) != 0 {
		t.Fatalf("failed ingests stored versions: %+v", list)
	}
}

func TestCallback(t *testing.T) {
	type got struct {
		ct   string
		body map[string]any
	}
	received := make(chan got, 10)
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		received <- got{r.Header.Get("Content-Type"), m}
	}))
	t.Cleanup(ok.Close)
	var tries atomic.Int32
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tries.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(failing.Close)

	e := newEnv(t)
	e.startWorker(t, e.st, func(c *Config, _ *Worker) { c.CallbackTries = 3 })
	e.putBag(t, "b1.tar.gz", bagtest.Options{ExternalIdentifier: "b1"})
	in := e.waitDone(t, e.create(t, model.IngestCreate, "b1", "b1.tar.gz", ok.URL+"/cb"))
	if in.Callback.Status != model.CallbackSucceeded {
		t.Fatalf("callback status %s", in.Callback.Status)
	}
	select {
	case g := <-received:
		if g.ct != "application/json" || g.body["id"] != in.ID.String() || g.body["type"] != "Ingest" ||
			g.body["status"].(map[string]any)["id"] != "succeeded" {
			t.Fatalf("callback got %s %v", g.ct, g.body)
		}
	default:
		t.Fatal("callback not received")
	}

	in = e.waitDone(t, e.create(t, model.IngestCreate, "b2", "nothing.tar.gz", failing.URL))
	if in.Status != model.IngestFailed || in.Callback.Status != model.CallbackFailed || tries.Load() != 3 {
		t.Fatalf("failing callback: %s %s after %d tries", in.Status, in.Callback.Status, tries.Load())
	}
}

// Many ingests, two workers (each with its own store handle, as two
// processes) on one database: each ingest is processed exactly once.
func TestTwoWorkersNeverDoubleProcess(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testTwoWorkers(t, newEnv(t)) })
	t.Run("postgres", func(t *testing.T) { testTwoWorkers(t, newPostgresEnv(t)) })
}

func testTwoWorkers(t *testing.T, e *env) {
	var mu sync.Mutex
	started := map[uuid.UUID][]string{}
	hook := func(name string) func(*Config, *Worker) {
		return func(c *Config, w *Worker) {
			c.Owner = name
			w.stepHook = func(_ context.Context, id uuid.UUID, step string) {
				if step == stepUnpack {
					mu.Lock()
					started[id] = append(started[id], name)
					mu.Unlock()
				}
			}
		}
	}
	e.startWorker(t, e.open(t), hook("w1"))
	e.startWorker(t, e.open(t), hook("w2"))
	const n = 24
	ids := make([]uuid.UUID, n)
	for i := range n {
		ext := fmt.Sprintf("bag%d", i)
		e.putBag(t, ext+".tar.gz", bagtest.Options{ExternalIdentifier: ext})
		ids[i] = e.create(t, model.IngestCreate, ext, ext+".tar.gz", "")
	}
	per := map[string]int{}
	for _, id := range ids {
		in := e.waitDone(t, id)
		if in.Status != model.IngestSucceeded {
			t.Errorf("%s: %q", id, descriptions(in))
		}
		if c := strings.Count(strings.Join(descriptions(in), "\n"), "Unpacking started"); c != 1 {
			t.Errorf("%s unpacked %d times", id, c)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if len(started[id]) != 1 {
			t.Errorf("%s processed by %v", id, started[id])
		}
		for _, o := range started[id] {
			per[o]++
		}
	}
	t.Logf("ingests per worker: %v", per)
}

// A worker whose lease expires mid-ingest (it hangs) loses the ingest to
// another worker, which finishes it; the first one's writes are refused.
func TestExpiredLeaseIsTakenOver(t *testing.T) {
	e := newEnv(t)
	const lease = time.Minute
	inHook, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	stuck := e.startWorker(t, e.open(t), func(c *Config, w *Worker) {
		c.Owner, c.LeaseDuration, c.Concurrency = "stuck", lease, 1
		w.stepHook = func(ctx context.Context, _ uuid.UUID, step string) {
			if step == stepCopy {
				once.Do(func() { close(inHook) })
				select {
				case <-release:
				case <-ctx.Done():
				}
			}
		}
	})
	e.putBag(t, "b1.tar.gz", bagtest.Options{ExternalIdentifier: "b1"})
	id := e.create(t, model.IngestCreate, "b1", "b1.tar.gz", "")
	select {
	case <-inHook:
	case <-time.After(30 * time.Second):
		t.Fatal("stuck worker never reached the copy step")
	}
	// The second worker lives two lease durations later.
	e.startWorker(t, e.open(t), func(c *Config, _ *Worker) {
		c.Owner, c.LeaseDuration = "rescuer", lease
		c.Now = func() time.Time { return time.Now().Add(2 * lease) }
	})
	in := e.waitDone(t, id)
	close(release)
	if in.Status != model.IngestSucceeded || in.Version != 1 {
		t.Fatalf("%s %q", in.Status, descriptions(in))
	}
	// The stuck worker wakes up, finds its lease gone and writes nothing.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := stuck.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	after, _ := e.st.GetIngest(t.Context(), id)
	if !reflect.DeepEqual(after, in) {
		t.Fatalf("stuck worker changed the ingest:\n%q\n%q", descriptions(after), descriptions(in))
	}
	if c := strings.Count(strings.Join(descriptions(in), "\n"), "Unpacking started"); c != 2 {
		t.Errorf("want the ingest started twice (once per worker), got %d: %q", c, descriptions(in))
	}
	if list, _ := e.st.ListVersions(t.Context(), "digitised", "b1", 0); len(list) != 1 {
		t.Fatalf("versions %+v", list)
	}
}

func TestConfigValidate(t *testing.T) {
	err := Config{PollInterval: -1, Concurrency: -1, Callbacks: egress.Config{Allow: []string{"127.0.0.1"}}}.Validate()
	for _, f := range []string{"store:", "bucketsDir:", "storageDir:", "pollInterval:", "concurrency:", `callbacks.allow[0]: "127.0.0.1" is not a CIDR`} {
		if err == nil || !strings.Contains(err.Error(), f) {
			t.Errorf("error %v does not name %s", err, f)
		}
	}
}
