package follow_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/emulator"
	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/reconcile/follow"
	"github.com/ddbsync/ddbsync/stream"
)

// BenchmarkFollowShared measures apply throughput with 1, 2 and 4 shared
// followers of one table of 16 shards (DDBSYNC_BENCH_CHANGES changes,
// default 100,000, over DDBSYNC_BENCH_KEYS keys): from their start until
// the shards' checkpoints hold every change. The followers are Runs of one
// process, each with its own owner, leases and fencing: the protocol of
// separate processes, on one Go runtime.
func BenchmarkFollowShared(b *testing.B) {
	changes := envInt(b, "DDBSYNC_BENCH_CHANGES", 100_000)
	keys := envInt(b, "DDBSYNC_BENCH_KEYS", 25_000)
	for _, procs := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("followers=%d", procs), func(b *testing.B) {
			var elapsed time.Duration
			for b.Loop() {
				b.StopTimer()
				h := reconciletest.NewHarness(b, emulator.WithShards(16))
				h.ExportAndLoad(h.Now())
				h.Tick(time.Second)
				writeChanges(b, h.DDB, changes, keys, smallItem)
				ctx, cancel := context.WithCancel(b.Context())
				done := make(chan error, procs)
				b.StartTimer()
				start := time.Now()
				for i := range procs {
					cfg := h.FollowConfig()
					cfg.UntilCaughtUp = false
					cfg.Shared, cfg.Owner, cfg.LeaseDuration = true, fmt.Sprintf("bench-%d", i), 2*time.Second
					cfg.ReaderOptions = []stream.Option{stream.WithPollInterval(10 * time.Millisecond), stream.WithCaughtUpRule(3, 30*time.Millisecond)}
					go func() { _, err := follow.Run(ctx, h.Pool, cfg); done <- err }()
				}
				require.Eventually(b, func() bool {
					var n int
					require.NoError(b, h.Pool.QueryRow(b.Context(), `SELECT coalesce(sum(changes_applied), 0) FROM ddbsync.shards`).Scan(&n))
					return n >= changes
				}, 10*time.Minute, 5*time.Millisecond)
				elapsed += time.Since(start)
				b.StopTimer()
				cancel()
				for range procs {
					require.NoError(b, <-done)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(changes)*float64(b.N)/elapsed.Seconds(), "changes/s")
		})
	}
}
