package load_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/copycheck"
	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/load"
	"github.com/ddbsync/ddbsync/snapshot"
)

// incremental writes the emulator table's incremental export of [from, to)
// with view into a new AWSDynamoDB folder and returns the export folder.
func incremental(t *testing.T, h *reconciletest.Harness, from, to time.Time, view snapshot.ViewType) string {
	t.Helper()
	dir, _, err := h.Emu.ExportIncrementalToDir(t.Context(), tenure.TableName, from, to, view, t.TempDir())
	require.NoError(t, err)
	return dir
}

func openIncremental(t *testing.T, dir string) *snapshot.IncrementalExport {
	t.Helper()
	src, err := snapshot.NewDirSource(dir)
	require.NoError(t, err)
	exp, err := snapshot.OpenIncremental(t.Context(), src)
	require.NoError(t, err)
	return exp
}

func applyIncremental(t *testing.T, h *reconciletest.Harness, dir string) (load.IncrementalResult, error) {
	t.Helper()
	return load.RunIncremental(t.Context(), h.Pool, openIncremental(t, dir), load.IncrementalConfig{Table: tenure.TableName, Workers: 2})
}

// loadedHarness is a tenure table of n items, exported and loaded at the
// clock's time, which is then moved on by a minute.
func loadedHarness(t *testing.T, n int) (*reconciletest.Harness, time.Time) {
	t.Helper()
	h := reconciletest.NewHarness(t)
	h.Insert(n)
	h.Tick(time.Minute)
	at := h.Now()
	h.ExportAndLoad(at)
	h.Tick(time.Minute)
	return h, at
}

// copyState is what the copy and its bookkeeping say, to show a refusal
// changed nothing.
func copyState(t *testing.T, h *reconciletest.Harness) string {
	t.Helper()
	items, err := copycheck.Copy(t.Context(), h.Pool, reconciletest.TenureLayout(t, "").Ident(), tenure.Key)
	require.NoError(t, err)
	var tables string
	require.NoError(t, h.Pool.QueryRow(t.Context(), `SELECT row(t.*)::text FROM ddbsync.tables t`).Scan(&tables))
	var n int
	require.NoError(t, h.Pool.QueryRow(t.Context(), `SELECT count(*) FROM ddbsync.tombstones`).Scan(&n))
	return tables + " tombstones=" + strconv.Itoa(n) + " rows=" + strconv.Itoa(len(items)) + " " + strings.Join(sortedValues(items), "\n")
}

func sortedValues(m copycheck.Items) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

func TestIncremental_AppliesTheWindow(t *testing.T) {
	t.Parallel()
	h, at := loadedHarness(t, 60)
	ids := h.IDs
	// Inside the window: updates, deletes, a delete then a re-insert, a
	// key written several times, a new key, a new key created and deleted.
	h.UpdateAll(ids[:10])
	for _, id := range ids[10:15] {
		h.Remove(id)
	}
	h.Remove(ids[15])
	h.Tick(time.Second)
	h.Put(h.Gen.ItemWithID(ids[15]))
	for range 4 {
		h.Tick(time.Millisecond)
		h.Update(ids[16])
	}
	h.Insert(3)
	gone := h.Gen.ID()
	h.Put(h.Gen.ItemWithID(gone))
	h.Remove(gone)
	h.Tick(20 * time.Minute)
	to := h.Now()

	dir := incremental(t, h, at, to, snapshot.ViewNewAndOldImages)
	res, err := applyIncremental(t, h, dir)
	require.NoError(t, err)
	require.False(t, res.Unchanged)
	require.EqualValues(t, 5, res.Applied.Deleted)
	require.EqualValues(t, 5, res.Applied.Tombstones)
	require.EqualValues(t, 3, res.Applied.Inserted)
	require.EqualValues(t, 10+1+1+3, res.Applied.Upserted)
	h.RequireCopyEqualsTable()

	// Provenance: the write time, to the microsecond.
	var origin string
	var originTime time.Time
	require.NoError(t, h.Pool.QueryRow(t.Context(), `SELECT origin, origin_time FROM dynamodb.tenure_information WHERE id = $1`,
		ids[16]).Scan(&origin, &originTime))
	require.Equal(t, "incremental", origin)
	require.True(t, originTime.After(at), "origin_time %s is the last write's", originTime)
	var n int
	require.NoError(t, h.Pool.QueryRow(t.Context(), `SELECT count(*) FROM dynamodb.tenure_information WHERE origin = 'export'`).Scan(&n))
	require.Equal(t, 60-10-5-2, n, "rows the window did not touch keep their provenance")

	// The copy is now as of the export's end, exactly; following restarts there.
	var exportTime time.Time
	var exportType, arn string
	var items int
	require.NoError(t, h.Pool.QueryRow(t.Context(), `SELECT export_time, export_type, export_arn, item_count FROM ddbsync.tables`).
		Scan(&exportTime, &exportType, &arn, &items))
	require.True(t, exportTime.Equal(to), "T %s, want %s", exportTime, to)
	require.Equal(t, "INCREMENTAL_EXPORT", exportType)
	require.Equal(t, res.ExportArn, arn)
	require.Equal(t, h.RowCount(), items)
	require.Zero(t, countOf(t, h, `SELECT count(*) FROM ddbsync.streams`))
	require.Zero(t, countOf(t, h, `SELECT count(*) FROM pg_tables WHERE schemaname = 'ddbsync' AND tablename ~ '^load_[0-9]+$'`))
	require.Equal(t, 1, countOf(t, h, `SELECT count(*) FROM ddbsync.loads WHERE export_type = 'INCREMENTAL_EXPORT' AND state = 'published'`))

	// Applying it again changes nothing.
	res, err = applyIncremental(t, h, dir)
	require.NoError(t, err)
	require.True(t, res.Unchanged)
}

func countOf(t *testing.T, h *reconciletest.Harness, query string) int {
	t.Helper()
	var n int
	require.NoError(t, h.Pool.QueryRow(t.Context(), query).Scan(&n))
	return n
}

func TestIncremental_NewImageView(t *testing.T) {
	t.Parallel()
	h, at := loadedHarness(t, 30)
	h.UpdateAll(h.IDs[:5])
	h.Remove(h.IDs[5])
	h.Insert(2)
	h.Tick(15 * time.Minute)
	dir := incremental(t, h, at, h.Now(), snapshot.ViewNewImage)
	res, err := applyIncremental(t, h, dir)
	require.NoError(t, err)
	require.Equal(t, snapshot.ViewNewImage, res.View)
	require.EqualValues(t, 1, res.Applied.Deleted)
	h.RequireCopyEqualsTable()
}

func TestIncremental_FollowRestartsFromTheExportsEnd(t *testing.T) {
	t.Parallel()
	h, at := loadedHarness(t, 40)
	_, err := h.Follow()
	require.NoError(t, err)
	h.UpdateAll(h.IDs[:10])
	h.Tick(20 * time.Minute)
	to := h.Now()
	// Changes after the window's end come from the stream.
	h.Tick(time.Second)
	h.UpdateAll(h.IDs[5:15])
	h.Remove(h.IDs[20])
	_, err = applyIncremental(t, h, incremental(t, h, at, to, ""))
	require.NoError(t, err)
	res, err := h.Follow()
	require.NoError(t, err)
	require.False(t, res.Watermark.Before(to))
	var start time.Time
	require.NoError(t, h.Pool.QueryRow(t.Context(), `SELECT start_time FROM ddbsync.streams`).Scan(&start))
	require.True(t, start.Equal(to.Add(-5*time.Minute)), "the follow replays from the export's end minus 5 minutes, not %s", start)
	h.RequireCopyEqualsTable()
}

func TestIncremental_ChainsOfWindows(t *testing.T) {
	t.Parallel()
	h, at := loadedHarness(t, 30)
	var dirs []string
	from := at
	for i := range 3 {
		h.UpdateAll(h.IDs[i*5 : i*5+8])
		h.Remove(h.IDs[20+i])
		h.Tick(30 * time.Minute)
		dirs = append(dirs, incremental(t, h, from, h.Now(), snapshot.ViewNewImage))
		// The next window starts where this one ends (contiguous), or
		// earlier (overlapping): both are covered.
		from = h.Now().Add(-time.Duration(i) * 10 * time.Minute)
	}
	for _, d := range dirs {
		res, err := applyIncremental(t, h, d)
		require.NoError(t, err)
		require.False(t, res.Unchanged)
	}
	h.RequireCopyEqualsTable()
}

func TestIncremental_RefusesAWindowThatDoesNotFitTheCopy(t *testing.T) {
	t.Parallel()
	h, at := loadedHarness(t, 20)
	h.UpdateAll(h.IDs[:5])
	h.Tick(30 * time.Minute)
	before := copyState(t, h)
	for _, tc := range []struct {
		from  time.Time
		early bool
	}{
		// A gap: the writes in [at, at + 10m) would be missing.
		{at.Add(10 * time.Minute), false},
		{at.Add(time.Second), false},
		// Too early for rows loaded from a full export as of at: an item
		// created in between and deleted later would stay.
		{at.Add(-5 * time.Minute), true},
	} {
		_, err := applyIncremental(t, h, incremental(t, h, tc.from, h.Now(), ""))
		var we *reconcile.WindowError
		require.ErrorAs(t, err, &we, "from %s", tc.from)
		require.ErrorIs(t, err, reconcile.ErrWindowNotCovered)
		require.True(t, we.Complete.Equal(at))
		require.Equal(t, tc.early, we.Undated != nil)
		require.Contains(t, err.Error(), "nothing was applied")
		require.Equal(t, before, copyState(t, h))
	}
	require.Zero(t, countOf(t, h, `SELECT count(*) FROM ddbsync.loads WHERE export_type = 'INCREMENTAL_EXPORT'`))
	// Within the export's fuzz of a minute, it fits.
	_, err := applyIncremental(t, h, incremental(t, h, at.Add(-30*time.Second), h.Now(), ""))
	require.NoError(t, err)
	h.RequireCopyEqualsTable()
}

func TestIncremental_SweepsItemsCreatedAndDeletedInsideTheWindow(t *testing.T) {
	t.Parallel()
	h, _ := loadedHarness(t, 20)
	_, err := h.Follow()
	require.NoError(t, err)
	// An item the stream brought in, then deleted while nobody followed:
	// the window starts before its creation (W − 5 min) and ends after
	// its deletion, so the export leaves it out.
	h.Tick(time.Minute)
	h.Insert(3)
	h.Tick(time.Second)
	res, err := h.Follow()
	require.NoError(t, err)
	w := res.Watermark
	require.Equal(t, 23, h.RowCount())
	h.Tick(time.Minute)
	for _, id := range h.IDs[20:22] {
		h.Remove(id)
	}
	h.UpdateAll(h.IDs[:3])
	h.Tick(20 * time.Minute)
	ir, err := applyIncremental(t, h, incremental(t, h, w.Add(-5*time.Minute), h.Now(), ""))
	require.NoError(t, err)
	require.EqualValues(t, 2, ir.Applied.Swept)
	h.RequireCopyEqualsTable()
	require.Equal(t, 2, countOf(t, h, `SELECT count(*) FROM ddbsync.tombstones WHERE shard_id IS NULL`))
}

func TestIncremental_RefusesACorruptExport(t *testing.T) {
	t.Parallel()
	h, at := loadedHarness(t, 40)
	h.UpdateAll(h.IDs[:20])
	h.Remove(h.IDs[30])
	h.Tick(20 * time.Minute)
	dir := incremental(t, h, at, h.Now(), "")
	before := copyState(t, h)

	// The last data file's bytes no longer match its MD5.
	exp := openIncremental(t, dir)
	last := exp.Files[len(exp.Files)-1]
	path := filepath.Join(dir, filepath.FromSlash(last.Name))
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	raw = append(raw[:len(raw):len(raw)], 0) // trailing garbage after the gzip stream
	require.NoError(t, os.WriteFile(path, raw, 0o644))
	_, err = applyIncremental(t, h, dir)
	require.ErrorIs(t, err, snapshot.ErrChecksum)
	require.Contains(t, err.Error(), last.Name)
	require.Equal(t, before, copyState(t, h), "nothing applied")
}

func TestIncremental_RefusesAnotherKey(t *testing.T) {
	t.Parallel()
	h, at := loadedHarness(t, 10)
	h.UpdateAll(h.IDs[:3])
	h.Tick(20 * time.Minute)
	dir := incremental(t, h, at, h.Now(), "")
	before := copyState(t, h)
	// The copy's key says the table has a range key too.
	_, err := h.Pool.Exec(t.Context(), `UPDATE ddbsync.tables SET key_schema = 'id:S,version:N'`)
	require.NoError(t, err)
	_, err = applyIncremental(t, h, dir)
	require.ErrorIs(t, err, snapshot.ErrCorrupt)
	require.Contains(t, err.Error(), "line 1")
	_, err = h.Pool.Exec(t.Context(), `UPDATE ddbsync.tables SET key_schema = 'id:S'`)
	require.NoError(t, err)
	require.Equal(t, before, copyState(t, h))
}

func TestIncremental_ResumesAfterCancel(t *testing.T) {
	t.Parallel()
	h, at := loadedHarness(t, 200)
	h.UpdateAll(h.IDs[:150])
	for _, id := range h.IDs[150:170] {
		h.Remove(id)
	}
	h.Tick(20 * time.Minute)
	dir := incremental(t, h, at, h.Now(), "")
	exp := openIncremental(t, dir)
	require.Greater(t, len(exp.Files), 2)
	before := copyState(t, h)

	// Stop once two files are staged.
	ctx, cancel := context.WithCancel(t.Context())
	stats := &load.Stats{}
	go func() {
		for stats.FilesDone.Load() < 2 && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err := load.RunIncremental(ctx, h.Pool, exp, load.IncrementalConfig{Table: tenure.TableName, Workers: 1, Stats: stats})
	require.Error(t, err)
	require.True(t, errors.Is(err, context.Canceled), "%v", err)
	require.Equal(t, before, copyState(t, h), "an interrupted apply publishes nothing")
	staged := countOf(t, h, `SELECT count(*) FROM ddbsync.load_files JOIN ddbsync.loads USING (load_id)
		WHERE export_type = 'INCREMENTAL_EXPORT'`)
	require.GreaterOrEqual(t, staged, 2)
	require.Less(t, staged, len(exp.Files))

	res, err := applyIncremental(t, h, dir)
	require.NoError(t, err)
	require.Equal(t, staged, res.FilesResumed)
	h.RequireCopyEqualsTable()
}

func TestIncremental_RestagesALostStage(t *testing.T) {
	t.Parallel()
	h, at := loadedHarness(t, 50)
	h.UpdateAll(h.IDs[:30])
	h.Tick(20 * time.Minute)
	dir := incremental(t, h, at, h.Now(), "")
	exp := openIncremental(t, dir)

	ctx, cancel := context.WithCancel(t.Context())
	stats := &load.Stats{}
	go func() {
		for stats.FilesDone.Load() < 1 && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err := load.RunIncremental(ctx, h.Pool, exp, load.IncrementalConfig{Table: tenure.TableName, Workers: 1, Stats: stats})
	require.Error(t, err)
	// A server crash empties the unlogged stage; the files' records stay.
	var id int64
	require.NoError(t, h.Pool.QueryRow(t.Context(), `SELECT load_id FROM ddbsync.loads WHERE state = 'loading'`).Scan(&id))
	_, err = h.Pool.Exec(t.Context(), `TRUNCATE ddbsync.load_`+strconv.FormatInt(id, 10))
	require.NoError(t, err)

	res, err := applyIncremental(t, h, dir)
	require.NoError(t, err)
	require.Zero(t, res.FilesResumed, "everything is staged again")
	h.RequireCopyEqualsTable()
}

func TestIncremental_KeepsTheLastChangeOfAKeyListedTwice(t *testing.T) {
	t.Parallel()
	h, at := loadedHarness(t, 5)
	id := h.IDs[0]
	key := ddbjson.Item{"id": &types.AttributeValueMemberS{Value: id}}
	newer := h.Gen.ItemWithID(id)
	newer["note"] = &types.AttributeValueMemberS{Value: "newer"}
	older := h.Gen.ItemWithID(id)
	older["note"] = &types.AttributeValueMemberS{Value: "older"}
	dir := t.TempDir()
	w, err := snapshot.NewIncrementalWriter(t.Context(), snapshot.DirSink(dir), snapshot.IncrementalWriterConfig{
		TableArn: "arn:aws:dynamodb:us-east-1:123456789012:table/" + tenure.TableName,
		From:     at, To: at.Add(time.Hour), View: snapshot.ViewNewImage, Files: 2,
	})
	require.NoError(t, err)
	// In two files, the later write first; and a deletion and a new image
	// of another key with the same write time (the later line wins).
	wt := at.Add(10 * time.Minute)
	require.NoError(t, w.Write(snapshot.Change{Keys: key, WriteTime: wt.Add(time.Microsecond), NewImage: newer}))
	require.NoError(t, w.Write(snapshot.Change{Keys: key, WriteTime: wt, NewImage: older}))
	other := ddbjson.Item{"id": &types.AttributeValueMemberS{Value: h.IDs[1]}}
	require.NoError(t, w.Write(snapshot.Change{Keys: other, WriteTime: wt}))
	require.NoError(t, w.Write(snapshot.Change{Keys: other, WriteTime: wt}))
	_, err = w.Close(t.Context())
	require.NoError(t, err)
	res, err := applyIncremental(t, h, filepath.Join(dir, w.ExportID()))
	require.NoError(t, err)
	require.EqualValues(t, 2, res.Applied.Duplicates)
	var note string
	require.NoError(t, h.Pool.QueryRow(t.Context(), `SELECT item->'note'->>'S' FROM dynamodb.tenure_information WHERE id = $1`, id).Scan(&note))
	require.Equal(t, "newer", note)
	require.Zero(t, countOf(t, h, `SELECT count(*) FROM dynamodb.tenure_information WHERE id = '`+h.IDs[1]+`'`))
}
