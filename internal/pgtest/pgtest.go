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
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddbsync/ddbsync/migrations"
)

// EnvURL names the variable holding the server to test against.
const EnvURL = "TEST_DATABASE_URL"

var (
	mu      sync.Mutex
	server  string // admin URL of the server in use
	cluster *throwaway
)

// Main runs the tests and stops the throwaway cluster, if one was started.
// Use it as: func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }.
func Main(m *testing.M) int {
	code := m.Run()
	mu.Lock()
	defer mu.Unlock()
	if cluster != nil {
		cluster.stop()
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
	c, err := startThrowaway()
	if err != nil {
		return "", fmt.Errorf("%s is unset and no throwaway cluster could be started: %w", EnvURL, err)
	}
	cluster = c
	server = c.url
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

// throwaway is a PostgreSQL cluster in a temporary directory.
type throwaway struct {
	dir   string
	bin   string
	runAs []string
	url   string
}

func startThrowaway() (*throwaway, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ddbsync-pgtest-")
	if err != nil {
		return nil, err
	}
	c := &throwaway{dir: dir, bin: bin}
	// initdb refuses to run as root; run the cluster as the postgres user.
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root and there is no postgres user to run the cluster as: %w", err)
		}
		c.runAs = []string{"runuser", "-u", u.Username, "--"}
		if err := exec.Command("chown", u.Username, dir).Run(); err != nil {
			return nil, fmt.Errorf("chown %s: %w", dir, err)
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := c.run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	opts := fmt.Sprintf("-c listen_addresses='' -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off", dir)
	if out, err := c.run("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "start"); err != nil {
		return nil, fmt.Errorf("pg_ctl start: %v: %s", err, out)
	}
	c.url = fmt.Sprintf("host=%s user=postgres dbname=postgres", dir)
	return c, nil
}

func (c *throwaway) run(name string, args ...string) ([]byte, error) {
	argv := append(append(append([]string{}, c.runAs...), filepath.Join(c.bin, name)), args...)
	return exec.Command(argv[0], argv[1:]...).CombinedOutput()
}

func (c *throwaway) stop() {
	_, _ = c.run("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "immediate", "stop")
	_ = os.RemoveAll(c.dir)
}

// findBinaries locates initdb and pg_ctl: on PATH, else the newest
// /usr/lib/postgresql/*/bin (Debian keeps them off PATH).
func findBinaries() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("initdb not found on PATH or in /usr/lib/postgresql/*/bin")
}

func versionOf(dir string) int {
	var v int
	fmt.Sscan(strings.TrimPrefix(filepath.Base(filepath.Dir(dir)), ""), &v)
	return v
}
