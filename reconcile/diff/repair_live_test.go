package diff_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/emulator"
	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/diff"
)

// scanWhileWriting is the table's Scan, with writes to DynamoDB made
// before given pages, as a live table takes them while a diff scans it.
type scanWhileWriting struct {
	diff.ScanAPI
	pages  atomic.Int64
	before func(page int64)
}

func (s *scanWhileWriting) Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	s.before(s.pages.Add(1))
	return s.ScanAPI.Scan(ctx, in, opts...)
}

// origin is the provenance origin of tenure id's row ("" when it has none).
func origin(t *testing.T, h *reconciletest.Harness, id string) string {
	t.Helper()
	var o string
	err := h.Pool.QueryRow(t.Context(), `SELECT origin FROM dynamodb.tenure_information WHERE id = $1`, id).Scan(&o)
	if err == pgx.ErrNoRows {
		return ""
	}
	require.NoError(t, err)
	return o
}

// sequence is the stream sequence number of tenure id's row ("" when it
// has none).
func sequence(t *testing.T, h *reconciletest.Harness, id string) string {
	t.Helper()
	var s string
	err := h.Pool.QueryRow(t.Context(), `SELECT coalesce(sequence_number::text, '') FROM dynamodb.tenure_information WHERE id = $1`, id).Scan(&s)
	if err == pgx.ErrNoRows {
		return ""
	}
	require.NoError(t, err)
	return s
}

func TestDiff_ScanRepairBesideARunningFollower(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t, emulator.WithShards(2))
	h.Insert(60)
	h.Tick(time.Minute)
	h.ExportAndLoad(h.Now())
	h.Tick(time.Minute)
	h.UpdateAll(h.IDs[:10]) // rows from the stream, too
	cfg := h.FollowConfigOnEmulatorClock()
	cfg.UntilCaughtUp = false
	follower := h.FollowInBackground(cfg)
	stopClock := h.RunClock(100 * time.Millisecond)
	h.WaitWatermark(h.Now().Add(time.Second))

	// Drift behind ddbsync's back, in PostgreSQL: a changed row, a deleted
	// row, a row DynamoDB never had, and a changed row whose key the
	// stream will change between the compare and the repair.
	changed, deleted, racing, rewritten := h.IDs[20], h.IDs[21], h.IDs[22], h.IDs[23]
	rent := `UPDATE dynamodb.tenure_information SET item = jsonb_set(item, '{charges,M,rent,N}', '"1.01"') WHERE id = $1`
	sqlExec(t, h.Pool, rent, changed)
	sqlExec(t, h.Pool, rent, racing)
	sqlExec(t, h.Pool, rent, rewritten)
	sqlExec(t, h.Pool, `DELETE FROM dynamodb.tenure_information WHERE id = $1`, deleted)
	sqlExec(t, h.Pool, `INSERT INTO dynamodb.tenure_information (id, item, origin, origin_time)
		SELECT 'ghost', jsonb_set(item, '{id,S}', '"ghost"'), origin, origin_time FROM dynamodb.tenure_information WHERE id = $1`, h.IDs[24])

	// DynamoDB changes while the scan reads it: updates (one of a drifted
	// row, which the stream then repairs itself), a removal, inserts.
	scan := &scanWhileWriting{ScanAPI: h.DDB, before: func(page int64) {
		switch page {
		case 2:
			h.UpdateAll(append([]string{rewritten}, h.IDs[30:35]...))
		case 4:
			h.Remove(h.IDs[36])
			h.Insert(2)
		case 6:
			h.Update(h.IDs[0])
		}
	}}
	c := &collector{}
	dcfg := diff.Config{Table: tenure.TableName, Repair: true, Report: c, Now: h.Now,
		Scan:          &diff.ScanSource{Client: scan, Segments: 1, PageLimit: 10},
		WatermarkWait: 30 * time.Second, WatermarkPoll: time.Millisecond}
	diff.SetBeforeLiveRepair(&dcfg, func() {
		// After the compare, the stream changes a key found different:
		// its image is newer than the scan's, and must stay.
		// Wait for this very change: the row's origin may already be
		// "stream" (the replay from T − 5 min rewrote every row).
		before := sequence(t, h, racing)
		h.Update(racing)
		require.Eventually(t, func() bool { return sequence(t, h, racing) != before }, 30*time.Second, time.Millisecond)
	})
	sum, err := diff.Run(t.Context(), h.Pool, dcfg)
	require.ErrorIs(t, err, reconcile.ErrInconsistent)
	require.EqualValues(t, 1, sum.Missing, "the deleted row")
	require.EqualValues(t, 1, sum.Extra, "the ghost")
	require.EqualValues(t, 2, sum.Different, "the changed row and the racing one")
	require.Equal(t, &diff.RepairCounts{Inserted: 1, Updated: 1, Deleted: 1, Skipped: 1}, sum.Repair)
	require.NotNil(t, sum.Watermark)
	require.False(t, sum.Watermark.Before(sum.ScanEnd.Add(time.Minute)), "W passed the scan's end plus the skew before the compare")

	f := c.byKey(racing)
	require.False(t, f.Repaired)
	require.Equal(t, diff.RepairSkippedNewer, f.RepairSkipped)
	require.True(t, c.byKey(changed).Repaired)
	require.Equal(t, "scan", origin(t, h, changed))
	require.Equal(t, "stream", origin(t, h, racing))
	require.Equal(t, "scan", origin(t, h, deleted))
	require.Empty(t, origin(t, h, "ghost"))
	var recorded int
	require.NoError(t, h.Pool.QueryRow(t.Context(), `SELECT count(*) FROM ddbsync.repairs WHERE diff_id = $1`, sum.DiffID).Scan(&recorded))
	require.Equal(t, 3, recorded, "the repairs made, not the one skipped")

	// Everything the table got is applied; the copy is the table.
	h.WaitWatermark(h.Now().Add(time.Second))
	require.NoError(t, follower.Stop())
	stopClock()
	h.RequireCopyEqualsTable()
}

func TestDiff_ScanRepairNeedsARunningFollower(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t)
	h.Insert(10)
	h.Tick(time.Minute)
	h.ExportAndLoad(h.Now())
	_, err := h.Follow()
	require.NoError(t, err)
	_, err = diff.Run(t.Context(), h.Pool, diff.Config{Table: tenure.TableName, Repair: true, Now: h.Now,
		Scan: &diff.ScanSource{Client: h.DDB}})
	require.ErrorIs(t, err, reconcile.ErrNotCaughtUp)
	require.ErrorContains(t, err, "none is running")
	require.Zero(t, h.Emu.Calls("Scan"), "refused before scanning")
}
