// Package migrations holds ddbsync's bookkeeping schema as numbered goose
// migrations, embedded in the binary and applied by [Up] on every start.
package migrations

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed *.sql
var files embed.FS

// schemaLockKey is the transaction-scoped advisory lock that serialises
// creating the schema: the bytes "ddbsync" read as a big-endian integer, so
// it is recognisable in pg_locks and distinct from goose's lock.
const schemaLockKey int64 = 0x64646273796e63

// Up applies every pending migration. Concurrent callers are serialised by
// an advisory lock while creating the schema and by goose's session lock
// after, so several ddbsync processes may start at once.
func Up(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	// The version table lives beside the bookkeeping tables, so the schema
	// must exist before goose looks for it, and so before goose's lock.
	if err := createSchema(ctx, pool, schemaLockWait); err != nil {
		return fmt.Errorf("migrating: creating schema ddbsync: %w", err)
	}
	// goose polls its lock every 5 s by default: processes that start
	// together would wait 5 s for a migration that takes milliseconds.
	// Polling each second for 300 s keeps goose's 5-minute limit.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, files,
		goose.WithSessionLocker(locker), goose.WithSlog(logger), goose.WithTableName("ddbsync.goose_db_version"))
	if err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	return nil
}

// schemaLockWait bounds the wait for another process creating the schema,
// as goose's lock is bounded: a process stuck while it holds the lock (stopped, or
// cut off without its session ending) must not hang every other one.
const schemaLockWait = 5 * time.Minute

// createSchema creates schema ddbsync if it is missing. IF NOT EXISTS alone
// does not make concurrent callers safe: two that both see no schema both
// insert it, and one fails on pg_namespace's unique index (SQLSTATE 23505).
// The advisory lock makes the second wait for the first to commit, for
// wait at most.
func createSchema(ctx context.Context, pool *pgxpool.Pool, wait time.Duration) error {
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT set_config('lock_timeout', $1, true)", strconv.FormatInt(wait.Milliseconds(), 10)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", schemaLockKey); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS ddbsync")
		return err
	})
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == "55P03" { // lock_not_available
		return fmt.Errorf("another session has held the lock on creating it for %s (advisory lock %d in pg_locks): "+
			"if that ddbsync process is stuck, end its session with pg_terminate_backend(pid), then run again: %w", wait, schemaLockKey, err)
	}
	return err
}
