package follow_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/reconcile/load"
)

// A table with the doc column (loaded with --doc, or before doc was
// opt-in) keeps it: follow writes each row's doc with its item.
func TestFollow_WritesDocInATableThatHasIt(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t)
	h.Insert(20)
	h.Tick(time.Minute)
	_, err := load.Run(t.Context(), h.Pool, h.ExportAt(h.Now()), load.Config{Layout: reconciletest.TenureLayout(t, ""), Doc: new(true)})
	require.NoError(t, err)
	h.Tick(time.Minute)
	h.UpdateAll(h.IDs[:5])
	h.Insert(3)
	h.Tick(time.Minute)

	_, err = h.Follow()
	require.NoError(t, err)
	h.RequireCopyEqualsTable()
	var rows, stream, same int
	require.NoError(t, h.Pool.QueryRow(t.Context(), `SELECT count(*), count(*) FILTER (WHERE origin = 'stream'),
		count(*) FILTER (WHERE doc->>'versionNumber' = item->'versionNumber'->>'N' AND doc->>'id' = item->'id'->>'S')
		FROM dynamodb.tenure_information`).Scan(&rows, &stream, &same))
	require.Equal(t, 23, rows)
	require.GreaterOrEqual(t, stream, 8, "the changes after the export (and those replayed from before it) came from the stream")
	require.Equal(t, rows, same, "every row's doc is its item's")
}
