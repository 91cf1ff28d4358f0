package views_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile/load"
	"github.com/ddbsync/ddbsync/reconcile/views"
)

// BenchmarkInfer infers and writes the typed views of a table of
// DDBSYNC_BENCH_ITEMS tenure items (default 1,000,000), reading every item
// (read=all) and the default sample (read=sample), and reports items read
// a second and the seconds each run took.
func BenchmarkInfer(b *testing.B) {
	items, exp := reconciletest.BenchExport(b)
	pool := pgtest.New(b)
	_, err := load.Run(b.Context(), pool, exp, load.Config{Layout: reconciletest.TenureLayout(b, "")})
	require.NoError(b, err)
	_, err = pool.Exec(b.Context(), "ANALYZE dynamodb.tenure_information")
	require.NoError(b, err)
	for _, c := range []struct {
		name   string
		sample int64
	}{{"all", -1}, {"sample", views.DefaultSample}} {
		b.Run("read="+c.name, func(b *testing.B) {
			b.ReportAllocs()
			var read int64
			var took time.Duration
			for b.Loop() {
				start := time.Now()
				res, err := views.Run(b.Context(), pool, views.Config{Table: tenure.TableName, Sample: c.sample})
				require.NoError(b, err)
				took += time.Since(start)
				read += res.Items
				require.Equal(b, c.sample > 0 && int64(items) > c.sample, res.Sampled)
			}
			b.ReportMetric(float64(read)/took.Seconds(), "items/s")
			b.ReportMetric(took.Seconds()/float64(b.N), "s/run")
		})
	}
}
