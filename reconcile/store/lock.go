package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrBusy is a table that another ddbsync process is loading, following or
// diffing, still so after the lock timeout. The error is a [*BusyError].
var ErrBusy = errors.New("another ddbsync process holds this table")

// BusyError says which process holds a table, and how long we waited.
type BusyError struct {
	Table  string
	Holder string // "load", "follow" or "diff"
	Waited time.Duration
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("another ddbsync %s of this table (%s) is running; waited %s for it", e.Holder, e.Table, e.Waited)
}

// Is makes a BusyError match [ErrBusy].
func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// DefaultLockTimeout is how long load, follow and diff wait for another
// ddbsync process to let go of a table before they refuse with [ErrBusy].
// A script running `load && diff --repair` must not fail because the
// previous command's session is still closing; a real concurrent writer
// holds the table much longer than this.
const DefaultLockTimeout = 30 * time.Second

// LockKind is what a process does to a table: one process per kind and
// table at a time. The kind and table name make the advisory lock key, so
// every holder of a kind takes the same key.
type LockKind string

// The lock kinds.
const (
	LockLoad   LockKind = "load"
	LockFollow LockKind = "follow"
	LockDiff   LockKind = "diff"
)

func (k LockKind) key(table string) int64 {
	h := fnv.New64a()
	h.Write([]byte("ddbsync:" + string(k) + ":" + table))
	return int64(h.Sum64())
}

// SessionConn is the part of a connection the locks use; a *pgx.Conn and a
// *pgxpool.Conn both have it.
type SessionConn interface {
	Begin(ctx context.Context) (pgx.Tx, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// TableLocks are session advisory locks held on one connection.
type TableLocks struct {
	conn  SessionConn
	table string
	kinds []LockKind
	// shared takes the locks shared: holders of a shared lock exclude
	// only holders of the exclusive one (a shared follow's processes).
	shared bool
}

// NewTableLocks are the locks of kinds on table, to be taken on conn.
func NewTableLocks(conn SessionConn, table string, kinds ...LockKind) *TableLocks {
	return &TableLocks{conn: conn, table: table, kinds: kinds}
}

// acquire takes the locks of kinds on table, in order, waiting up to
// timeout for each (0: not at all). On failure it releases what it took.
func (l *TableLocks) Acquire(ctx context.Context, timeout time.Duration) error {
	for i, k := range l.kinds {
		if err := lockOne(ctx, l.conn, k.key(l.table), timeout, l.shared); err != nil {
			held := &TableLocks{conn: l.conn, table: l.table, kinds: l.kinds[:i], shared: l.shared}
			held.Release(ctx)
			if errors.Is(err, ErrBusy) {
				return &BusyError{Table: l.table, Holder: string(k), Waited: timeout}
			}
			return fmt.Errorf("taking the %s lock of table %s: %w", k, l.table, err)
		}
	}
	return nil
}

// release unlocks explicitly rather than leaving it to the connection's
// close: the server frees a closed session's locks some time after the
// client has gone, and the next command of a script must find them free.
func (l *TableLocks) Release(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	unlock := "SELECT pg_advisory_unlock($1)"
	if l.shared {
		unlock = "SELECT pg_advisory_unlock_shared($1)"
	}
	for i := len(l.kinds) - 1; i >= 0; i-- {
		_, _ = l.conn.Exec(ctx, unlock, l.kinds[i].key(l.table))
	}
}

// lockOne takes one session advisory lock. The wait is bounded by
// lock_timeout, set for a transaction only, so a pooled connection keeps
// its settings; the session lock outlives that transaction.
func lockOne(ctx context.Context, conn SessionConn, key int64, timeout time.Duration, shared bool) error {
	try, lock := "SELECT pg_try_advisory_lock($1)", "SELECT pg_advisory_lock($1)"
	if shared {
		try, lock = "SELECT pg_try_advisory_lock_shared($1)", "SELECT pg_advisory_lock_shared($1)"
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if timeout <= 0 {
		var ok bool
		if err := tx.QueryRow(ctx, try, key).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			return ErrBusy
		}
		return tx.Commit(ctx)
	}
	ms := max(1, timeout.Milliseconds())
	if _, err := tx.Exec(ctx, "SELECT set_config('lock_timeout', $1, true)", fmt.Sprint(ms)); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, lock, key); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "55P03" { // lock_not_available
			return ErrBusy
		}
		return err
	}
	return tx.Commit(ctx)
}

// OwnLock is a table lock held on a connection of its own, outside the
// pool, so that many tables followed by one process never starve the pool.
type OwnLock struct {
	conn  *pgx.Conn
	locks TableLocks
}

// LockTable takes the lock of kind on table on a new connection, waiting
// up to timeout for another process to let go of it.
func LockTable(ctx context.Context, pool *pgxpool.Pool, timeout time.Duration, kind LockKind, table string) (*OwnLock, error) {
	return lockTable(ctx, pool, timeout, kind, table, false)
}

// LockTableShared is [LockTable] with the lock taken shared: any number of
// holders of the shared lock, and none of the exclusive one, at a time.
func LockTableShared(ctx context.Context, pool *pgxpool.Pool, timeout time.Duration, kind LockKind, table string) (*OwnLock, error) {
	return lockTable(ctx, pool, timeout, kind, table, true)
}

func lockTable(ctx context.Context, pool *pgxpool.Pool, timeout time.Duration, kind LockKind, table string, shared bool) (*OwnLock, error) {
	conn, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("%s %s: connecting for the table lock: %w", kind, table, err)
	}
	l := &OwnLock{conn: conn, locks: TableLocks{conn: conn, table: table, kinds: []LockKind{kind}, shared: shared}}
	if err := l.locks.Acquire(ctx, timeout); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return l, nil
}

// Release unlocks the table and closes the lock's connection.
func (l *OwnLock) Release(ctx context.Context) {
	l.locks.Release(ctx)
	l.conn.Close(context.WithoutCancel(ctx))
}

// LockWait turns a configuration's LockTimeout into the wait: 0 means the
// default, a negative value no wait at all.
func LockWait(d time.Duration) time.Duration {
	switch {
	case d == 0:
		return DefaultLockTimeout
	case d < 0:
		return 0
	}
	return d
}
