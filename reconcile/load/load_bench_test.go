package load_test

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/load"
)

// BenchmarkLoad loads a tenure sample export: DDBSYNC_BENCH_ITEMS items
// (default 1,000,000) in 16 files. bench/load.sh runs the same load through
// the command line and compares it with PostgreSQL's own COPY.
//
//	go test ./reconcile/load -run '^$' -bench BenchmarkLoad -benchtime 1x
func BenchmarkLoad(b *testing.B) {
	items, exp := reconciletest.BenchExport(b)
	l, err := reconcile.NewLayout(tenure.TableName, "", reconciletest.TenureKey)
	require.NoError(b, err)

	b.ReportAllocs()
	b.ResetTimer()
	var bytes int64
	for b.Loop() {
		pool := pgtest.New(b)
		res, err := load.Run(b.Context(), pool, exp, load.Config{Layout: l})
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
