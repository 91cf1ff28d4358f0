package reconcile_test

import (
	"os"
	"strconv"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/snapshot"
)

// benchExport writes a tenure sample export of DDBSYNC_BENCH_ITEMS items
// (default 1,000,000) in 16 files, for the load and diff benchmarks.
func benchExport(b *testing.B) (int, *snapshot.Export) {
	b.Helper()
	items := 1_000_000
	if s := os.Getenv("DDBSYNC_BENCH_ITEMS"); s != "" {
		var err error
		items, err = strconv.Atoi(s)
		require.NoError(b, err)
	}
	dir := b.TempDir()
	w, err := snapshot.NewWriter(b.Context(), snapshot.DirSink(dir), snapshot.WriterConfig{
		TableArn: "arn:aws:dynamodb:eu-west-2:000000000000:table/" + tenure.TableName, ExportTime: t0, Files: 16,
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

// BenchmarkLoad loads a tenure sample export: DDBSYNC_BENCH_ITEMS items
// (default 1,000,000) in 16 files. bench/load.sh runs the same load through
// the command line and compares it with PostgreSQL's own COPY.
//
//	go test ./reconcile -run '^$' -bench BenchmarkLoad -benchtime 1x
func BenchmarkLoad(b *testing.B) {
	items, exp := benchExport(b)
	l, err := reconcile.NewLayout(tenure.TableName, "", tenureKey)
	require.NoError(b, err)

	b.ReportAllocs()
	b.ResetTimer()
	var bytes int64
	for b.Loop() {
		pool := pgtest.New(b)
		res, err := reconcile.Load(b.Context(), pool, exp, reconcile.LoadConfig{Layout: l})
		require.NoError(b, err)
		require.EqualValues(b, items, res.Items)
		bytes += res.Bytes
	}
	b.StopTimer()
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(items)*float64(b.N)/secs, "items/s")
	b.ReportMetric(float64(bytes)/1e6/secs, "MB/s")
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MB")
	}
}
