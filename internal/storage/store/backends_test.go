package store

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portway/portway/internal/storage/pgtest"
)

// PostgresDSNEnv names the environment variable with the DSN of a
// PostgreSQL server for the tests (testdata/start-postgres.sh prints one).
const PostgresDSNEnv = "PORTWAY_TEST_POSTGRES_DSN"

// opener opens a new handle on one test database each time it is called,
// as another process would.
type opener func(t *testing.T) *Store

// forEachBackend runs fn on a fresh SQLite database and, when
// PORTWAY_TEST_POSTGRES_DSN is set, on a fresh PostgreSQL schema.
func forEachBackend(t *testing.T, fn func(*testing.T, opener)) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "state", "storage.db")
		fn(t, func(t *testing.T) *Store { return openAt(t, path) })
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := os.Getenv(PostgresDSNEnv)
		if dsn == "" {
			t.Skipf("PostgreSQL tests skipped: set %s (internal/storage/store/testdata/start-postgres.sh prints one)", PostgresDSNEnv)
		}
		schemaDSN := freshSchema(t, dsn)
		fn(t, func(t *testing.T) *Store {
			s, err := OpenPostgres(t.Context(), schemaDSN, Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
}

// freshSchema creates a schema of its own for the test, dropped after it,
// and returns dsn with search_path set to it.
func freshSchema(t testing.TB, dsn string) string {
	t.Helper()
	schemaDSN, _, _ := pgtest.FreshSchema(t, dsn, "t_")
	return schemaDSN
}

func TestPostgresMigrationIsIdempotent(t *testing.T) {
	dsn := os.Getenv(PostgresDSNEnv)
	if dsn == "" {
		t.Skipf("PostgreSQL tests skipped: set %s", PostgresDSNEnv)
	}
	schemaDSN := freshSchema(t, dsn)
	// Several handles migrate the new schema at once.
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			s, err := OpenPostgres(t.Context(), schemaDSN, Options{})
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	s, err := OpenPostgres(t.Context(), schemaDSN, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var v, n int
	if err := s.r.QueryRowContext(t.Context(), `SELECT MAX(version), COUNT(*) FROM schema_version`).Scan(&v, &n); err != nil {
		t.Fatal(err)
	}
	if v != SchemaVersion() || n != SchemaVersion() || s.Backend() != "postgres" {
		t.Fatalf("schema version %d (%d rows) on %s", v, n, s.Backend())
	}
}

func TestPostgresErrorsHideThePassword(t *testing.T) {
	_, err := OpenPostgres(t.Context(), "postgres://u:s3cret@127.0.0.1:1/db?connect_timeout=2", Options{})
	if err == nil {
		t.Fatal("connected to port 1")
	}
	if s := fmt.Sprint(err); strings.Contains(s, "s3cret") || !strings.Contains(s, "127.0.0.1:1") {
		t.Fatalf("error leaks the password or hides the server: %s", s)
	}
}
