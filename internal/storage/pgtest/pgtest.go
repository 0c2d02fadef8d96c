// Package pgtest gives tests a PostgreSQL schema of their own on the server
// named by $PORTWAY_TEST_POSTGRES_DSN (internal/storage/store/testdata/
// start-postgres.sh starts one and prints its DSN).
package pgtest

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// EnvDSN names the variable that holds the test server's DSN.
const EnvDSN = "PORTWAY_TEST_POSTGRES_DSN"

// DSN returns the test server's DSN, or skips the test when none is set.
func DSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		tb.Skip("PostgreSQL tests skipped: set " + EnvDSN + " (internal/storage/store/testdata/start-postgres.sh prints one)")
	}
	return dsn
}

// FreshSchema creates a schema named prefix+random on the server at dsn,
// dropped when the test ends, and returns dsn with search_path set to it,
// an admin connection (closed when the test ends) and the schema's name.
func FreshSchema(tb testing.TB, dsn, prefix string) (schemaDSN string, admin *sql.DB, schema string) {
	tb.Helper()
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { admin.Close() })
	schema = prefix + uuid.NewString()[:8]
	if _, err := admin.ExecContext(tb.Context(), "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), admin, schema
}
