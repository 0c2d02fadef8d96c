package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portway/portway/internal/storage/pgtest"

	"github.com/portway/portway/internal/storage/bagtest"
)

type ingestView struct {
	ID     string `json:"id"`
	Status struct {
		ID string `json:"id"`
	} `json:"status"`
	Bag struct {
		Info struct {
			Version string `json:"version"`
		} `json:"info"`
	} `json:"bag"`
	Events []struct {
		Description string `json:"description"`
	} `json:"events"`
}

func startIngestApp(t *testing.T, cfg Config) *App {
	t.Helper()
	cfg.Kind, cfg.Listen = KindIngests, "127.0.0.1:0"
	cfg.PollInterval = 20 * time.Millisecond
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		http.DefaultClient.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return a
}

func waitIngest(t *testing.T, url string) ingestView {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, body := call(t, "GET", url, "", "")
		var v ingestView
		if res.StatusCode != 200 || json.Unmarshal([]byte(body), &v) != nil {
			t.Fatalf("GET %s: %d %s", url, res.StatusCode, body)
		}
		if v.Status.ID == "succeeded" || v.Status.ID == "failed" {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("ingest not done: %s", body)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, bounded by the deadline
	}
}

// The ingests app's worker processes what its API accepted; the bags app
// serves the result. The state dir defaults to the database's directory.
// On PostgreSQL the state dir is given; the store is a fresh schema.
func TestIngestIsProcessed(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		state := t.TempDir()
		db := filepath.Join(state, "storage.db")
		testIngestIsProcessed(t, state, Config{DBPath: db})
	})
	t.Run("postgres", func(t *testing.T) {
		state := t.TempDir()
		testIngestIsProcessed(t, state, Config{Store: freshPostgresSchema(t), StateDir: state})
	})
}

// freshPostgresSchema gives the test a PostgreSQL schema of its own (see
// pgtest) and returns its DSN, or skips the test.
func freshPostgresSchema(t *testing.T) string {
	t.Helper()
	dsn, _, _ := pgtest.FreshSchema(t, pgtest.DSN(t), "a_")
	return dsn
}

func testIngestIsProcessed(t *testing.T, state string, storeCfg Config) {
	ing := startIngestApp(t, storeCfg)
	bagsCfg := storeCfg
	bagsCfg.Kind, bagsCfg.Listen = KindBags, "127.0.0.1:0"
	bagsApp, err := New(bagsCfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := bagsApp.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		http.DefaultClient.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := bagsApp.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	gen := bagtest.MustBuild(t, bagtest.Options{ExternalIdentifier: "b1"})
	gen.WriteFile(t, filepath.Join(state, "buckets", "uploads", "b.tar.gz"))

	res, body := call(t, "POST", ing.URL()+"/ingests", "application/json", fmt.Sprintf(ingestBody, "b1"))
	if res.StatusCode != 201 {
		t.Fatalf("POST: %d %s", res.StatusCode, body)
	}
	v := waitIngest(t, res.Header.Get("Location"))
	if v.Status.ID != "succeeded" || v.Bag.Info.Version != "v1" {
		t.Fatalf("ingest %+v", v)
	}
	res, body = call(t, "GET", bagsApp.URL()+"/bags/digitised/b1", "", "")
	if res.StatusCode != 200 {
		t.Fatalf("GET bag: %d %s", res.StatusCode, body)
	}
	for name, fs := range gen.Payload {
		if !strings.Contains(body, `"name":"`+name+`"`) || !strings.Contains(body, fs.Sums["sha256"]) {
			t.Errorf("manifest lacks %s %s: %s", name, fs.Sums["sha256"], body)
		}
	}

	// A corrupt bag fails with the event naming the file.
	bad := bagtest.MustBuild(t, bagtest.Options{ExternalIdentifier: "b2", BadChecksum: "data/a.txt"})
	bad.WriteFile(t, filepath.Join(state, "buckets", "uploads", "b.tar.gz"))
	res, body = call(t, "POST", ing.URL()+"/ingests", "application/json", fmt.Sprintf(ingestBody, "b2"))
	if res.StatusCode != 201 {
		t.Fatalf("POST: %d %s", res.StatusCode, body)
	}
	v = waitIngest(t, res.Header.Get("Location"))
	if last := v.Events[len(v.Events)-1].Description; v.Status.ID != "failed" || last != "Verification failed - checksum mismatch for data/a.txt" {
		t.Fatalf("corrupt bag: %+v", v)
	}
}

func TestStoreAndStateDirConfig(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"store path only", Config{Kind: KindIngests, Listen: "127.0.0.1:0", Store: "/x/s.db"}, ""},
		{"postgres without state dir", Config{Kind: KindIngests, Listen: "127.0.0.1:0", Store: "postgres://u@127.0.0.1/db"}, "stateDir: must be set"},
		{"postgres with state dir", Config{Kind: KindIngests, Listen: "127.0.0.1:0", Store: "postgres://u@127.0.0.1/db", StateDir: "/x"}, ""},
		{"postgres bags", Config{Kind: KindBags, Listen: "127.0.0.1:0", Store: "postgres://u@127.0.0.1/db"}, ""},
		{"bad store", Config{Kind: KindBags, Listen: "127.0.0.1:0", Store: "file:x"}, "store: must be a postgres:// URL or a plain file path"},
		{"negative lease", Config{Kind: KindBags, Listen: "127.0.0.1:0", DBPath: "/x.db", LeaseDuration: -1}, "leaseDuration:"},
		{"negative poll", Config{Kind: KindBags, Listen: "127.0.0.1:0", DBPath: "/x.db", PollInterval: -1}, "pollInterval:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
	if d := (Config{DBPath: "/s/storage.db"}).stateDir(); d != "/s" {
		t.Errorf("default state dir %q", d)
	}
}
