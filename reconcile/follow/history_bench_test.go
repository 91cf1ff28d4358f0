package follow_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/emulator"
	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/reconcile/follow"
	"github.com/ddbsync/ddbsync/reconcile/load"
	"github.com/ddbsync/ddbsync/stream"
)

// BenchmarkFollowApplyHistory measures the follow's apply rate with the
// table's history on against the same without it, in the same run: two
// tables, each loaded empty, then given DDBSYNC_BENCH_CHANGES changes
// (default 200,000) over DDBSYNC_BENCH_KEYS keys (default 50,000) on 4
// shards, items as [BenchmarkFollowApply]'s (DDBSYNC_BENCH_ITEM=tenure).
// It reports both rates and their ratio (history/plain), and the history
// table's size per version.
//
//	DDBSYNC_BENCH_ITEM=tenure go test ./reconcile/follow -run '^$' -bench BenchmarkFollowApplyHistory -benchtime 1x -timeout 30m
func BenchmarkFollowApplyHistory(b *testing.B) {
	changes := envInt(b, "DDBSYNC_BENCH_CHANGES", 200_000)
	keys := envInt(b, "DDBSYNC_BENCH_KEYS", 50_000)
	item := benchItem()
	// follow returns the time following took, and the harness.
	follow1 := func(history bool) (time.Duration, *reconciletest.Harness) {
		h := reconciletest.NewHarness(b, emulator.WithShards(4))
		_, err := load.Run(b.Context(), h.Pool, h.ExportAt(h.Now()), load.Config{Layout: reconciletest.TenureLayout(b, ""), History: history})
		require.NoError(b, err)
		h.Tick(time.Second)
		writeChanges(b, h.DDB, changes, keys, item)
		cfg := h.FollowConfig()
		// The harness's readers (caught-up rule on the wall clock), polling less often.
		cfg.ReaderOptions = append(cfg.ReaderOptions, stream.WithPollInterval(10*time.Millisecond))
		start := time.Now()
		res, err := follow.Run(b.Context(), h.Pool, cfg)
		took := time.Since(start)
		require.NoError(b, err)
		require.EqualValues(b, changes, res.Applied)
		return took, h
	}
	var plain, history time.Duration
	var h *reconciletest.Harness
	for b.Loop() {
		var p, hi time.Duration
		p, _ = follow1(false)
		hi, h = follow1(true)
		plain += p
		history += hi
	}
	var versions, bytes int64
	require.NoError(b, h.Pool.QueryRow(b.Context(), `SELECT count(*), pg_total_relation_size('dynamodb.tenure_information_history')
		FROM dynamodb.tenure_information_history`).Scan(&versions, &bytes))
	require.EqualValues(b, changes, versions, "one version per change (the export was empty)")
	n := float64(changes) * float64(b.N)
	b.ReportMetric(n/plain.Seconds(), "changes/s")
	b.ReportMetric(n/history.Seconds(), "history-changes/s")
	b.ReportMetric(plain.Seconds()/history.Seconds(), "history/plain")
	b.ReportMetric(float64(bytes)/float64(versions), "history-bytes/version")
}
