// Package pgtest gives each test its own PostgreSQL database.
//
// The server is the one TEST_DATABASE_URL names. When that is unset, the
// first test to ask starts a throwaway cluster (initdb + pg_ctl in a temp
// directory, listening only on a Unix socket) that lasts for the test binary;
// call [Main] from TestMain so it is stopped at the end. Every test gets a
// fresh database with ddbsync's migrations applied, dropped at cleanup.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddbsync/ddbsync/internal/pgcluster"
	"github.com/ddbsync/ddbsync/migrations"
)

// EnvURL names the variable holding the server to test against.
const EnvURL = "TEST_DATABASE_URL"

var (
	mu      sync.Mutex
	server  string // admin URL of the server in use
	cluster *pgcluster.Cluster
)

// Main runs the tests and stops the throwaway cluster, if one was started.
// Use it as: func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }.
func Main(m *testing.M) int {
	code := m.Run()
	mu.Lock()
	defer mu.Unlock()
	if cluster != nil {
		_ = cluster.Stop()
		cluster = nil
	}
	return code
}

// New returns a pool on a fresh, migrated database.
func New(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(t.Context(), URL(t))
	if err != nil {
		t.Fatalf("pgtest: connecting: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// URL creates a fresh, migrated database and returns its connection URL,
// for tests that hand it to a command line.
func URL(t testing.TB) string {
	t.Helper()
	admin, err := adminURL()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("pgtest: connecting to %s: %v", redact(admin), err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "ddbsync_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: creating database: %v", err)
	}
	dbURL := withDatabase(admin, name)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Logf("pgtest: dropping %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("pgtest: dropping %s: %v", name, err)
		}
	})
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatalf("pgtest: connecting: %v", err)
	}
	defer pool.Close()
	if err := migrations.Up(ctx, pool, nil); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return dbURL
}

func adminURL() (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if server != "" {
		return server, nil
	}
	if u := os.Getenv(EnvURL); u != "" {
		server = u
		return server, nil
	}
	c, err := pgcluster.Start()
	if err != nil {
		return "", fmt.Errorf("%s is unset and no throwaway cluster could be started: %w", EnvURL, err)
	}
	cluster = c
	server = c.URL
	return server, nil
}

func withDatabase(raw, db string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// A keyword/value connection string.
		return raw + " dbname=" + db
	}
	u.Path = "/" + db
	return u.String()
}

func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "(connection string)"
}
