package worker

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
)

// newPostgresEnv is newEnv on a fresh schema of the PostgreSQL server
// named by PORTWAY_TEST_POSTGRES_DSN, or skips the test.
func newPostgresEnv(t *testing.T) *env {
	t.Helper()
	dsn := os.Getenv("PORTWAY_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("PostgreSQL tests skipped: set PORTWAY_TEST_POSTGRES_DSN (internal/storage/store/testdata/start-postgres.sh prints one)")
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	schema := "w_" + uuid.NewString()[:8]
	if _, err := admin.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE")
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	dir := t.TempDir()
	e := &env{dir: dir, buckets: filepath.Join(dir, "buckets"), storage: filepath.Join(dir, "storage"), dsn: u.String()}
	e.st = e.open(t)
	return e
}
