package follow_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/emulator"
	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile/follow"
)

// TestFollow_ResumeKeepsTheStoredReplayStart follows with a 5-minute skew,
// then resumes with a 1-minute one: the replay start S = T − 5 min stays,
// so a shard first read on the resumed run still applies a change from
// between T − 5 min and T − 1 min.
func TestFollow_ResumeKeepsTheStoredReplayStart(t *testing.T) {
	h := reconciletest.NewHarness(t, emulator.WithShards(1))
	h.Insert(5)
	shards, err := h.Emu.OpenShards(tenure.TableName)
	require.NoError(t, err)
	h.Tick(10 * time.Minute)
	_, err = h.Emu.RolloverShards(tenure.TableName)
	require.NoError(t, err)
	h.Tick(7 * time.Minute)
	h.Update(h.IDs[0]) // in the child, at T − 3 min
	h.Tick(3 * time.Minute)
	exportTime := h.Now()
	h.ExportAndLoad(exportTime)

	// The first run does not see the child yet (a lagging listing): it
	// reads the parent only, every record of which is before S.
	api := &laggingListing{API: h.Emu.Streams(), parent: shards[0]}
	api.hide.Store(true)
	cfg := h.FollowConfig()
	cfg.Streams = api
	cfg.ReplayMargin = 5 * time.Minute
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	res, err := follow.Run(ctx, h.Pool, cfg)
	require.NoError(t, err)
	require.Zero(t, res.Applied)

	cfg = h.FollowConfig()
	cfg.ReplayMargin = time.Minute
	res, err = follow.Run(ctx, h.Pool, cfg)
	require.NoError(t, err)
	require.EqualValues(t, 1, res.Applied, "the child's change at T − 3 min is after the stored S = T − 5 min")
	require.EqualValues(t, 1, h.Stats.Applied.Load())

	var start time.Time
	require.NoError(t, h.Pool.QueryRow(t.Context(), `SELECT start_time FROM ddbsync.streams WHERE table_name = $1`,
		tenure.TableName).Scan(&start))
	require.True(t, start.Equal(exportTime.Add(-5*time.Minute)), "stored start %s", start)
	h.RequireCopyEqualsTable()
}
