package load_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/load"
	"github.com/ddbsync/ddbsync/snapshot"
)

// BenchmarkIncremental applies an incremental export of
// DDBSYNC_BENCH_ITEMS changes (default 1,000,000) in 16 files onto a copy
// of as many items (BenchmarkLoad's export, loaded before the timer
// starts): every item changes, one in twenty is deleted. Compare its
// changes/s with BenchmarkLoad's items/s:
//
//	go test ./reconcile/load -run '^$' -bench 'BenchmarkLoad$|BenchmarkIncremental' -benchtime 1x
func BenchmarkIncremental(b *testing.B) {
	items, full := reconciletest.BenchExport(b)
	l, err := reconcile.NewLayout(tenure.TableName, "", reconciletest.TenureKey)
	require.NoError(b, err)

	// The same items, as BenchExport generated them, each changed.
	dir := b.TempDir()
	w, err := snapshot.NewIncrementalWriter(b.Context(), snapshot.DirSink(dir), snapshot.IncrementalWriterConfig{
		TableArn: "arn:aws:dynamodb:eu-west-2:000000000000:table/" + tenure.TableName,
		From:     reconciletest.T0, To: reconciletest.T0.Add(time.Hour), View: snapshot.ViewNewImage, Files: 16,
	})
	require.NoError(b, err)
	gen, upd := tenure.NewGenerator(1), tenure.NewGenerator(2)
	for i := range items {
		it := gen.Item()
		c := snapshot.Change{Keys: ddbjson.Item{"id": it["id"]}, WriteTime: reconciletest.T0.Add(time.Duration(i) * time.Microsecond)}
		if i%20 != 0 {
			c.NewImage = upd.Update(it)
		}
		require.NoError(b, w.Write(c))
	}
	_, err = w.Close(b.Context())
	require.NoError(b, err)
	src, err := snapshot.NewDirSource(filepath.Join(dir, w.ExportID()))
	require.NoError(b, err)
	inc, err := snapshot.OpenIncremental(b.Context(), src)
	require.NoError(b, err)

	b.ReportAllocs()
	b.ResetTimer()
	var bytes int64
	for b.Loop() {
		b.StopTimer()
		pool := pgtest.New(b)
		_, err := load.Run(b.Context(), pool, full, load.Config{Layout: l})
		require.NoError(b, err)
		b.StartTimer()
		res, err := load.RunIncremental(b.Context(), pool, inc, load.IncrementalConfig{Table: tenure.TableName})
		require.NoError(b, err)
		require.EqualValues(b, items, res.Changes)
		require.EqualValues(b, items/20, res.Applied.Deleted)
		bytes += res.Bytes
	}
	b.StopTimer()
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(items)*float64(b.N)/secs, "changes/s")
	b.ReportMetric(float64(bytes)/1e6/secs, "MB/s")
}
