package reconcile_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/emulator"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/snapshot"
)

// exportAt exports the emulator table as of at and opens the export.
func (h *followHarness) exportAt(at time.Time) *snapshot.Export {
	h.t.Helper()
	dir := h.t.TempDir()
	_, err := h.emu.ExportToDir(h.t.Context(), tenure.TableName, at, dir)
	require.NoError(h.t, err)
	src, err := snapshot.NewDirSource(dir)
	require.NoError(h.t, err)
	exp, err := snapshot.Open(h.t.Context(), src)
	require.NoError(h.t, err)
	return exp
}

func TestDiff_KeysChangedAfterTheInstantAreInFlight(t *testing.T) {
	t.Parallel()
	h := newFollowHarness(t, emulator.WithShards(2))
	h.insert(40)
	h.tick(10 * time.Minute)
	h.exportAndLoad(h.now())
	h.tick(time.Minute)
	h.update(h.ids[0]) // well before I: in the copy (from the stream) and in the source alike
	h.tick(5 * time.Minute)
	instant := h.now()
	h.tick(30 * time.Second) // after I − 1 min: in flight
	h.update(h.ids[1])
	h.remove(h.ids[2])
	h.insert(1)
	h.tick(time.Minute)
	_, err := h.follow()
	require.NoError(t, err)
	src := h.exportAt(instant)
	// And one real inconsistency.
	sqlExec(t, h.pool, `DELETE FROM dynamodb.tenure_information WHERE id = $1`, h.ids[5])

	c := &collector{}
	sum, err := reconcile.Diff(t.Context(), h.pool, reconcile.DiffConfig{Table: tenure.TableName, Export: src, Report: c})
	require.ErrorIs(t, err, reconcile.ErrInconsistent)
	require.EqualValues(t, 1, sum.Missing)
	require.Zero(t, sum.Extra)
	require.Zero(t, sum.Different)
	require.EqualValues(t, 3, sum.InFlight)
	require.NotNil(t, sum.Watermark)
	require.False(t, sum.Watermark.Before(instant))

	require.Len(t, c.findings, 4)
	require.False(t, c.findings[0].InFlight, "inconsistencies come first")
	require.Contains(t, string(c.findings[0].Key), h.ids[5])

	changed := c.byKey(h.ids[1])
	require.True(t, changed.InFlight)
	require.Equal(t, reconcile.KindDifferent, changed.Kind)
	require.Equal(t, "stream", changed.Provenance.Origin)
	require.NotEmpty(t, changed.Provenance.ShardID)
	require.NotEmpty(t, changed.Provenance.Sequence)

	removed := c.byKey(h.ids[2])
	require.True(t, removed.InFlight)
	require.Equal(t, reconcile.KindMissing, removed.Kind)
	require.NotNil(t, removed.Tombstone)

	added := c.byKey(h.ids[40])
	require.True(t, added.InFlight)
	require.Equal(t, reconcile.KindExtra, added.Kind)

	// A repair fixes the real finding and leaves the keys in flight alone.
	sum, err = reconcile.Diff(t.Context(), h.pool, reconcile.DiffConfig{Table: tenure.TableName, Export: src, Repair: true})
	require.ErrorIs(t, err, reconcile.ErrInconsistent)
	require.Equal(t, &reconcile.RepairCounts{Inserted: 1}, sum.Repair)
	h.requireCopyEqualsTable()
}

// setWatermark plays a follower that keeps running during a scan diff.
func setWatermark(t *testing.T, h *followHarness, w time.Time) {
	t.Helper()
	sqlExec(t, h.pool, `INSERT INTO ddbsync.streams (table_name, stream_arn, start_time, watermark) VALUES ($1, 'arn', $2, $3)
		ON CONFLICT (table_name) DO UPDATE SET watermark = $3`, tenure.TableName, w.Add(-time.Hour), w)
}

func TestDiff_ScanSourceWithSegments(t *testing.T) {
	t.Parallel()
	h := newFollowHarness(t)
	h.insert(60)
	h.tick(time.Minute)
	h.exportAndLoad(h.now())
	h.tick(time.Minute)
	scan := func(repair bool) (reconcile.DiffSummary, *collector, error) {
		c := &collector{}
		sum, err := reconcile.Diff(t.Context(), h.pool, reconcile.DiffConfig{Table: tenure.TableName, Repair: repair, Report: c,
			Scan: &reconcile.ScanSource{Client: h.ddb, Segments: 4, PageLimit: 5}, Now: h.now})
		return sum, c, err
	}

	// No follow ever ran: refused before scanning.
	_, _, err := scan(false)
	require.ErrorIs(t, err, reconcile.ErrNotCaughtUp)
	require.Zero(t, h.emu.Calls("Scan"))
	// A watermark before the scan's end: refused after it.
	setWatermark(t, h, h.now().Add(-time.Second))
	_, _, err = scan(false)
	require.ErrorIs(t, err, reconcile.ErrNotCaughtUp)

	setWatermark(t, h, h.now().Add(time.Hour))
	calls := h.emu.Calls("Scan")
	sum, c, err := scan(false)
	require.NoError(t, err)
	require.Empty(t, c.findings)
	require.Equal(t, "scan", sum.SourceKind)
	require.EqualValues(t, 60, sum.SourceItems)
	require.Equal(t, h.now(), sum.Instant)
	require.NotNil(t, sum.ScanEnd)
	require.GreaterOrEqual(t, h.emu.Calls("Scan")-calls, 12, "4 segments of 5-item pages")

	sqlExec(t, h.pool, `UPDATE dynamodb.tenure_information SET item = jsonb_set(item, '{charges,M,rent,N}', '"1.01"') WHERE id = $1`, h.ids[7])
	sqlExec(t, h.pool, `DELETE FROM dynamodb.tenure_information WHERE id = $1`, h.ids[8])
	sum, c, err = scan(true)
	require.ErrorIs(t, err, reconcile.ErrInconsistent)
	require.EqualValues(t, 1, sum.Different)
	require.EqualValues(t, 1, sum.Missing)
	require.Equal(t, "charges.rent", c.byKey(h.ids[7]).Differences[0].Path)
	require.Equal(t, &reconcile.RepairCounts{Inserted: 1, Updated: 1}, sum.Repair)
	var origin string
	require.NoError(t, h.pool.QueryRow(t.Context(), `SELECT origin FROM dynamodb.tenure_information WHERE id = $1`, h.ids[7]).Scan(&origin))
	require.Equal(t, "scan", origin)
	h.requireCopyEqualsTable()

	sum, _, err = scan(false)
	require.NoError(t, err)
	require.Zero(t, sum.Inconsistencies())
}
