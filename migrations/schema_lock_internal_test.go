package migrations

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/pgcluster"
)

// A session that holds the schema lock and never lets go (a stuck process)
// makes creating the schema fail after the wait, saying what to do, instead
// of hanging.
func TestCreateSchema_WaitsForAStuckHolderBoundedly(t *testing.T) {
	server := os.Getenv("TEST_DATABASE_URL")
	if server == "" {
		c, err := pgcluster.Start()
		if err != nil {
			t.Skipf("TEST_DATABASE_URL is unset and no throwaway cluster could be started: %v", err)
		}
		t.Cleanup(func() { _ = c.Stop() })
		server = c.URL
	}
	db := scratchDatabase(t, server)
	holder, err := pgx.Connect(t.Context(), db)
	require.NoError(t, err)
	defer holder.Close(t.Context())
	tx, err := holder.Begin(t.Context())
	require.NoError(t, err)
	defer tx.Rollback(t.Context())
	_, err = tx.Exec(t.Context(), "SELECT pg_advisory_xact_lock($1)", schemaLockKey)
	require.NoError(t, err)

	pool, err := pgxpool.New(t.Context(), db)
	require.NoError(t, err)
	defer pool.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second) // a hang fails, not waits for the test timeout
	defer cancel()
	err = createSchema(ctx, pool, 200*time.Millisecond)
	require.ErrorContains(t, err, "pg_terminate_backend")
	require.ErrorContains(t, err, "held the lock on creating it for 200ms")

	require.NoError(t, tx.Rollback(t.Context()))
	require.NoError(t, createSchema(t.Context(), pool, 200*time.Millisecond), "once the holder lets go")
}

// scratchDatabase creates an empty database on admin's server, dropped at
// cleanup, and returns its URL: the schema is created there, not in the
// database the tests were given.
func scratchDatabase(t *testing.T, admin string) string {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), admin)
	require.NoError(t, err)
	defer conn.Close(t.Context())
	name := fmt.Sprintf("ddbsync_test_%d", time.Now().UnixNano())
	_, err = conn.Exec(t.Context(), "CREATE DATABASE "+name)
	require.NoError(t, err)
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), admin)
		if err != nil {
			t.Logf("dropping %s: %v", name, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("dropping %s: %v", name, err)
		}
	})
	if u, err := url.Parse(admin); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path = "/" + name
		return u.String()
	}
	return admin + " dbname=" + name // a keyword/value connection string
}
