package store

import (
	"context"
	"fmt"
	"hash/fnv"
)

// The apply lock keeps a page of stream changes and a repair written
// beside a running follower from interleaving: each page transaction
// takes the table's apply lock shared (pages of several shards go on
// together), each repair transaction takes it exclusive. A repair's
// compare-and-set ([Layout.QueueCASRepair]) then sees every page that
// committed before it, and every page after it writes over it. Without
// it, a page removing a key the copy lacks could run its delete before a
// repair inserted the key and commit its tombstone after: the repair
// would resurrect an item DynamoDB no longer has. Both are
// transaction-scoped advisory locks, so they end with the transaction.

// applyLockKey is the table's apply lock key, derived as the table
// locks' keys are (lock.go), under its own name.
func applyLockKey(table string) int64 {
	h := fnv.New64a()
	h.Write([]byte("ddbsync:apply:" + table))
	return int64(h.Sum64())
}

// ApplyLockSharedSQL takes table's apply lock shared, for the rest of the
// transaction. It takes no parameters (the key is ddbsync's own number),
// so a page can send it with its first statement.
func ApplyLockSharedSQL(table string) string {
	return fmt.Sprintf("SELECT pg_advisory_xact_lock_shared(%d)", applyLockKey(table))
}

// LockApplyExclusive takes table's apply lock exclusive for the rest of
// tx: it waits for the pages being applied to commit, and holds new ones
// back until tx ends.
func LockApplyExclusive(ctx context.Context, tx Querier, table string) error {
	_, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", applyLockKey(table))
	return err
}
