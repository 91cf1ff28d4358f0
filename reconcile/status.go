package reconcile

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddbsync/ddbsync/reconcile/store"
)

// The status report is here rather than in load, follow or diff because
// it is about all three: an unfinished load, the shards and W, the last
// diff. Its types are defined with their queries, in [store].
type (
	// TableStatus is where one table's copy stands.
	TableStatus = store.TableStatus
	// ShardStatus is one shard's checkpoint.
	ShardStatus = store.ShardStatus
	// LoadStatus is an unfinished load.
	LoadStatus = store.LoadStatus
	// WorkerProgress is one load process's share of an unfinished load.
	WorkerProgress = store.WorkerProgress
	// DiffStatus is the last diff of a table, from ddbsync.diff_runs.
	DiffStatus = store.DiffStatus
	// VerifyStatus is what follow --verify checked of a table, from
	// ddbsync.verify_totals.
	VerifyStatus = store.VerifyStatus
	// FollowerStatus is one process of a shared follow, with its leases.
	FollowerStatus = store.FollowerStatus
)

// Status reports every table ddbsync serves (or only table, when given).
func Status(ctx context.Context, pool *pgxpool.Pool, table string, now time.Time) ([]TableStatus, error) {
	return store.Status(ctx, pool, table, now)
}
