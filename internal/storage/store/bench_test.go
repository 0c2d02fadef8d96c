package store

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/portway/portway/internal/storage/api"
	"github.com/portway/portway/internal/storage/bags"
	"github.com/portway/portway/internal/storage/ingests"
	"github.com/portway/portway/internal/storage/model"
)

// BenchmarkGet measures the app's GET paths, access log → handler → store,
// with the hot reads prepared once ("prepared") and parsed per request as
// before ("adhoc"), side by side:
//
//	go test -run '^$' -bench BenchmarkGet -count 5 ./internal/storage/store
//
// With PORTWAY_TEST_POSTGRES_DSN set it runs on PostgreSQL too.
func BenchmarkGet(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		s, err := Open(b.Context(), filepath.Join(b.TempDir(), "storage.db"), Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		benchmarkGet(b, s)
	})
	b.Run("postgres", func(b *testing.B) {
		dsn := os.Getenv(PostgresDSNEnv)
		if dsn == "" {
			b.Skipf("set %s", PostgresDSNEnv)
		}
		s, err := OpenPostgres(b.Context(), freshSchema(b, dsn), Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		benchmarkGet(b, s)
	})
}

func benchmarkGet(b *testing.B, s *Store) {
	ctx := b.Context()
	in := newIngest("b1")
	if err := s.CreateIngest(ctx, in); err != nil {
		b.Fatal(err)
	}
	for v := model.BagVersion(1); v <= 3; v++ {
		if err := s.PutStorageManifest(ctx, newManifest("b1", v)); err != nil {
			b.Fatal(err)
		}
	}
	// As the app logs: text lines at Info (here to nowhere).
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ih, err := ingests.NewHandler(ingests.Config{Store: s, Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	bh, err := bags.NewHandler(bags.Config{Store: s, Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	paths := []struct {
		name, path string
		h          http.Handler
	}{
		{"ingest", "/ingests/" + in.ID.String(), api.AccessLog(log, ih)},
		{"bag", "/bags/digitised/b1", api.AccessLog(log, bh)},
		{"bag-version", "/bags/digitised/b1?version=v2", api.AccessLog(log, bh)},
		{"versions", "/bags/digitised/b1/versions", api.AccessLog(log, bh)},
	}
	prepared, adhoc := s.reads, newReadStmts()
	for _, p := range paths {
		for _, mode := range []struct {
			name  string
			reads *readStmts
		}{{"adhoc", adhoc}, {"prepared", prepared}} {
			b.Run(p.name+"/"+mode.name, func(b *testing.B) {
				s.reads = mode.reads
				b.Cleanup(func() { s.reads = prepared })
				req := httptest.NewRequest(http.MethodGet, p.path, nil)
				b.ReportAllocs()
				for b.Loop() {
					w := httptest.NewRecorder()
					p.h.ServeHTTP(w, req)
					if w.Code != http.StatusOK {
						b.Fatalf("GET %s: %d %s", p.path, w.Code, w.Body)
					}
				}
			})
		}
	}
}
