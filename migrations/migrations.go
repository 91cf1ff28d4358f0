// Package migrations holds ddbsync's bookkeeping schema as numbered goose
// migrations, embedded in the binary and applied by [Up] on every start.
package migrations

import (
	"context"
	"embed"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed *.sql
var files embed.FS

// Up applies every pending migration. Concurrent callers are serialised by
// goose's session lock, so several ddbsync processes may start at once.
func Up(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	// The version table lives beside the bookkeeping tables, so the schema
	// must exist before goose looks for it.
	if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS ddbsync"); err != nil {
		return fmt.Errorf("migrating: creating schema ddbsync: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker()
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
