package load_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/bench/perfkit"
	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/load"
)

// BenchmarkLoad loads a tenure sample export: DDBSYNC_BENCH_ITEMS items
// (default 1,000,000) in 16 files, and beside it, in the same run, the
// physical limit: PostgreSQL's own binary COPY of the loaded (key, item)
// rows, prepared in advance, in one stream, plus adding the primary key
// (perfkit.RawCopy). It reports the ratio (load/copy) and the load's
// peak RSS, of a fresh load (peak-RSS-MB) and of a load cancelled halfway
// and resumed (resumed-RSS-MB). bench/ratios.sh measures the same through
// the command line, with SIGKILL.
//
//	go test ./reconcile/load -run '^$' -bench BenchmarkLoad -benchtime 1x
func BenchmarkLoad(b *testing.B) {
	items, exp := reconciletest.BenchExport(b)
	l, err := reconcile.NewLayout(tenure.TableName, "", reconciletest.TenureKey)
	require.NoError(b, err)

	var rss perfkit.PeakRSS
	b.ReportAllocs()
	b.ResetTimer()
	var bytes int64
	var loading, limit time.Duration
	var peak float64
	for b.Loop() {
		pool := pgtest.New(b)
		rss.Reset()
		start := time.Now()
		res, err := load.Run(b.Context(), pool, exp, load.Config{Layout: l})
		require.NoError(b, err)
		loading += time.Since(start)
		peak = max(peak, rss.MB())
		require.EqualValues(b, items, res.Items)
		bytes += res.Bytes
		b.StopTimer()
		raw, err := perfkit.RawCopy(b.Context(), pool, l, b.TempDir())
		require.NoError(b, err)
		limit += raw.Total()
		b.StartTimer()
	}
	b.StopTimer()
	secs := loading.Seconds()
	b.ReportMetric(float64(items)*float64(b.N)/secs, "items/s")
	b.ReportMetric(float64(bytes)/1e6/secs, "MB/s")
	b.ReportMetric(secs/limit.Seconds(), "load/copy")
	b.ReportMetric(peak, "peak-RSS-MB")

	// A load cancelled halfway, then resumed.
	pool := pgtest.New(b)
	ctx, cancel := context.WithCancel(b.Context())
	stats := &load.Stats{}
	go func() {
		for ctx.Err() == nil && stats.FilesDone.Load() < int64(len(exp.Files)/2) {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	_, err = load.Run(ctx, pool, exp, load.Config{Layout: l, Stats: stats})
	require.Error(b, err)
	rss.Reset()
	res, err := load.Run(b.Context(), pool, exp, load.Config{Layout: l})
	require.NoError(b, err)
	require.Positive(b, res.FilesResumed)
	b.ReportMetric(rss.MB(), "resumed-RSS-MB")
}
