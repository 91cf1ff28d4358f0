package store

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// BookkeepingSchema holds ddbsync's own tables, unpublished load tables and
// diff scratch tables.
const BookkeepingSchema = "ddbsync"

// Querier runs statements: a *pgxpool.Pool, a *pgxpool.Conn, a *pgx.Conn
// or a pgx.Tx. Accessors take one so the caller chooses the transaction.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}
