package store

import (
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/pgtest"
)

// otherSession holds kind's lock on table in a session of its own, as
// another ddbsync process would.
func otherSession(t *testing.T, url string, kind LockKind, table string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(t.Context()) })
	var ok bool
	require.NoError(t, conn.QueryRow(t.Context(), "SELECT pg_try_advisory_lock($1)", kind.key(table)).Scan(&ok))
	require.True(t, ok)
	return conn
}

func poolOn(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

func TestLock_ReleaseFreesTheLockBeforeReturning(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	next, err := pool.Acquire(t.Context())
	require.NoError(t, err)
	defer next.Release()
	for range 20 {
		l, err := LockTable(t.Context(), pool, 0, LockLoad, "T")
		require.NoError(t, err)
		l.Release(t.Context())
		// The next command of a script, without any wait.
		var ok bool
		require.NoError(t, next.QueryRow(t.Context(), "SELECT pg_try_advisory_lock($1)", LockLoad.key("T")).Scan(&ok))
		require.True(t, ok, "the lock is free as soon as Release returns")
		_, err = next.Exec(t.Context(), "SELECT pg_advisory_unlock_all()")
		require.NoError(t, err)
	}
}

func TestLock_WaitsForAHolderThatLetsGo(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	pool := poolOn(t, url)
	other := otherSession(t, url, LockFollow, "T")
	letGo := make(chan struct{})
	go func() {
		defer close(letGo)
		time.Sleep(200 * time.Millisecond)
		_, _ = other.Exec(t.Context(), "SELECT pg_advisory_unlock_all()")
	}()
	l, err := LockTable(t.Context(), pool, time.Minute, LockFollow, "T")
	// The other session's connection is closed at cleanup, and a pgx
	// connection is not for two goroutines: its Exec must have returned.
	<-letGo
	require.NoError(t, err, "the lock is taken once the other process lets go, within the timeout")
	l.Release(t.Context())
}

func TestLock_RefusesAfterTheTimeout(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	pool := poolOn(t, url)
	otherSession(t, url, LockLoad, "T")

	_, err := LockTable(t.Context(), pool, 100*time.Millisecond, LockLoad, "T")
	require.ErrorIs(t, err, ErrBusy)
	var busy *BusyError
	require.True(t, errors.As(err, &busy))
	require.Equal(t, "load", busy.Holder)
	require.Contains(t, err.Error(), "another ddbsync load of this table (T) is running; waited 100ms")

	// No wait at all.
	_, err = LockTable(t.Context(), pool, 0, LockLoad, "T")
	require.ErrorIs(t, err, ErrBusy)

	// Other kinds and other tables are free.
	l, err := LockTable(t.Context(), pool, 0, LockFollow, "T")
	require.NoError(t, err)
	l.Release(t.Context())
	l, err = LockTable(t.Context(), pool, 0, LockLoad, "U")
	require.NoError(t, err)
	l.Release(t.Context())
}

func TestLock_FailedAcquireReleasesWhatItTook(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	pool := poolOn(t, url)
	otherSession(t, url, LockLoad, "T")
	conn, err := pool.Acquire(t.Context())
	require.NoError(t, err)
	defer conn.Release()
	locks := &TableLocks{conn: conn, table: "T", kinds: []LockKind{LockDiff, LockFollow, LockLoad}}
	require.ErrorIs(t, locks.Acquire(t.Context(), 0), ErrBusy)
	var held int
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = $1`,
		conn.Conn().PgConn().PID()).Scan(&held))
	require.Zero(t, held, "the diff and follow locks were given back")
	// The pooled connection keeps no lock_timeout of ours.
	var timeout string
	require.NoError(t, conn.QueryRow(t.Context(), "SHOW lock_timeout").Scan(&timeout))
	require.Equal(t, "0", timeout)
}

// Load workers share a table's load lock; a plain load has it alone, and
// each waits for the other.
func TestLock_SharedHoldersKeepAnExclusiveOneOut(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	a, err := LockTableShared(t.Context(), pool, 0, LockLoad, "T")
	require.NoError(t, err)
	b, err := LockTableShared(t.Context(), pool, 0, LockLoad, "T")
	require.NoError(t, err, "a second worker comes in")
	_, err = LockTable(t.Context(), pool, 0, LockLoad, "T")
	require.ErrorIs(t, err, ErrBusy, "a plain load stays out while workers run")
	a.Release(t.Context())
	b.Release(t.Context())

	excl, err := LockTable(t.Context(), pool, 0, LockLoad, "T")
	require.NoError(t, err, "the workers' releases free the lock")
	_, err = LockTableShared(t.Context(), pool, 0, LockLoad, "T")
	require.ErrorIs(t, err, ErrBusy, "a worker stays out while a plain load runs")
	excl.Release(t.Context())
}
