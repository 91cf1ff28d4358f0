package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/reconcile/store"
)

// casTable is a data table keyed pk:S,sk:N holding the given items, all
// from the stream at time at, and a diff run to attribute repairs to.
func casTable(t *testing.T, pool *pgxpool.Pool, at time.Time, items ...ddbjson.Item) (store.Layout, int64) {
	t.Helper()
	ctx := t.Context()
	ks, err := store.ParseKeySchema("pk:S,sk:N")
	require.NoError(t, err)
	l, err := store.NewLayout("Cas", "", ks)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{l.Schema}.Sanitize())
	require.NoError(t, err)
	require.NoError(t, store.CreateLoadTable(ctx, pool, l, l.Ident()))
	_, err = pool.Exec(ctx, l.PrimaryKeySQL(l.Ident(), "cas_pkey"))
	require.NoError(t, err)
	for i, it := range items {
		vals, err := store.NewEncoder(l, store.RowColumns).Encode(it, store.Provenance{Origin: store.OriginStream, Time: at,
			ShardID: "shard-1", Sequence: "1000" + string(rune('0'+i))})
		require.NoError(t, err)
		_, err = pool.CopyFrom(ctx, l.Ident(), l.Columns(), pgx.CopyFromRows([][]any{vals}))
		require.NoError(t, err)
	}
	id, err := store.DiffRuns.Begin(ctx, pool, store.NewDiff{Table: "Cas", SourceKind: "scan", Source: "test", Skew: time.Minute})
	require.NoError(t, err)
	return l, id
}

func casItem(pk, sk, v string) ddbjson.Item {
	return ddbjson.Item{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberN{Value: sk},
		"v": &types.AttributeValueMemberS{Value: v}}
}

// seen reads the row at key as a comparison would.
func seen(t *testing.T, pool *pgxpool.Pool, l store.Layout, key ddbjson.Item) store.SeenRow {
	t.Helper()
	rows, err := l.ReadKeys(t.Context(), pool, "Cas", []ddbjson.Item{key}, []ddbjson.Item{nil})
	require.NoError(t, err)
	return rows[0].Seen
}

// casRun runs the repairs in one transaction holding the apply lock, and
// returns which wrote.
func casRun(t *testing.T, pool *pgxpool.Pool, l store.Layout, repairs ...store.CASRepair) []bool {
	t.Helper()
	ctx := t.Context()
	var wrote []bool
	require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		require.NoError(t, store.LockApplyExclusive(ctx, tx, "Cas"))
		b := &pgx.Batch{}
		for _, r := range repairs {
			require.NoError(t, l.QueueCASRepair(b, r))
		}
		res := tx.SendBatch(ctx, b)
		for range repairs {
			tag, err := res.Exec()
			require.NoError(t, err)
			wrote = append(wrote, tag.RowsAffected() == 1)
		}
		return res.Close()
	}))
	return wrote
}

func item(t *testing.T, pool *pgxpool.Pool, pk string) (string, string) {
	t.Helper()
	var v, origin string
	err := pool.QueryRow(t.Context(), `SELECT coalesce(item->'v'->>'S', ''), origin FROM dynamodb.cas WHERE pk = $1`, pk).Scan(&v, &origin)
	if err == pgx.ErrNoRows {
		return "", ""
	}
	require.NoError(t, err)
	return v, origin
}

func TestCASRepair_WritesOnlyRowsStillAsSeen(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := t.Context()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l, diffID := casTable(t, pool, at, casItem("a", "1", "old"), casItem("b", "2.50", "old"), casItem("c", "3", "old"),
		casItem("d", "4", "old"))
	require.NoError(t, store.AllowOrigin(ctx, pool, l, store.OriginScan))
	prov := store.Provenance{Origin: store.OriginScan, Time: at.Add(time.Hour)}
	key := func(pk, sk string) ddbjson.Item {
		return ddbjson.Item{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberN{Value: sk}}
	}
	seenA, seenB, seenC, seenD := seen(t, pool, l, key("a", "1")), seen(t, pool, l, key("b", "2.5")),
		seen(t, pool, l, key("c", "3")), seen(t, pool, l, key("d", "4"))
	seenE, seenF := seen(t, pool, l, key("e", "5")), seen(t, pool, l, key("f", "6"))
	require.True(t, seenB.Present, "2.5 finds the row keyed 2.50")
	require.False(t, seenE.Present)

	// Since the compare: b changed (a new stream change), d was removed and
	// f was inserted then removed by the stream (its tombstone is new).
	_, err := pool.Exec(ctx, `UPDATE dynamodb.cas SET item = jsonb_set(item, '{v,S}', '"newer"'), sequence_number = 99999 WHERE pk = 'b'`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `DELETE FROM dynamodb.cas WHERE pk = 'd'`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO ddbsync.tombstones (table_name, key, removed_at, shard_id, sequence_number)
		VALUES ('Cas', '{"pk":{"S":"f"},"sk":{"N":"6"}}', now(), 'shard-1', 77)`)
	require.NoError(t, err)

	r := func(kind store.FindingKind, s store.SeenRow, image ddbjson.Item, k ddbjson.Item) store.CASRepair {
		return store.CASRepair{Table: "Cas", Key: k, Kind: kind, Seen: s, Image: image, Prov: prov, DiffID: diffID}
	}
	wrote := casRun(t, pool, l,
		r(store.FindingDifferent, seenA, casItem("a", "1", "fixed"), key("a", "1")),
		r(store.FindingDifferent, seenB, casItem("b", "2.5", "fixed"), key("b", "2.5")),
		r(store.FindingExtra, seenC, nil, key("c", "3")),
		r(store.FindingExtra, seenD, nil, key("d", "4")),
		r(store.FindingMissing, seenE, casItem("e", "5", "fixed"), key("e", "5")),
		r(store.FindingMissing, seenF, casItem("f", "6", "fixed"), key("f", "6")),
	)
	require.Equal(t, []bool{true, false, true, false, true, false}, wrote)

	v, origin := item(t, pool, "a")
	require.Equal(t, "fixed", v)
	require.Equal(t, "scan", origin)
	v, _ = item(t, pool, "b")
	require.Equal(t, "newer", v, "the stream's change stays")
	v, _ = item(t, pool, "c")
	require.Empty(t, v)
	v, _ = item(t, pool, "e")
	require.Equal(t, "fixed", v)
	v, _ = item(t, pool, "f")
	require.Empty(t, v, "a key the stream removed since stays removed")

	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM ddbsync.repairs WHERE diff_id = $1`, diffID).Scan(&n))
	require.Equal(t, 3, n, "only the repairs made are recorded")
	var before, after *string
	require.NoError(t, pool.QueryRow(ctx, `SELECT before->'v'->>'S', after->'v'->>'S' FROM ddbsync.repairs WHERE key->'pk'->>'S' = 'a'`).
		Scan(&before, &after))
	require.Equal(t, "old", *before)
	require.Equal(t, "fixed", *after)

	// The same repair again finds a's row changed (by itself): nothing.
	require.Equal(t, []bool{false}, casRun(t, pool, l, r(store.FindingDifferent, seenA, casItem("a", "1", "again"), key("a", "1"))))
}

func TestCASRepair_WaitsForAPageBeingApplied(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := t.Context()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l, diffID := casTable(t, pool, at)
	key := ddbjson.Item{"pk": &types.AttributeValueMemberS{Value: "k"}, "sk": &types.AttributeValueMemberN{Value: "1"}}
	seenK := seen(t, pool, l, key)

	// A page removing k (absent from the copy) runs its delete, then
	// records the tombstone, under the apply lock shared.
	page, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer page.Rollback(context.Background())
	_, err = page.Exec(ctx, store.ApplyLockSharedSQL("Cas"))
	require.NoError(t, err)
	_, err = page.Exec(ctx, `DELETE FROM dynamodb.cas WHERE pk = 'k'`)
	require.NoError(t, err)

	done := make(chan []bool, 1)
	go func() {
		done <- casRun(t, pool, l, store.CASRepair{Table: "Cas", Key: key, Kind: store.FindingMissing, Seen: seenK,
			Image: casItem("k", "1", "stale"), Prov: store.Provenance{Origin: store.OriginStream, Time: at}, DiffID: diffID})
	}()
	// The repair waits for the apply lock.
	require.Eventually(t, func() bool {
		var waiting bool
		_ = pool.QueryRow(ctx, `SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&waiting)
		return waiting
	}, 10*time.Second, time.Millisecond)
	require.Empty(t, done, "the repair did not wait for the page")
	_, err = page.Exec(ctx, `INSERT INTO ddbsync.tombstones (table_name, key, removed_at, shard_id, sequence_number)
		VALUES ('Cas', '{"pk":{"S":"k"},"sk":{"N":"1"}}', now(), 'shard-1', 5)`)
	require.NoError(t, err)
	require.NoError(t, page.Commit(ctx))
	require.Equal(t, []bool{false}, <-done, "the removal committed first wins")
	v, _ := item(t, pool, "k")
	require.Empty(t, v)
}

func TestSampleKeys_ReadsAFewPagesOfALargeTable(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := t.Context()
	l, _ := casTable(t, pool, time.Now())
	const n = 20000
	rows := make([][]any, 0, n)
	for i := range n {
		vals, err := store.NewEncoder(l, store.RowColumns).Encode(casItem("k", fmt.Sprint(i), "v"),
			store.Provenance{Origin: store.OriginExport, Time: time.Now()})
		require.NoError(t, err)
		rows = append(rows, vals)
	}
	_, err := pool.CopyFrom(ctx, l.Ident(), l.Columns(), pgx.CopyFromRows(rows))
	require.NoError(t, err)

	// Never analyzed: the estimate comes from the loaded count, or the pages.
	for _, hint := range []int64{0, n} {
		keys, err := l.SampleKeys(ctx, pool, 50, hint)
		require.NoError(t, err)
		require.NotEmpty(t, keys)
		require.LessOrEqual(t, len(keys), 50)
		seen := map[string]bool{}
		for _, k := range keys {
			require.Len(t, k, 2, "the key attributes only")
			b, err := ddbjson.EncodeItem(k)
			require.NoError(t, err)
			require.False(t, seen[string(b)])
			seen[string(b)] = true
		}
	}
	keys, err := l.SampleKeys(ctx, pool, 0, n)
	require.NoError(t, err)
	require.Empty(t, keys)
}
