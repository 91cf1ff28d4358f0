package migrations_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/pgcluster"
	"github.com/ddbsync/ddbsync/migrations"
)

// serverURL is the server TEST_DATABASE_URL names, else a throwaway cluster
// that lasts for the test.
func serverURL(t *testing.T) string {
	t.Helper()
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	c, err := pgcluster.Start()
	if err != nil {
		t.Skipf("TEST_DATABASE_URL is unset and no throwaway cluster could be started: %v", err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	return c.URL
}

// emptyDatabase creates a database with nothing in it (pgtest's are already
// migrated) and returns its URL; it is dropped at cleanup.
func emptyDatabase(t *testing.T, admin string) string {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, admin)
	require.NoError(t, err)
	defer conn.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "ddbsync_test_" + hex.EncodeToString(b)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+name)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Logf("dropping %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("dropping %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return admin + " dbname=" + name // a keyword/value connection string
	}
	u.Path = "/" + name
	return u.String()
}

func TestUp_ConcurrentOnFreshDatabase(t *testing.T) {
	// Several ddbsync processes may start together on a new database; each
	// runs Up. Creating the schema raced (SQLSTATE 23505 on pg_namespace).
	// Each round takes some seconds: goose polls its lock every 5 s.
	const rounds, callers = 3, 8
	admin := serverURL(t)
	for round := range rounds {
		dbURL := emptyDatabase(t, admin)
		errs := make([]error, callers)
		var connected, done sync.WaitGroup
		start := make(chan struct{})
		connected.Add(callers)
		for i := range callers {
			done.Go(func() {
				// One pool per caller, as separate processes would have,
				// connected before the start so that the calls collide.
				pool, err := pgxpool.New(t.Context(), dbURL)
				if err == nil {
					defer pool.Close()
					err = pool.Ping(t.Context())
				}
				connected.Done()
				<-start
				if err == nil {
					err = migrations.Up(t.Context(), pool, nil)
				}
				errs[i] = err
			})
		}
		connected.Wait()
		close(start)
		done.Wait()
		for i, err := range errs {
			require.NoError(t, err, "round %d, caller %d", round, i)
		}
	}
}

func TestUp_Idempotent(t *testing.T) {
	pool, err := pgxpool.New(t.Context(), emptyDatabase(t, serverURL(t)))
	require.NoError(t, err)
	defer pool.Close()
	require.NoError(t, migrations.Up(t.Context(), pool, nil))
	require.NoError(t, migrations.Up(t.Context(), pool, nil))
	var n int
	require.NoError(t, pool.QueryRow(t.Context(), "SELECT count(*) FROM ddbsync.goose_db_version").Scan(&n))
	require.Positive(t, n)
}

// A session that holds the schema lock and never lets go (a stuck process)
// makes creating the schema fail after the wait, saying what to do, instead
// of hanging.
func TestCreateSchema_WaitsForAStuckHolderBoundedly(t *testing.T) {
	dbURL := emptyDatabase(t, serverURL(t))
	holder, err := pgx.Connect(t.Context(), dbURL)
	require.NoError(t, err)
	defer holder.Close(t.Context())
	tx, err := holder.Begin(t.Context())
	require.NoError(t, err)
	defer tx.Rollback(t.Context())
	_, err = tx.Exec(t.Context(), "SELECT pg_advisory_xact_lock($1)", migrations.SchemaLockKey)
	require.NoError(t, err)

	pool, err := pgxpool.New(t.Context(), dbURL)
	require.NoError(t, err)
	defer pool.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second) // a hang fails, not waits for the test timeout
	defer cancel()
	err = migrations.CreateSchema(ctx, pool, 200*time.Millisecond)
	require.ErrorContains(t, err, "pg_terminate_backend")
	require.ErrorContains(t, err, "held the lock on creating it for 200ms")

	require.NoError(t, tx.Rollback(t.Context()))
	require.NoError(t, migrations.CreateSchema(t.Context(), pool, 200*time.Millisecond), "once the holder lets go")
}

// migratedTo is a fresh database with the migrations up to version applied,
// as an earlier ddbsync left it.
func migratedTo(t *testing.T, version int64) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(t.Context(), emptyDatabase(t, serverURL(t)))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = pool.Exec(t.Context(), "CREATE SCHEMA ddbsync")
	require.NoError(t, err)
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, os.DirFS("."), goose.WithTableName("ddbsync.goose_db_version"))
	require.NoError(t, err)
	_, err = p.UpTo(t.Context(), version)
	require.NoError(t, err)
	return pool
}
