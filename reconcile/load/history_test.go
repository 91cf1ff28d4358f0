package load_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile/load"
	"github.com/ddbsync/ddbsync/reconcile/store"
	"github.com/ddbsync/ddbsync/snapshot"
)

// TestHistory_IncrementalAndRetention: an incremental export applied onto
// a copy with history records each key's change as a version of operation
// incremental at its write time (a removal without item); the retention
// then deletes exactly the versions that ended before its cutoff, never a
// key's latest one.
func TestHistory_IncrementalAndRetention(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t)
	h.Insert(6)
	h.Tick(time.Minute)
	T := h.Now()
	l := reconciletest.TenureLayout(t, "")
	_, err := load.Run(t.Context(), h.Pool, h.ExportAt(T), load.Config{Layout: l, History: true})
	require.NoError(t, err)
	h.Tick(time.Minute)
	h.Update(h.IDs[0])
	updated := h.Now()
	h.Tick(time.Second)
	h.Remove(h.IDs[1])
	h.Tick(20 * time.Minute)
	_, err = applyIncremental(t, h, incremental(t, h, T, h.Now(), snapshot.ViewNewAndOldImages))
	require.NoError(t, err)
	h.RequireCopyEqualsTable()

	var ops []string
	var from []time.Time
	var items []bool
	rows, err := h.Pool.Query(t.Context(), `SELECT operation, valid_from, item IS NOT NULL FROM dynamodb.tenure_information_history
		WHERE id = ANY($1) AND valid_to IS NULL ORDER BY id = $2 DESC`, []string{h.IDs[0], h.IDs[1]}, h.IDs[0])
	require.NoError(t, err)
	for rows.Next() {
		var op string
		var at time.Time
		var has bool
		require.NoError(t, rows.Scan(&op, &at, &has))
		ops, from, items = append(ops, op), append(from, at.UTC()), append(items, has)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{store.HistoryIncremental, store.HistoryIncremental}, ops)
	require.Equal(t, []bool{true, false}, items, "the update has its item, the removal none")
	require.True(t, from[0].Equal(updated), "the version starts at the write time %s, not %s", updated, from[0])

	count := func(where string) int {
		var n int
		require.NoError(t, h.Pool.QueryRow(t.Context(), `SELECT count(*) FROM dynamodb.tenure_information_history WHERE `+where).Scan(&n))
		return n
	}
	closed, open := count("valid_to IS NOT NULL"), count("valid_to IS NULL")
	require.Equal(t, 2, closed)
	require.Equal(t, 6, open)
	// A retention longer than the versions' age keeps them; one shorter
	// deletes the closed versions and keeps every key's latest.
	age := time.Since(T)
	require.NoError(t, store.History.SetRetention(t.Context(), h.Pool, tenure.TableName, age+24*time.Hour))
	n, err := store.PruneHistory(t.Context(), h.Pool, l)
	require.NoError(t, err)
	require.Zero(t, n)
	require.NoError(t, store.History.SetRetention(t.Context(), h.Pool, tenure.TableName, age-time.Hour))
	n, err = store.PruneHistory(t.Context(), h.Pool, l)
	require.NoError(t, err)
	require.EqualValues(t, closed, n)
	require.Equal(t, open, count("true"))
}
