package store

import "context"

// Held reports whether another session holds the lock of kind on table:
// it takes the lock if it is free, and lets go of it at once.
func Held(ctx context.Context, conn SessionConn, kind LockKind, table string) (bool, error) {
	key := kind.key(table)
	var got bool
	tx, err := conn.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&got); err != nil {
		return false, err
	}
	if got {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_unlock($1)", key); err != nil {
			return false, err
		}
	}
	return !got, tx.Commit(ctx)
}
