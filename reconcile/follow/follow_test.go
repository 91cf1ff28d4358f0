package follow_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/emulator"
	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/follow"
	"github.com/ddbsync/ddbsync/stream"
)

func TestFollow_ConvergesAfterLoad(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t, emulator.WithShards(3))
	h.Insert(60)
	h.Tick(10 * time.Minute)
	exportTime := h.Now()
	// Writes while the export "runs": not in the export, must come from the stream.
	h.Tick(2 * time.Second)
	h.UpdateAll(h.IDs[:20])
	h.ExportAndLoad(exportTime)
	h.Tick(time.Minute)
	h.Insert(15)
	for _, id := range h.IDs[20:30] {
		h.Remove(id)
	}
	// REMOVE then re-INSERT of the same key, in order on one lineage.
	h.Remove(h.IDs[40])
	h.Put(h.Gen.ItemWithID(h.IDs[40]))
	h.Tick(time.Minute)

	res, err := h.Follow()
	require.NoError(t, err)
	h.RequireCopyEqualsTable()
	require.False(t, res.Watermark.IsZero())
	require.Positive(t, res.Applied)

	st, err := reconcile.Status(t.Context(), h.Pool, tenure.TableName, h.Now())
	require.NoError(t, err)
	require.Len(t, st, 1)
	require.NotNil(t, st[0].Watermark)
	require.Len(t, st[0].Shards, 3)

	// Following again, after more writes, resumes from the checkpoints.
	h.Tick(time.Minute)
	h.UpdateAll(h.IDs[50:55])
	h.Remove(h.IDs[56])
	res2, err := h.Follow()
	require.NoError(t, err)
	require.EqualValues(t, 6, res2.Applied, "a resumed follow applies only the new changes")
	h.RequireCopyEqualsTable()
}

func TestFollow_StartsAtExportTimeMinusSkew(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t)
	h.Insert(10) // at reconciletest.EmuStart
	h.Tick(20 * time.Minute)
	exportTime := h.Now()
	// Changes straddling T: 1 minute before (inside the skew) and after.
	h.Tick(-time.Minute)
	h.Update(h.IDs[0])
	h.Tick(2 * time.Minute)
	h.Update(h.IDs[1])
	h.ExportAndLoad(exportTime)

	_, err := h.Follow()
	require.NoError(t, err)
	// The 10 inserts are 20 minutes before T: skipped. The two updates are
	// within T − 5 min: applied (the first again, harmlessly).
	require.EqualValues(t, 2, h.Stats.Applied.Load())
	h.RequireCopyEqualsTable()
}

func TestFollow_ReadsParentBeforeChildAcrossSplit(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t, emulator.WithShards(1))
	h.Insert(30)
	h.Tick(time.Minute)
	exportTime := h.Now()
	h.ExportAndLoad(exportTime)
	// Each key is updated in the parent, then again in a child: applying a
	// child before its parent would leave the parent's older image last.
	h.Tick(time.Second)
	h.UpdateAll(h.IDs)
	shards, err := h.Emu.OpenShards(tenure.TableName)
	require.NoError(t, err)
	_, _, err = h.Emu.SplitShard(tenure.TableName, shards[0])
	require.NoError(t, err)
	h.Tick(time.Second)
	h.UpdateAll(h.IDs)
	h.Remove(h.IDs[3])
	_, err = h.Emu.RolloverShards(tenure.TableName)
	require.NoError(t, err)
	h.Tick(time.Second)
	h.Update(h.IDs[4])

	_, err = h.Follow()
	require.NoError(t, err)
	h.RequireCopyEqualsTable()
	st, err := reconcile.Status(t.Context(), h.Pool, tenure.TableName, h.Now())
	require.NoError(t, err)
	finished := 0
	for _, s := range st[0].Shards {
		if s.State == "finished" {
			finished++
		}
	}
	require.Equal(t, 3, finished, "the parent and both split children closed and were read to their end")
}

func TestFollow_SurvivesThrottlingStormAndServerErrors(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t, emulator.WithShards(2))
	h.Insert(40)
	exportTime := h.Now()
	h.ExportAndLoad(exportTime)
	h.Tick(time.Second)
	h.UpdateAll(h.IDs)
	h.Emu.FailRate("GetRecords", emulator.FaultThrottle, 0.4)
	h.Emu.FailRate("GetShardIterator", emulator.FaultProvisionedThroughput, 0.3)
	h.Emu.FailRate("DescribeStream", emulator.FaultInternal, 0.2)
	h.Emu.FailNext("GetRecords", emulator.FaultEmptyPage, 5)
	// The caught-up rule assumes at most k-1 spurious empty pages in a row
	// (README, guarantee 1): 5 injected ones need k = 6, or the follow may
	// rightly take the shard for caught up and stop early.
	cfg := h.FollowConfig()
	cfg.ReaderOptions = append(cfg.ReaderOptions, stream.WithCaughtUpRule(6, 10*time.Millisecond))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, err := follow.Run(ctx, h.Pool, cfg)
	require.NoError(t, err)
	h.RequireCopyEqualsTable()
}

func TestFollow_RenewsExpiredIterators(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t)
	h.Insert(10)
	h.ExportAndLoad(h.Now())
	cfg := h.FollowConfig()
	cfg.UntilCaughtUp = false
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { _, err := follow.Run(ctx, h.Pool, cfg); done <- err }()
	// While it follows, every iterator it holds expires between writes,
	// and fake time jumps past the 15-minute iterator life. Each round
	// waits until the follower holds an iterator handed out since the last
	// expiry, so each round expires one it will use.
	var expiredAt uint64
	for i := range 5 {
		require.Eventually(t, func() bool { return h.Emu.IteratorsIssued() > expiredAt }, 20*time.Second, time.Millisecond,
			"round %d: the follower took no new iterator", i)
		h.Tick(16 * time.Minute)
		expiredAt = h.Emu.ExpireIterators()
		h.Update(h.IDs[i])
	}
	// The 10 inserts at T (within the skew) and the 5 updates.
	require.Eventually(t, func() bool { return h.Stats.Applied.Load() == 15 }, 20*time.Second, time.Millisecond)
	cancel()
	require.NoError(t, <-done, "a cancelled follow stops cleanly")
	require.GreaterOrEqual(t, h.Stats.Retries(stream.CauseExpiredIterator), int64(5), "every expired iterator was renewed")
	h.RequireCopyEqualsTable()
}

func TestFollow_RefusesWhenExportIsOlderThanRetention(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t)
	h.Insert(5)
	exportTime := h.Now()
	h.ExportAndLoad(exportTime)
	h.Tick(23*time.Hour + 30*time.Minute) // inside 24 h, but not by the safety margin
	h.Update(h.IDs[0])
	_, err := h.Follow()
	var gap *stream.GapError
	require.ErrorAs(t, err, &gap)
	require.ErrorIs(t, err, stream.ErrGap)
	require.Contains(t, err.Error(), "a new export of the table")
	require.Zero(t, h.Stats.Applied.Load())
}

func TestFollow_RefusesTrimmedCheckpoint(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t)
	h.Insert(5)
	h.ExportAndLoad(h.Now())
	h.Tick(time.Second)
	h.Update(h.IDs[0])
	_, err := h.Follow()
	require.NoError(t, err)
	before := h.RowCount()

	// The follower is away for more than a day; meanwhile changes are made
	// and the stream trims them.
	h.Tick(time.Hour)
	h.Insert(3)
	h.Tick(25 * time.Hour)
	h.Update(h.IDs[1])
	_, err = h.Follow()
	require.ErrorIs(t, err, stream.ErrGap)
	require.Contains(t, err.Error(), "a new export of the table")
	require.Equal(t, before, h.RowCount(), "nothing applied past the gap")
}

func TestFollow_RefusesChangedStream(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t)
	h.Insert(5)
	h.ExportAndLoad(h.Now())
	_, err := h.Follow()
	require.NoError(t, err)
	require.NoError(t, h.Emu.DisableStream(tenure.TableName))
	h.Update(h.IDs[0]) // in no stream
	_, err = h.Emu.EnableStream(tenure.TableName, "NEW_AND_OLD_IMAGES")
	require.NoError(t, err)
	h.Update(h.IDs[1])
	_, err = h.Follow()
	require.ErrorIs(t, err, reconcile.ErrStreamChanged)
	require.ErrorIs(t, err, stream.ErrGap)
}

func TestFollow_ResumesAfterCancelInsideABatch(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t, emulator.WithShards(4))
	h.Insert(200)
	h.ExportAndLoad(h.Now())
	h.Tick(time.Second)
	for round := range 5 {
		h.UpdateAll(h.IDs)
		h.Tick(time.Second)
		if round == 2 {
			h.Remove(h.IDs[7])
		}
	}
	// Stop the follower at arbitrary points, repeatedly, then let it finish.
	for _, after := range []int64{1, 300, 700} {
		cfg := h.FollowConfig()
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			for cfg.Stats.Applied.Load() < after && ctx.Err() == nil {
				time.Sleep(100 * time.Microsecond)
			}
			cancel()
		}()
		_, err := follow.Run(ctx, h.Pool, cfg)
		cancel()
		require.NoError(t, err)
	}
	_, err := h.Follow()
	require.NoError(t, err)
	h.RequireCopyEqualsTable()
}

func TestFollow_SurvivesDatabaseConnectionLoss(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t, emulator.WithShards(2))
	h.Insert(100)
	h.ExportAndLoad(h.Now())
	h.Tick(time.Second)
	cfg := h.FollowConfig()
	cfg.UntilCaughtUp = false
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { _, err := follow.Run(ctx, h.Pool, cfg); done <- err }()
	// The connections die while it follows, not while it starts: its
	// start-up queries are not retried (a restart of the process is).
	require.Eventually(t, func() bool { return h.Stats.Pages.Load() > 0 }, 20*time.Second, time.Millisecond)
	for round := range 4 {
		h.UpdateAll(h.IDs)
		h.Tick(time.Second)
		// Kill every connection of the follower's database, as a server
		// restart does.
		conn, err := pgx.Connect(t.Context(), h.Pool.Config().ConnString())
		require.NoError(t, err, "round %d", round)
		_, err = conn.Exec(t.Context(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()`)
		require.NoError(t, err, "round %d", round)
		require.NoError(t, conn.Close(t.Context()))
		time.Sleep(20 * time.Millisecond)
	}
	require.Eventually(t, func() bool {
		select {
		case err := <-done:
			require.NoError(t, err, "the follower stopped")
		default:
		}
		return h.Stats.Applied.Load() >= 500
	}, 30*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	require.Positive(t, h.Stats.ApplyRetries.Load(), "the connection losses were noticed and retried")
	h.Pool.Reset() // drop the test's own connections that were killed
	h.RequireCopyEqualsTable()
}

func TestFollow_CountsTTLRemovalsApart(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t)
	h.Insert(4)
	h.ExportAndLoad(h.Now())
	h.Tick(time.Second)
	ok, err := h.Emu.ExpireItem(tenure.TableName, ddbjson.Item{"id": &types.AttributeValueMemberS{Value: h.IDs[0]}})
	require.NoError(t, err)
	require.True(t, ok)
	h.Remove(h.IDs[1]) // an ordinary delete
	_, err = h.Follow()
	require.NoError(t, err)
	h.RequireCopyEqualsTable()
	require.EqualValues(t, 1, h.Stats.TTLRemoves.Load())
	var ttl, plain int
	require.NoError(t, h.Pool.QueryRow(t.Context(), `SELECT count(*) FILTER (WHERE ttl), count(*) FILTER (WHERE NOT ttl)
		FROM ddbsync.tombstones WHERE table_name = $1`, tenure.TableName).Scan(&ttl, &plain))
	require.Equal(t, 1, ttl)
	require.Equal(t, 1, plain)
}

func TestFollow_RefusesStreamsWithoutNewImages(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t)
	h.Insert(2)
	h.ExportAndLoad(h.Now())
	require.NoError(t, h.Emu.DisableStream(tenure.TableName))
	_, err := h.Emu.EnableStream(tenure.TableName, "KEYS_ONLY")
	require.NoError(t, err)
	_, err = h.Pool.Exec(t.Context(), `DELETE FROM ddbsync.streams`)
	require.NoError(t, err)
	_, err = h.Follow()
	require.ErrorIs(t, err, stream.ErrViewType)
	require.Contains(t, err.Error(), "KEYS_ONLY")
}

func TestFollow_OneFollowerPerTable(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t)
	h.Insert(3)
	h.ExportAndLoad(h.Now())
	cfg := h.FollowConfig()
	cfg.UntilCaughtUp = false
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { _, err := follow.Run(ctx, h.Pool, cfg); done <- err }()
	require.Eventually(t, func() bool {
		var n int
		_ = h.Pool.QueryRow(t.Context(), `SELECT count(*) FROM ddbsync.shards`).Scan(&n)
		return n > 0
	}, 10*time.Second, 5*time.Millisecond)
	second := h.FollowConfig()
	second.LockTimeout = 50 * time.Millisecond
	_, err := follow.Run(t.Context(), h.Pool, second)
	require.ErrorIs(t, err, reconcile.ErrBusy)
	cancel()
	require.NoError(t, <-done)
}

// A stream change's item is stored as a load stores it: a tenure item is
// over the 2 kB TOAST threshold, so both are compressed, with the data
// table's compression (lz4 where the server has it), not the server's
// default that a stage table of its own would have used.
func TestFollow_CompressesItemsAsTheLoadDoes(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t)
	h.Insert(10)
	h.Tick(10 * time.Minute) // past the skew a follow replays from before the export time
	h.ExportAndLoad(h.Now())
	h.Tick(time.Minute)
	h.UpdateAll(h.IDs[:5])
	h.Tick(time.Minute)
	_, err := h.Follow()
	require.NoError(t, err)
	h.RequireCopyEqualsTable()

	rows, err := h.Pool.Query(t.Context(), `SELECT origin, pg_column_compression(item) FROM dynamodb.tenure_information`)
	require.NoError(t, err)
	byOrigin := map[string][]string{}
	for rows.Next() {
		var origin string
		var method *string
		require.NoError(t, rows.Scan(&origin, &method))
		require.NotNil(t, method, "a %s row's item is not compressed", origin)
		byOrigin[origin] = append(byOrigin[origin], *method)
	}
	require.NoError(t, rows.Err())
	require.Len(t, byOrigin["stream"], 5)
	require.Len(t, byOrigin["export"], 5)
	for _, m := range byOrigin["stream"] {
		require.Equal(t, byOrigin["export"][0], m, "stream rows are compressed as the load's: %v", byOrigin)
	}
}
