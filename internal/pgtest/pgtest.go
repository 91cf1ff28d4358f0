// Package pgtest gives each test its own PostgreSQL database.
//
// The server is the one TEST_DATABASE_URL names. When that is unset, the
// first test to ask starts a throwaway cluster (initdb + pg_ctl in a temp
// directory, listening only on a Unix socket) that lasts for the test binary;
// call [Main] from TestMain so it is stopped at the end. Every test gets a
// fresh database with ddbsync's migrations applied, dropped in the
// background once the test is over; [Main] waits a little for the drops.
//
// The migrations run once per server, not once per test: the first test
// binary to need it builds a template database named after
// [migrations.Fingerprint] (see template.go), and each test's database is a
// copy of it (CREATE DATABASE … TEMPLATE), much faster than migrating.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddbsync/ddbsync/internal/pgcluster"
)

// EnvURL names the variable holding the server to test against.
const EnvURL = "TEST_DATABASE_URL"

var (
	// mu guards the three below.
	mu       sync.Mutex
	server   string // admin URL of the server in use
	cluster  *pgcluster.Cluster
	template string // name of the migrated template database, once made
)

// drops is the queue of databases to drop. One goroutine at a time drops
// what has queued, several at once: each DROP DATABASE forces a checkpoint,
// which takes seconds on a busy server with fsync on, and drops made
// together share one. [Main] waits a while for the queue to drain.
var drops struct {
	sync.Mutex
	queue   []string
	running bool
	wg      sync.WaitGroup
}

// Parallel is how many parallel tests [Main] lets run at once unless
// -test.parallel is given. The default, GOMAXPROCS, suits tests that use the
// CPU; these mostly wait on PostgreSQL and on pollers, so on a 2-core
// machine two at a time leaves it idle. Each test holds a handful of
// connections at most, so with go test running packages at once this stays
// well inside max_connections (100 by default).
const Parallel = 4

// Main runs the tests and stops the throwaway cluster, if one was started.
// Use it as: func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }.
// Unless -test.parallel is given, it runs up to max([Parallel], GOMAXPROCS)
// parallel tests at once.
func Main(m *testing.M) int {
	if !flag.Parsed() {
		flag.Parse()
	}
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		_ = flag.Set("test.parallel", strconv.Itoa(max(Parallel, runtime.GOMAXPROCS(0))))
	}
	code := m.Run()
	awaitDrops(dropWait)
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
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := fmt.Sprintf("%s%d_%s", testPrefix, time.Now().Unix(), hex.EncodeToString(b))
	if err := createFromTemplate(ctx, admin, name); err != nil {
		t.Fatalf("pgtest: creating database: %v", err)
	}
	// A database a binary without Main leaves behind is swept an hour later
	// (see sweepTestDatabases).
	t.Cleanup(func() { queueDrop(admin, name) })
	return withDatabase(admin, name)
}

// queueDrop queues database name for dropping, starting the dropping
// goroutine if it is not running.
func queueDrop(admin, name string) {
	mu.Lock()
	throwaway := cluster != nil // stopping it removes every database
	mu.Unlock()
	if throwaway {
		return
	}
	drops.Lock()
	defer drops.Unlock()
	drops.queue = append(drops.queue, name)
	if !drops.running {
		drops.running = true
		drops.wg.Go(func() { dropQueued(admin) })
	}
}

// dropWait is how long [Main] waits for the last drops. A checkpoint on a
// busy shared server can take a minute; the databases not dropped by then
// (some left invalid by a drop cut short) are dropped an hour later by
// sweepTestDatabases, when a test binary next starts.
const dropWait = 10 * time.Second

func awaitDrops(d time.Duration) {
	idle := make(chan struct{})
	go func() { drops.wg.Wait(); close(idle) }()
	select {
	case <-idle:
	case <-time.After(d):
	}
}

// dropQueued drops the queued databases, batch after batch, until none is
// left.
func dropQueued(admin string) {
	for {
		drops.Lock()
		batch := drops.queue
		drops.queue = nil
		if len(batch) == 0 {
			drops.running = false
			drops.Unlock()
			return
		}
		drops.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		var wg sync.WaitGroup
		sem := make(chan struct{}, 16)
		for _, name := range batch {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				if err := dropDatabase(ctx, admin, name); err != nil {
					fmt.Fprintf(os.Stderr, "pgtest: dropping %s: %v\n", name, err)
				}
			})
		}
		wg.Wait()
		cancel()
	}
}

func dropDatabase(ctx context.Context, admin, name string) error {
	c, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	return err
}

// testPrefix starts the name of every test database; the Unix time of its
// making follows.
const testPrefix = "ddbsync_test_"

// createFromTemplate creates database name as a copy of the migrated
// template, making the template first if this binary has not yet.
func createFromTemplate(ctx context.Context, admin, name string) error {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", redact(admin), err)
	}
	defer conn.Close(ctx)
	for attempt := 0; ; attempt++ {
		tmpl, err := migratedTemplate(ctx, conn, admin)
		if err != nil {
			return err
		}
		_, err = conn.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE "+tmpl)
		var pgErr *pgconn.PgError
		switch {
		case err == nil:
			return nil
		case attempt >= 200 || !errors.As(err, &pgErr):
			return err
		case pgErr.Code == codeObjectInUse: // a session is connected to the template
		case pgErr.Code == codeInvalidCatalogName: // the template was dropped by a binary of other migrations
			forgetTemplate(tmpl)
		default:
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %w)", ctx.Err(), err)
		case <-time.After(time.Duration(5+attempt) * time.Millisecond):
		}
	}
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
