package diff_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/bench/perfkit"
	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/diff"
	"github.com/ddbsync/ddbsync/reconcile/load"
)

// BenchmarkDiff diffs a loaded tenure copy of DDBSYNC_BENCH_ITEMS items
// (default 1,000,000) against its export after planting 1,000 differences
// in the copy (a third each missing, extra and different), and checks that
// exactly those are found. Beside it, in the same run: the load of that
// export (diff/load) and the physical limit, reading and decoding the
// export alone (diff/read, perfkit.ReadExport). bench/ratios.sh does the
// same through the command line and reports peak RSS.
//
//	go test ./reconcile/diff -run '^$' -bench BenchmarkDiff -benchtime 1x
func BenchmarkDiff(b *testing.B) {
	const planted, third = 1000, 333
	items, exp := reconciletest.BenchExport(b)
	pool := pgtest.New(b)
	start := time.Now()
	_, err := load.Run(b.Context(), pool, exp, load.Config{Layout: reconciletest.TenureLayout(b, "")})
	require.NoError(b, err)
	loading := time.Since(start)
	for _, sql := range []string{
		fmt.Sprintf(`CREATE TABLE victims AS SELECT id, row_number() OVER () AS n
			FROM (SELECT id FROM dynamodb.tenure_information ORDER BY md5(id) LIMIT %d) s`, planted-third),
		fmt.Sprintf(`DELETE FROM dynamodb.tenure_information t USING victims v WHERE t.id = v.id AND v.n <= %d`, third),
		fmt.Sprintf(`UPDATE dynamodb.tenure_information t SET item = jsonb_set(t.item, '{charges,M,rent,N}', '"0.01"')
			FROM victims v WHERE t.id = v.id AND v.n > %d`, third),
		fmt.Sprintf(`INSERT INTO dynamodb.tenure_information (id, item, origin, origin_time)
			SELECT 'planted-' || g, jsonb_build_object('id', jsonb_build_object('S', 'planted-' || g)), 'export', '%s'
			FROM generate_series(1, %d) g`, reconciletest.T0.Format(time.RFC3339), third),
	} {
		_, err := pool.Exec(b.Context(), sql)
		require.NoError(b, err)
	}

	var rss perfkit.PeakRSS
	rss.Reset()
	b.ReportAllocs()
	b.ResetTimer()
	var diffing, reading time.Duration
	for b.Loop() {
		start := time.Now()
		sum, err := diff.Run(b.Context(), pool, diff.Config{Table: tenure.TableName, Export: exp})
		diffing += time.Since(start)
		require.ErrorIs(b, err, reconcile.ErrInconsistent)
		require.EqualValues(b, third, sum.Missing, "%+v", sum)
		require.EqualValues(b, third, sum.Extra)
		require.EqualValues(b, planted-2*third, sum.Different)
		b.StopTimer()
		start = time.Now()
		n, err := perfkit.ReadExport(b.Context(), exp, reconcile.DefaultWorkers())
		require.NoError(b, err)
		require.EqualValues(b, items, n)
		reading += time.Since(start)
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(items)*float64(b.N)/diffing.Seconds(), "items/s")
	b.ReportMetric(diffing.Seconds()/reading.Seconds(), "diff/read")
	b.ReportMetric(diffing.Seconds()/float64(b.N)/loading.Seconds(), "diff/load")
	b.ReportMetric(rss.MB(), "peak-RSS-MB")
}
