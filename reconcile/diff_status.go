package reconcile

import "github.com/ddbsync/ddbsync/reconcile/store"

// DiffStatus is the last diff of a table, from ddbsync.diff_runs.
type DiffStatus = store.DiffStatus
