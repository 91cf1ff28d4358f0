package diff_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/diff"
	"github.com/ddbsync/ddbsync/reconcile/load"
)

// TestDiff_RepairIsAVersionInTheHistory: a diff --repair against the
// export on a table with history records each row it writes or deletes as
// a version of operation repair, closing the one before.
func TestDiff_RepairIsAVersionInTheHistory(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	items := diffItems(5)
	exp := reconciletest.WriteExport(t, tenure.TableName, reconciletest.T0, 2, items).Open()
	_, err := load.Run(t.Context(), pool, exp, load.Config{Layout: reconciletest.TenureLayout(t, ""), History: true})
	require.NoError(t, err)
	// The copy loses a row and gains one behind ddbsync's back.
	sqlExec(t, pool, `DELETE FROM dynamodb.tenure_information WHERE id = $1`, idOf(items[0]))
	sqlExec(t, pool, `INSERT INTO dynamodb.tenure_information (id, item, origin) SELECT 'stray', item, 'export' FROM dynamodb.tenure_information LIMIT 1`)

	_, err = diff.Run(t.Context(), pool, diff.Config{Table: tenure.TableName, Export: exp, Repair: true})
	require.ErrorIs(t, err, reconcile.ErrInconsistent)

	type version struct {
		ID, Op   string
		HasItem  bool
		Open     bool
		SameItem bool // the export's image, for items[0]
	}
	rows, err := pool.Query(t.Context(), `SELECT h.id, h.operation, h.item IS NOT NULL, h.valid_to IS NULL,
			h.item IS NOT DISTINCT FROM (SELECT e.item FROM dynamodb.tenure_information_history e WHERE e.id = h.id AND e.operation = 'export')
		FROM dynamodb.tenure_information_history h WHERE h.id IN ($1, 'stray') ORDER BY h.id, h.valid_from, h.operation`, idOf(items[0]))
	require.NoError(t, err)
	var got []version
	for rows.Next() {
		var v version
		require.NoError(t, rows.Scan(&v.ID, &v.Op, &v.HasItem, &v.Open, &v.SameItem))
		got = append(got, v)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []version{
		{ID: idOf(items[0]), Op: "export", HasItem: true, SameItem: true},
		{ID: idOf(items[0]), Op: "repair", HasItem: true, Open: true, SameItem: true},
		{ID: "stray", Op: "repair", Open: true, SameItem: true}, // a removal: no item, as the export has none
	}, got)
}
