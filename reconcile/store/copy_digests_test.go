package store_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/reconcile/store"
)

// EachCopyDigest gives the stored digest of every row, the one Go computes
// for its item, or for a row stored without one, the digest computed.
// EstimateRows is the planner's count once the copy is analyzed.
func TestEachCopyDigest_GivesEveryStoredDigest(t *testing.T) {
	t.Parallel()
	pool, l, items := tenureTable(t, "CopyDigests", 9, 30)
	ctx := t.Context()
	copyRows(t, pool, l, l.Ident(), items)

	est, err := store.EstimateRows(ctx, pool, l)
	require.NoError(t, err)
	require.Zero(t, est, "never analyzed")
	_, err = pool.Exec(ctx, "ANALYZE "+l.Ident().Sanitize())
	require.NoError(t, err)
	est, err = store.EstimateRows(ctx, pool, l)
	require.NoError(t, err)
	require.EqualValues(t, len(items), est)

	want := map[[16]byte]bool{}
	var scratch store.DigestScratch
	for _, it := range items {
		d, err := store.Digest(it, &scratch)
		require.NoError(t, err)
		want[d] = true
	}
	got := map[[16]byte]bool{}
	n, err := store.EachCopyDigest(ctx, pool, l, func(d [16]byte) { got[d] = true })
	require.NoError(t, err)
	require.EqualValues(t, len(items), n)
	require.Equal(t, want, got)

	// Rows of a copy loaded before it stored digests have none (the
	// migration that added the column left it empty): theirs are computed.
	_, err = pool.Exec(ctx, "ALTER TABLE "+l.Ident().Sanitize()+" DISABLE TRIGGER USER")
	require.NoError(t, err)
	_, err = pool.Exec(ctx, "UPDATE "+l.Ident().Sanitize()+" SET item_digest = NULL")
	require.NoError(t, err)
	clear(got)
	n, err = store.EachCopyDigest(ctx, pool, l, func(d [16]byte) { got[d] = true })
	require.NoError(t, err)
	require.EqualValues(t, len(items), n)
	require.Equal(t, want, got)
}
