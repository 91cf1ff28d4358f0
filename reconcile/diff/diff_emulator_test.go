package diff_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/emulator"
	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/diff"
	"github.com/ddbsync/ddbsync/reconcile/store"
)

func TestDiff_KeysChangedAfterTheInstantAreInFlight(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t, emulator.WithShards(2))
	h.Insert(40)
	h.Tick(10 * time.Minute)
	h.ExportAndLoad(h.Now())
	h.Tick(time.Minute)
	h.Update(h.IDs[0]) // well before I: in the copy (from the stream) and in the source alike
	h.Tick(5 * time.Minute)
	instant := h.Now()
	h.Tick(30 * time.Second) // after I − 1 min: in flight
	h.Update(h.IDs[1])
	h.Remove(h.IDs[2])
	h.Insert(1)
	h.Tick(time.Minute)
	_, err := h.Follow()
	require.NoError(t, err)
	src := h.ExportAt(instant)
	// And one real inconsistency.
	sqlExec(t, h.Pool, `DELETE FROM dynamodb.tenure_information WHERE id = $1`, h.IDs[5])

	c := &collector{}
	sum, err := diff.Run(t.Context(), h.Pool, diff.Config{Table: tenure.TableName, Export: src, Report: c})
	require.ErrorIs(t, err, reconcile.ErrInconsistent)
	require.EqualValues(t, 1, sum.Missing)
	require.Zero(t, sum.Extra)
	require.Zero(t, sum.Different)
	require.EqualValues(t, 3, sum.InFlight)
	require.NotNil(t, sum.Watermark)
	require.False(t, sum.Watermark.Before(instant))

	require.Len(t, c.findings, 4)
	require.False(t, c.findings[0].InFlight, "inconsistencies come first")
	require.Contains(t, string(c.findings[0].Key), h.IDs[5])

	changed := c.byKey(h.IDs[1])
	require.True(t, changed.InFlight)
	require.Equal(t, diff.KindDifferent, changed.Kind)
	require.Equal(t, "stream", changed.Provenance.Origin)
	require.NotEmpty(t, changed.Provenance.ShardID)
	require.NotEmpty(t, changed.Provenance.Sequence)

	removed := c.byKey(h.IDs[2])
	require.True(t, removed.InFlight)
	require.Equal(t, diff.KindMissing, removed.Kind)
	require.NotNil(t, removed.Tombstone)

	added := c.byKey(h.IDs[40])
	require.True(t, added.InFlight)
	require.Equal(t, diff.KindExtra, added.Kind)

	// A repair fixes the real finding and leaves the keys in flight alone.
	sum, err = diff.Run(t.Context(), h.Pool, diff.Config{Table: tenure.TableName, Export: src, Repair: true})
	require.ErrorIs(t, err, reconcile.ErrInconsistent)
	require.Equal(t, &diff.RepairCounts{Inserted: 1}, sum.Repair)
	h.RequireCopyEqualsTable()
}

// setWatermark plays a follower that keeps running during a scan diff.
func setWatermark(t *testing.T, h *reconciletest.Harness, w time.Time) {
	t.Helper()
	sqlExec(t, h.Pool, `INSERT INTO ddbsync.streams (table_name, stream_arn, start_time, watermark) VALUES ($1, 'arn', $2, $3)
		ON CONFLICT (table_name) DO UPDATE SET watermark = $3`, tenure.TableName, w.Add(-time.Hour), w)
}

func TestDiff_ScanSourceWithSegments(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t)
	h.Insert(60)
	h.Tick(time.Minute)
	h.ExportAndLoad(h.Now())
	h.Tick(time.Minute)
	scan := func(repair bool) (diff.Summary, *collector, error) {
		c := &collector{}
		sum, err := diff.Run(t.Context(), h.Pool, diff.Config{Table: tenure.TableName, Repair: repair, Report: c,
			Scan: &diff.ScanSource{Client: h.DDB, Segments: 4, PageLimit: 5}, Now: h.Now})
		return sum, c, err
	}

	// No follow ever ran: refused before scanning.
	_, _, err := scan(false)
	require.ErrorIs(t, err, reconcile.ErrNotCaughtUp)
	require.Zero(t, h.Emu.Calls("Scan"))
	// A watermark before the scan's end: refused after it.
	setWatermark(t, h, h.Now().Add(-time.Second))
	_, _, err = scan(false)
	require.ErrorIs(t, err, reconcile.ErrNotCaughtUp)

	setWatermark(t, h, h.Now().Add(time.Hour))
	calls := h.Emu.Calls("Scan")
	sum, c, err := scan(false)
	require.NoError(t, err)
	require.Empty(t, c.findings)
	require.Equal(t, "scan", sum.SourceKind)
	require.EqualValues(t, 60, sum.SourceItems)
	require.Equal(t, h.Now(), sum.Instant)
	require.NotNil(t, sum.ScanEnd)
	require.GreaterOrEqual(t, h.Emu.Calls("Scan")-calls, 12, "4 segments of 5-item pages")

	sqlExec(t, h.Pool, `UPDATE dynamodb.tenure_information SET item = jsonb_set(item, '{charges,M,rent,N}', '"1.01"') WHERE id = $1`, h.IDs[7])
	sqlExec(t, h.Pool, `DELETE FROM dynamodb.tenure_information WHERE id = $1`, h.IDs[8])
	// A repair from a scan is made beside a running follower (its lock
	// held here; W set above plays its progress).
	follower, err := store.LockTable(t.Context(), h.Pool, 0, store.LockFollow, tenure.TableName)
	require.NoError(t, err)
	defer follower.Release(t.Context())
	sum, c, err = scan(true)
	require.ErrorIs(t, err, reconcile.ErrInconsistent)
	require.EqualValues(t, 1, sum.Different)
	require.EqualValues(t, 1, sum.Missing)
	require.Equal(t, "charges.rent", c.byKey(h.IDs[7]).Differences[0].Path)
	require.Equal(t, &diff.RepairCounts{Inserted: 1, Updated: 1}, sum.Repair)
	var origin string
	require.NoError(t, h.Pool.QueryRow(t.Context(), `SELECT origin FROM dynamodb.tenure_information WHERE id = $1`, h.IDs[7]).Scan(&origin))
	require.Equal(t, "scan", origin)
	h.RequireCopyEqualsTable()

	sum, _, err = scan(false)
	require.NoError(t, err)
	require.Zero(t, sum.Inconsistencies())
}
