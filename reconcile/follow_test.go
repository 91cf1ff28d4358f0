package reconcile_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/emulator"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/stream"
)

func TestFollow_ConvergesAfterLoad(t *testing.T) {
	t.Parallel()
	h := newFollowHarness(t, emulator.WithShards(3))
	h.insert(60)
	h.tick(10 * time.Minute)
	exportTime := h.now()
	// Writes while the export "runs": not in the export, must come from the stream.
	h.tick(2 * time.Second)
	h.updateAll(h.ids[:20])
	h.exportAndLoad(exportTime)
	h.tick(time.Minute)
	h.insert(15)
	for _, id := range h.ids[20:30] {
		h.remove(id)
	}
	// REMOVE then re-INSERT of the same key, in order on one lineage.
	h.remove(h.ids[40])
	h.put(h.gen.ItemWithID(h.ids[40]))
	h.tick(time.Minute)

	res, err := h.follow()
	require.NoError(t, err)
	h.requireCopyEqualsTable()
	require.False(t, res.Watermark.IsZero())
	require.Positive(t, res.Applied)

	st, err := reconcile.Status(t.Context(), h.pool, tenure.TableName, h.now())
	require.NoError(t, err)
	require.Len(t, st, 1)
	require.NotNil(t, st[0].Watermark)
	require.Len(t, st[0].Shards, 3)

	// Following again, after more writes, resumes from the checkpoints.
	h.tick(time.Minute)
	h.updateAll(h.ids[50:55])
	h.remove(h.ids[56])
	res2, err := h.follow()
	require.NoError(t, err)
	require.EqualValues(t, 6, res2.Applied, "a resumed follow applies only the new changes")
	h.requireCopyEqualsTable()
}

func TestFollow_StartsAtExportTimeMinusSkew(t *testing.T) {
	t.Parallel()
	h := newFollowHarness(t)
	h.insert(10) // at emuStart
	h.tick(20 * time.Minute)
	exportTime := h.now()
	// Changes straddling T: 1 minute before (inside the skew) and after.
	h.tick(-time.Minute)
	h.update(h.ids[0])
	h.tick(2 * time.Minute)
	h.update(h.ids[1])
	h.exportAndLoad(exportTime)

	_, err := h.follow()
	require.NoError(t, err)
	// The 10 inserts are 20 minutes before T: skipped. The two updates are
	// within T − 5 min: applied (the first again, harmlessly).
	require.EqualValues(t, 2, h.stats.Applied.Load())
	h.requireCopyEqualsTable()
}

func TestFollow_ReadsParentBeforeChildAcrossSplit(t *testing.T) {
	t.Parallel()
	h := newFollowHarness(t, emulator.WithShards(1))
	h.insert(30)
	h.tick(time.Minute)
	exportTime := h.now()
	h.exportAndLoad(exportTime)
	// Each key is updated in the parent, then again in a child: applying a
	// child before its parent would leave the parent's older image last.
	h.tick(time.Second)
	h.updateAll(h.ids)
	shards, err := h.emu.OpenShards(tenure.TableName)
	require.NoError(t, err)
	_, _, err = h.emu.SplitShard(tenure.TableName, shards[0])
	require.NoError(t, err)
	h.tick(time.Second)
	h.updateAll(h.ids)
	h.remove(h.ids[3])
	_, err = h.emu.RolloverShards(tenure.TableName)
	require.NoError(t, err)
	h.tick(time.Second)
	h.update(h.ids[4])

	_, err = h.follow()
	require.NoError(t, err)
	h.requireCopyEqualsTable()
	st, err := reconcile.Status(t.Context(), h.pool, tenure.TableName, h.now())
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
	h := newFollowHarness(t, emulator.WithShards(2))
	h.insert(40)
	exportTime := h.now()
	h.exportAndLoad(exportTime)
	h.tick(time.Second)
	h.updateAll(h.ids)
	h.emu.FailRate("GetRecords", emulator.FaultThrottle, 0.4)
	h.emu.FailRate("GetShardIterator", emulator.FaultProvisionedThroughput, 0.3)
	h.emu.FailRate("DescribeStream", emulator.FaultInternal, 0.2)
	h.emu.FailNext("GetRecords", emulator.FaultEmptyPage, 5)
	// The caught-up rule assumes at most k-1 spurious empty pages in a row
	// (README, guarantee 1): 5 injected ones need k = 6, or the follow may
	// rightly take the shard for caught up and stop early.
	cfg := h.followConfig()
	cfg.ReaderOptions = append(cfg.ReaderOptions, stream.WithCaughtUpRule(6, 10*time.Millisecond))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, err := reconcile.Follow(ctx, h.pool, cfg)
	require.NoError(t, err)
	h.requireCopyEqualsTable()
}

func TestFollow_RenewsExpiredIterators(t *testing.T) {
	t.Parallel()
	h := newFollowHarness(t)
	h.insert(10)
	h.exportAndLoad(h.now())
	cfg := h.followConfig()
	cfg.UntilCaughtUp = false
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { _, err := reconcile.Follow(ctx, h.pool, cfg); done <- err }()
	// While it follows, every iterator it holds expires between writes,
	// and fake time jumps past the 15-minute iterator life. Each round
	// waits until the follower holds an iterator handed out since the last
	// expiry, so each round expires one it will use.
	var expiredAt uint64
	for i := range 5 {
		require.Eventually(t, func() bool { return h.emu.IteratorsIssued() > expiredAt }, 20*time.Second, time.Millisecond,
			"round %d: the follower took no new iterator", i)
		h.tick(16 * time.Minute)
		expiredAt = h.emu.ExpireIterators()
		h.update(h.ids[i])
	}
	// The 10 inserts at T (within the skew) and the 5 updates.
	require.Eventually(t, func() bool { return h.stats.Applied.Load() == 15 }, 20*time.Second, time.Millisecond)
	cancel()
	require.NoError(t, <-done, "a cancelled follow stops cleanly")
	require.GreaterOrEqual(t, h.stats.Retries(stream.CauseExpiredIterator), int64(5), "every expired iterator was renewed")
	h.requireCopyEqualsTable()
}

func TestFollow_RefusesWhenExportIsOlderThanRetention(t *testing.T) {
	t.Parallel()
	h := newFollowHarness(t)
	h.insert(5)
	exportTime := h.now()
	h.exportAndLoad(exportTime)
	h.tick(23*time.Hour + 30*time.Minute) // inside 24 h, but not by the safety margin
	h.update(h.ids[0])
	_, err := h.follow()
	var gap *stream.GapError
	require.ErrorAs(t, err, &gap)
	require.ErrorIs(t, err, stream.ErrGap)
	require.Contains(t, err.Error(), "a new export of the table")
	require.Zero(t, h.stats.Applied.Load())
}

func TestFollow_RefusesTrimmedCheckpoint(t *testing.T) {
	t.Parallel()
	h := newFollowHarness(t)
	h.insert(5)
	h.exportAndLoad(h.now())
	h.tick(time.Second)
	h.update(h.ids[0])
	_, err := h.follow()
	require.NoError(t, err)
	before := h.rowCount()

	// The follower is away for more than a day; meanwhile changes are made
	// and the stream trims them.
	h.tick(time.Hour)
	h.insert(3)
	h.tick(25 * time.Hour)
	h.update(h.ids[1])
	_, err = h.follow()
	require.ErrorIs(t, err, stream.ErrGap)
	require.Contains(t, err.Error(), "a new export of the table")
	require.Equal(t, before, h.rowCount(), "nothing applied past the gap")
}

func TestFollow_RefusesChangedStream(t *testing.T) {
	t.Parallel()
	h := newFollowHarness(t)
	h.insert(5)
	h.exportAndLoad(h.now())
	_, err := h.follow()
	require.NoError(t, err)
	require.NoError(t, h.emu.DisableStream(tenure.TableName))
	h.update(h.ids[0]) // in no stream
	_, err = h.emu.EnableStream(tenure.TableName, "NEW_AND_OLD_IMAGES")
	require.NoError(t, err)
	h.update(h.ids[1])
	_, err = h.follow()
	require.ErrorIs(t, err, reconcile.ErrStreamChanged)
	require.ErrorIs(t, err, stream.ErrGap)
}

func TestFollow_ResumesAfterCancelInsideABatch(t *testing.T) {
	t.Parallel()
	h := newFollowHarness(t, emulator.WithShards(4))
	h.insert(200)
	h.exportAndLoad(h.now())
	h.tick(time.Second)
	for round := range 5 {
		h.updateAll(h.ids)
		h.tick(time.Second)
		if round == 2 {
			h.remove(h.ids[7])
		}
	}
	// Stop the follower at arbitrary points, repeatedly, then let it finish.
	for _, after := range []int64{1, 300, 700} {
		cfg := h.followConfig()
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			for cfg.Stats.Applied.Load() < after && ctx.Err() == nil {
				time.Sleep(100 * time.Microsecond)
			}
			cancel()
		}()
		_, err := reconcile.Follow(ctx, h.pool, cfg)
		cancel()
		require.NoError(t, err)
	}
	_, err := h.follow()
	require.NoError(t, err)
	h.requireCopyEqualsTable()
}

func TestFollow_SurvivesDatabaseConnectionLoss(t *testing.T) {
	t.Parallel()
	h := newFollowHarness(t, emulator.WithShards(2))
	h.insert(100)
	h.exportAndLoad(h.now())
	h.tick(time.Second)
	cfg := h.followConfig()
	cfg.UntilCaughtUp = false
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { _, err := reconcile.Follow(ctx, h.pool, cfg); done <- err }()
	// The connections die while it follows, not while it starts: its
	// start-up queries are not retried (a restart of the process is).
	require.Eventually(t, func() bool { return h.stats.Pages.Load() > 0 }, 20*time.Second, time.Millisecond)
	for round := range 4 {
		h.updateAll(h.ids)
		h.tick(time.Second)
		// Kill every connection of the follower's database, as a server
		// restart does.
		conn, err := pgx.Connect(t.Context(), h.pool.Config().ConnString())
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
		return h.stats.Applied.Load() >= 500
	}, 30*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	require.Positive(t, h.stats.ApplyRetries.Load(), "the connection losses were noticed and retried")
	h.pool.Reset() // drop the test's own connections that were killed
	h.requireCopyEqualsTable()
}

func TestFollow_CountsTTLRemovalsApart(t *testing.T) {
	t.Parallel()
	h := newFollowHarness(t)
	h.insert(4)
	h.exportAndLoad(h.now())
	h.tick(time.Second)
	ok, err := h.emu.ExpireItem(tenure.TableName, ddbjson.Item{"id": &types.AttributeValueMemberS{Value: h.ids[0]}})
	require.NoError(t, err)
	require.True(t, ok)
	h.remove(h.ids[1]) // an ordinary delete
	_, err = h.follow()
	require.NoError(t, err)
	h.requireCopyEqualsTable()
	require.EqualValues(t, 1, h.stats.TTLRemoves.Load())
	var ttl, plain int
	require.NoError(t, h.pool.QueryRow(t.Context(), `SELECT count(*) FILTER (WHERE ttl), count(*) FILTER (WHERE NOT ttl)
		FROM ddbsync.tombstones WHERE table_name = $1`, tenure.TableName).Scan(&ttl, &plain))
	require.Equal(t, 1, ttl)
	require.Equal(t, 1, plain)
}

func TestFollow_RefusesStreamsWithoutNewImages(t *testing.T) {
	t.Parallel()
	h := newFollowHarness(t)
	h.insert(2)
	h.exportAndLoad(h.now())
	require.NoError(t, h.emu.DisableStream(tenure.TableName))
	_, err := h.emu.EnableStream(tenure.TableName, "KEYS_ONLY")
	require.NoError(t, err)
	_, err = h.pool.Exec(t.Context(), `DELETE FROM ddbsync.streams`)
	require.NoError(t, err)
	_, err = h.follow()
	require.ErrorIs(t, err, stream.ErrViewType)
	require.Contains(t, err.Error(), "KEYS_ONLY")
}

func TestFollow_OneFollowerPerTable(t *testing.T) {
	t.Parallel()
	h := newFollowHarness(t)
	h.insert(3)
	h.exportAndLoad(h.now())
	cfg := h.followConfig()
	cfg.UntilCaughtUp = false
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { _, err := reconcile.Follow(ctx, h.pool, cfg); done <- err }()
	require.Eventually(t, func() bool {
		var n int
		_ = h.pool.QueryRow(t.Context(), `SELECT count(*) FROM ddbsync.shards`).Scan(&n)
		return n > 0
	}, 10*time.Second, 5*time.Millisecond)
	second := h.followConfig()
	second.LockTimeout = 50 * time.Millisecond
	_, err := reconcile.Follow(t.Context(), h.pool, second)
	require.ErrorIs(t, err, reconcile.ErrBusy)
	cancel()
	require.NoError(t, <-done)
}
