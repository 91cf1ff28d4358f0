package store_test

import (
	"maps"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile/store"
)

// storedDigests checks that every row of table ident holds in item_digest
// the Go digest of the item want names by key.
func storedDigests(t *testing.T, pool *pgxpool.Pool, ident pgx.Identifier, want map[string]ddbjson.Item) {
	t.Helper()
	rows, err := pool.Query(t.Context(), "SELECT id, item_digest FROM "+ident.Sanitize())
	require.NoError(t, err)
	got := map[string][16]byte{}
	for rows.Next() {
		var id string
		var d [16]byte
		require.NoError(t, rows.Scan(&id, &d))
		got[id] = d
	}
	require.NoError(t, rows.Err())
	require.Len(t, got, len(want))
	var scratch store.DigestScratch
	for id, it := range want {
		d, err := store.Digest(it, &scratch)
		require.NoError(t, err)
		require.Equal(t, d, got[id], "item_digest of %s", id)
	}
}

// copyRows writes items into table ident through the encoder, as a load does.
func copyRows(t *testing.T, pool *pgxpool.Pool, l store.Layout, ident pgx.Identifier, items map[string]ddbjson.Item) {
	t.Helper()
	enc := store.NewEncoder(l, store.RowColumns)
	var rows [][]any
	for _, it := range items {
		vals, err := enc.Encode(it, store.Provenance{Origin: store.OriginExport})
		require.NoError(t, err)
		rows = append(rows, store.CopyRow(vals))
	}
	_, err := pool.CopyFrom(t.Context(), ident, l.Columns(), pgx.CopyFromRows(rows))
	require.NoError(t, err)
}

// tenureTable creates data table name (key id:S) in a fresh database, and
// n tenure items, by id, generated from seed.
func tenureTable(t *testing.T, name string, seed uint64, n int) (*pgxpool.Pool, store.Layout, map[string]ddbjson.Item) {
	t.Helper()
	pool := pgtest.New(t)
	ks, err := store.ParseKeySchema("id:S")
	require.NoError(t, err)
	l, err := store.NewLayout(name, "", ks)
	require.NoError(t, err)
	_, err = pool.Exec(t.Context(), "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{l.Schema}.Sanitize())
	require.NoError(t, err)
	require.NoError(t, store.CreateLoadTable(t.Context(), pool, l, l.Ident()))
	gen := tenure.NewGenerator(seed)
	items := map[string]ddbjson.Item{}
	for range n {
		it := gen.Item()
		items[it["id"].(*types.AttributeValueMemberS).Value] = it
	}
	return pool, l, items
}

// The stored digest, which a diff compares with the source's, is the one
// ddbsync computes in Go for the item, whichever way the row was written: a
// load's COPY, the upsert stream apply and repairs write through, and a
// reload that copies the rows into the existing table.
func TestItemDigest_StoredByEveryWriter(t *testing.T) {
	t.Parallel()
	pool, l, items := tenureTable(t, "Digests", 5, 40)
	ctx := t.Context()
	_, err := pool.Exec(ctx, l.PrimaryKeySQL(l.Ident(), "digests_pkey"))
	require.NoError(t, err)
	copyRows(t, pool, l, l.Ident(), items)
	storedDigests(t, pool, l.Ident(), items)

	// The upsert replaces half the items with new images.
	changed := map[string]ddbjson.Item{}
	for id, it := range items {
		if len(changed) == len(items)/2 {
			break
		}
		it = maps.Clone(it)
		it["status"] = &types.AttributeValueMemberS{Value: "changed \"quoted\"\n"}
		changed[id], items[id] = it, it
	}
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, l.CreateStageSQL())
	require.NoError(t, err)
	enc := store.NewEncoder(l, store.RowColumns)
	var rows [][]any
	for _, it := range changed {
		vals, err := enc.Encode(it, store.Provenance{Origin: store.OriginStream})
		require.NoError(t, err)
		rows = append(rows, store.CopyRow(vals))
	}
	_, err = tx.CopyFrom(ctx, l.StageTable(), l.Columns(), pgx.CopyFromRows(rows))
	require.NoError(t, err)
	_, err = tx.Exec(ctx, l.UpsertSQL(l.StageTable()))
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	conn.Release()
	storedDigests(t, pool, l.Ident(), items)

	// A reload that copies the rows into the table keeps theirs.
	loadTable := pgx.Identifier{l.Schema, "digests_load"}
	require.NoError(t, store.CreateLoadTable(ctx, pool, l, loadTable))
	copyRows(t, pool, l, loadTable, items)
	require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		return store.CopyInto(ctx, tx, l, loadTable)
	}))
	storedDigests(t, pool, l.Ident(), items)
}

// Rows written by anyone else (an analyst's INSERT, COPY or UPDATE, which
// send no digest) get theirs from the table's digest triggers, so a diff
// sees their change; a row that comes with its digest keeps it.
func TestItemDigest_TriggersDigestOthersWrites(t *testing.T) {
	t.Parallel()
	pool, l, items := tenureTable(t, "ByHand", 6, 4)
	ctx := t.Context()
	copyRows(t, pool, l, l.Ident(), items)
	table := l.Ident().Sanitize()
	var ids []string
	for id := range items {
		ids = append(ids, id)
	}

	exec := func(sql string, args ...any) {
		t.Helper()
		_, err := pool.Exec(ctx, sql, args...)
		require.NoError(t, err)
	}
	exec("UPDATE "+table+` SET item = jsonb_set(item, '{status}', '{"S": "by hand"}') WHERE id = $1`, ids[0])
	exec("UPDATE "+table+" SET item_digest = NULL WHERE id = $1", ids[1])
	exec("INSERT INTO " + table + ` (id, item, origin) VALUES ('hand', '{"id": {"S": "hand"}}', 'export')`)
	_, err := pool.CopyFrom(ctx, l.Ident(), []string{"id", "item", "origin"},
		pgx.CopyFromRows([][]any{{"copied", `{"id": {"S": "copied"}, "n": {"N": "1"}}`, "export"}}))
	require.NoError(t, err)
	// A digest that comes with the row is the writer's: ddbsync's are.
	exec("UPDATE "+table+` SET item = jsonb_set(item, '{status}', '{"S": "stated"}'), item_digest = '00000000-0000-0000-0000-000000000001' WHERE id = $1`, ids[2])

	rows, err := pool.Query(ctx, "SELECT id, item::text, item_digest FROM "+table)
	require.NoError(t, err)
	var scratch store.DigestScratch
	seen := 0
	for rows.Next() {
		var id, text string
		var stored pgtype.UUID
		require.NoError(t, rows.Scan(&id, &text, &stored))
		seen++
		if id == ids[2] {
			require.Equal(t, [16]byte{15: 1}, stored.Bytes, "the digest the UPDATE gave")
			continue
		}
		want, err := scratch.Sum([]byte(text))
		require.NoError(t, err)
		require.True(t, stored.Valid, "row %s has no digest", id)
		require.Equal(t, want, stored.Bytes, "item_digest of %s", id)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, 6, seen)
}
