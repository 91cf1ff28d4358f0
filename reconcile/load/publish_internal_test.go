package load

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/reconcile/store"
)

// A load killed with SIGKILL while adding the load table's primary key
// leaves a server session that goes on adding it and commits. The resumed
// load must wait for it and find the key there, not fail adding a second
// one ("multiple primary keys for table … are not allowed").
func TestAddPrimaryKey_WaitsForAKilledLoadsSession(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	exp := writeExport(t, time.Now(), 1, 1)
	l := tenureLayout(t)
	id, _, err := beginLoad(t.Context(), pool, exp, l, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	p := publication{exp: exp, layout: l, loadID: id, loadTable: store.LoadTable(id), log: slog.New(slog.DiscardHandler)}
	name := store.LoadTableName(id) + "_pkey"

	// The killed load's session, still adding the key.
	orphan, err := pool.Begin(t.Context())
	require.NoError(t, err)
	defer orphan.Rollback(t.Context())
	require.NoError(t, store.AddPrimaryKey(t.Context(), orphan, l, p.loadTable, name))

	done := make(chan error, 1)
	go func() { done <- addPrimaryKey(t.Context(), pool, p, name) }()
	select {
	case err := <-done:
		t.Fatalf("addPrimaryKey did not wait for the session adding the key: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	require.NoError(t, orphan.Commit(t.Context()))
	require.NoError(t, <-done)
	has, err := store.HasConstraint(t.Context(), pool, store.BookkeepingSchema, name)
	require.NoError(t, err)
	require.True(t, has)
}
