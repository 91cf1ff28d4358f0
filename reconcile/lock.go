package reconcile

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrBusy is a table that another ddbsync process is loading or following.
var ErrBusy = errors.New("another ddbsync process holds this table")

// advisoryKey maps a lock name to a PostgreSQL advisory lock key.
func advisoryKey(s string) int64 {
	h := fnv.New64a()
	h.Write([]byte("ddbsync:" + s))
	return int64(h.Sum64())
}

// tableLock takes the session advisory lock that lets one process at a time
// do what (load or follow) to table. It holds the lock on a connection of its
// own, outside the pool, so that many tables followed by one process never
// starve the pool; closing the returned connection releases the lock.
func tableLock(ctx context.Context, pool *pgxpool.Pool, what, table string) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("%s %s: connecting for the table lock: %w", what, table, err)
	}
	var locked bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", advisoryKey(what+":"+table)).Scan(&locked); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("%s %s: taking the table lock: %w", what, table, err)
	}
	if !locked {
		conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("%s %s: %w (another `ddbsync %s` of this table is running)", what, table, ErrBusy, what)
	}
	return conn, nil
}
