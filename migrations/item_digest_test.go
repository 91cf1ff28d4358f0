package migrations_test

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/migrations"
	"github.com/ddbsync/ddbsync/reconcile/store"
)

// TestUp_ItemDigestWrittenByItsWriters: the data tables and unpublished load
// tables of an earlier version, whose item_digest was generated (or absent,
// from before it existed), get a plain column with their digests kept, and
// the triggers that compute it for a write that does not send one. A table
// that is not ddbsync's keeps its generated column.
func TestUp_ItemDigestWrittenByItsWriters(t *testing.T) {
	ctx := t.Context()
	pool := migratedTo(t, 12)
	const generated = `item_digest uuid GENERATED ALWAYS AS (md5((item)::text)::uuid) STORED`
	_, err := pool.Exec(ctx, `CREATE SCHEMA dynamodb;
		CREATE TABLE dynamodb.tenure_information (id text PRIMARY KEY, item jsonb NOT NULL, origin text NOT NULL, `+generated+`);
		CREATE TABLE dynamodb.older (id text PRIMARY KEY, item jsonb NOT NULL, origin text NOT NULL);
		CREATE TABLE ddbsync.load_7 (id text NOT NULL, item jsonb NOT NULL, origin text NOT NULL, `+generated+`);
		CREATE TABLE dynamodb.not_ours (id text PRIMARY KEY, item jsonb NOT NULL, origin text NOT NULL, `+generated+`);
		INSERT INTO ddbsync.tables (table_name, pg_schema, pg_table, key_schema) VALUES
			('TenureInformation', 'dynamodb', 'tenure_information', 'id:S'), ('Older', 'dynamodb', 'older', 'id:S');
		INSERT INTO dynamodb.tenure_information (id, item, origin) VALUES ('a', '{"id": {"S": "a"}}', 'export');
		INSERT INTO dynamodb.older (id, item, origin) VALUES ('a', '{"id": {"S": "a"}}', 'export');
		INSERT INTO ddbsync.load_7 (id, item, origin) VALUES ('a', '{"id": {"S": "a"}}', 'export')`)
	require.NoError(t, err)

	require.NoError(t, migrations.Up(ctx, pool, nil))

	generatedNow := func(table string) string {
		var g string
		require.NoError(t, pool.QueryRow(ctx, `SELECT attgenerated::text FROM pg_attribute
			WHERE attrelid = $1::regclass AND attname = 'item_digest'`, table).Scan(&g))
		return g
	}
	digestRight := func(table, id string) bool {
		var ok bool
		require.NoError(t, pool.QueryRow(ctx, `SELECT item_digest IS NOT DISTINCT FROM md5(item::text)::uuid FROM `+table+
			` WHERE id = $1`, id).Scan(&ok))
		return ok
	}
	require.Equal(t, "s", generatedNow("dynamodb.not_ours"))
	for _, table := range []string{"dynamodb.tenure_information", "dynamodb.older", "ddbsync.load_7"} {
		require.Empty(t, generatedNow(table), table)
		_, err = pool.Exec(ctx, `INSERT INTO `+table+` (id, item, origin) VALUES ('b', '{"id": {"S": "b"}}', 'export')`)
		require.NoError(t, err, table)
		_, err = pool.Exec(ctx, `UPDATE `+table+` SET item = '{"id": {"S": "b"}, "v": {"N": "2"}}' WHERE id = 'b'`)
		require.NoError(t, err, table)
		require.True(t, digestRight(table, "b"), "%s: a row written without its digest gets it", table)
		// A writer that sends the digest has it kept.
		_, err = pool.Exec(ctx, `INSERT INTO `+table+` (id, item, origin, item_digest)
			VALUES ('c', '{"id": {"S": "c"}}', 'export', '00000000-0000-0000-0000-000000000001')`)
		require.NoError(t, err, table)
		require.False(t, digestRight(table, "c"), table)
	}
	require.True(t, digestRight("dynamodb.tenure_information", "a"), "the generated digest is kept")
	require.True(t, digestRight("ddbsync.load_7", "a"), "the generated digest is kept")
	var stored *string
	require.NoError(t, pool.QueryRow(ctx, `SELECT item_digest::text FROM dynamodb.older WHERE id = 'a'`).Scan(&stored))
	require.Nil(t, stored, "a row from before the column has no digest (a diff computes it)")

	// The triggers are those a table ddbsync creates now has: a reload
	// keeps the triggers only where the new table has the same, and swaps
	// tables only then.
	ks, err := store.ParseKeySchema("id:S")
	require.NoError(t, err)
	l, err := store.NewLayout("TenureInformation", "", ks)
	require.NoError(t, err)
	fresh := pgx.Identifier{"dynamodb", "fresh"}
	require.NoError(t, store.CreateLoadTable(ctx, pool, l, fresh))
	triggers := func(table string) []string {
		rows, err := pool.Query(ctx, `SELECT replace(pg_get_triggerdef(oid), ' ON ' || tgrelid::regclass::text || ' ', ' ')
			FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal ORDER BY tgname`, table)
		require.NoError(t, err)
		defs, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return defs
	}
	require.Len(t, triggers("dynamodb.fresh"), 2)
	require.Equal(t, triggers("dynamodb.fresh"), triggers("dynamodb.tenure_information"))
}
