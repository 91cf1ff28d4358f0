package reconciletest

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/snapshot"
)

// T0 is the export time of the exports tests write.
var T0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// TenureItems returns n tenure items generated from seed.
func TenureItems(seed uint64, n int) []ddbjson.Item {
	g := tenure.NewGenerator(seed)
	out := make([]ddbjson.Item, n)
	for i := range out {
		out[i] = g.Item()
	}
	return out
}

// TenureKey is [tenure.Key] as reconcile takes it.
var TenureKey = func() reconcile.KeySchema {
	k, err := reconcile.ParseKeySchema(tenure.Key.String())
	if err != nil {
		panic(err)
	}
	return k
}()

// TenureLayout is the tenure table's data table in schema (default: the
// default schema).
func TenureLayout(t testing.TB, schema string) reconcile.Layout {
	t.Helper()
	l, err := reconcile.NewLayout(tenure.TableName, schema, TenureKey)
	require.NoError(t, err)
	return l
}

// TableItems reads a data table back: key text → decoded item column.
func TableItems(t testing.TB, pool *pgxpool.Pool, l reconcile.Layout) map[string]ddbjson.Item {
	t.Helper()
	rows, err := pool.Query(t.Context(), fmt.Sprintf("SELECT %s::text, item::text FROM %s",
		pgx.Identifier{l.KeyColumns[0]}.Sanitize(), l.Ident().Sanitize()))
	require.NoError(t, err)
	out := map[string]ddbjson.Item{}
	for rows.Next() {
		var k, raw string
		require.NoError(t, rows.Scan(&k, &raw))
		item, err := ddbjson.DecodeItem([]byte(raw))
		require.NoError(t, err, "item column of %s is not lossless DynamoDB JSON", k)
		out[k] = item
	}
	require.NoError(t, rows.Err())
	return out
}

// RequireSameItems asserts got (as [TableItems] reads it) holds exactly
// the items of want, keyed by their string attribute keyAttr.
func RequireSameItems(t *testing.T, want []ddbjson.Item, got map[string]ddbjson.Item, keyAttr string) {
	t.Helper()
	require.Len(t, got, len(want))
	for _, w := range want {
		k := w[keyAttr].(*types.AttributeValueMemberS).Value
		g, ok := got[k]
		require.True(t, ok, "item %s missing", k)
		we, err := ddbjson.EncodeItem(w)
		require.NoError(t, err)
		ge, err := ddbjson.EncodeItem(g)
		require.NoError(t, err)
		require.Equal(t, string(we), string(ge), "item %s", k)
	}
}

// BenchExport writes a tenure sample export of DDBSYNC_BENCH_ITEMS items
// (default 1,000,000) in 16 files, for the load and diff benchmarks.
func BenchExport(b *testing.B) (int, *snapshot.Export) {
	b.Helper()
	items := 1_000_000
	if s := os.Getenv("DDBSYNC_BENCH_ITEMS"); s != "" {
		var err error
		items, err = strconv.Atoi(s)
		require.NoError(b, err)
	}
	dir := b.TempDir()
	w, err := snapshot.NewWriter(b.Context(), snapshot.DirSink(dir), snapshot.WriterConfig{
		TableArn: "arn:aws:dynamodb:eu-west-2:000000000000:table/" + tenure.TableName, ExportTime: T0, Files: 16,
	})
	require.NoError(b, err)
	gen := tenure.NewGenerator(1)
	for range items {
		require.NoError(b, w.Write(gen.Item()))
	}
	_, err = w.Close(b.Context())
	require.NoError(b, err)
	src, err := snapshot.NewDirSource(dir)
	require.NoError(b, err)
	exp, err := snapshot.Open(b.Context(), src)
	require.NoError(b, err)
	return items, exp
}
