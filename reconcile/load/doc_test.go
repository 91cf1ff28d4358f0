package load_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile/load"
	"github.com/ddbsync/ddbsync/reconcile/store"
)

// doc is opt-in: a new table has none, a reload keeps the copy's choice
// unless told otherwise, and the same export is loaded again when the
// choice changes.
func TestLoad_DocIsOptInAndAReloadKeepsTheChoice(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	l := reconciletest.TenureLayout(t, "")
	exp := reconciletest.WriteExport(t, tenure.TableName, reconciletest.T0, 2, reconciletest.TenureItems(1, 50)).Open()
	hasDoc := func() bool {
		t.Helper()
		has, err := store.HasDoc(t.Context(), pool, l.Ident())
		require.NoError(t, err)
		return has
	}
	run := func(cfg load.Config) load.Result {
		t.Helper()
		cfg.Layout = l
		res, err := load.Run(t.Context(), pool, exp, cfg)
		require.NoError(t, err)
		return res
	}

	res := run(load.Config{})
	require.False(t, res.Doc)
	require.False(t, hasDoc(), "a new table has no doc unless asked")
	// The analysts' questions are answered from item.
	var active int
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM dynamodb.tenure_information
		WHERE item->'endOfTenureDate'->>'S' IS NULL AND (item->'numberOfAdultsInProperty'->>'N')::numeric >= 1`).Scan(&active))
	require.Positive(t, active)

	res = run(load.Config{Doc: new(true)})
	require.False(t, res.Unchanged, "asking for doc reloads the same export")
	require.True(t, hasDoc())
	var same bool
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT bool_and(doc->'tenureType'->>'description' = item->'tenureType'->'M'->'description'->>'S')
		FROM dynamodb.tenure_information`).Scan(&same))
	require.True(t, same)

	res = run(load.Config{Force: true})
	require.True(t, res.Doc)
	require.True(t, hasDoc(), "a reload keeps the copy's doc")
	require.True(t, run(load.Config{}).Unchanged)

	res = run(load.Config{Doc: new(false)})
	require.False(t, res.Unchanged)
	require.False(t, hasDoc(), "--doc=false drops it")
	require.Equal(t, 50, countRows(t, pool, "dynamodb.tenure_information"))
}
