package diff_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/diff"
	"github.com/ddbsync/ddbsync/reconcile/load"
	"github.com/ddbsync/ddbsync/reconcile/store"
	"github.com/ddbsync/ddbsync/snapshot"
)

// A copy loaded without doc (the default) is diffed and repaired the same
// way; a repair writes no doc.
func TestDiff_RepairsACopyWithoutDoc(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	items := diffItems(60)
	exp := reconciletest.WriteExport(t, tenure.TableName, reconciletest.T0, 4, items).Open()
	l := reconciletest.TenureLayout(t, "")
	_, err := load.Run(t.Context(), pool, exp, load.Config{Layout: l})
	require.NoError(t, err)
	has, err := store.HasDoc(t.Context(), pool, l.Ident())
	require.NoError(t, err)
	require.False(t, has)
	for _, it := range items[:5] {
		sqlExec(t, pool, `DELETE FROM dynamodb.tenure_information WHERE id = $1`, idOf(it))
	}
	for _, it := range items[30:37] {
		sqlExec(t, pool, `UPDATE dynamodb.tenure_information SET item = jsonb_set(item, '{charges,M,rent,N}', '"1.01"') WHERE id = $1`, idOf(it))
	}
	sqlExec(t, pool, `INSERT INTO dynamodb.tenure_information (id, item, origin) VALUES ('added', '{"id":{"S":"added"}}', 'export')`)

	sum, c, err := diffExport(t, pool, exp, true)
	require.ErrorIs(t, err, reconcile.ErrInconsistent)
	require.Equal(t, &diff.RepairCounts{Inserted: 5, Updated: 7, Deleted: 1}, sum.Repair)
	for _, it := range items[:5] {
		f := c.byKey(idOf(it))
		require.NotNil(t, f)
		require.Equal(t, diff.KindMissing, f.Kind)
		require.Contains(t, string(f.Source), idOf(it), "the image read again from the export")
	}
	for _, it := range items[30:37] {
		f := c.byKey(idOf(it))
		require.Len(t, f.Differences, 1)
		require.Equal(t, "charges.rent", f.Differences[0].Path)
	}
	sum2, _, err := diffExport(t, pool, exp, false)
	require.NoError(t, err)
	require.Zero(t, sum2.Inconsistencies())
	reconciletest.RequireSameItems(t, items, reconciletest.TableItems(t, pool, l), "id")
}

// changingSource serves an export whose data files change after they are
// first read: their lines come in reverse order the second time.
type changingSource struct {
	snapshot.Source
	mu     sync.Mutex
	opened map[string]int
}

func (s *changingSource) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	rc, err := s.Source.Open(ctx, name)
	if err != nil || !strings.HasSuffix(name, ".json.gz") {
		return rc, err
	}
	s.mu.Lock()
	s.opened[name]++
	again := s.opened[name] > 1
	s.mu.Unlock()
	if !again {
		return rc, nil
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	slices.Reverse(lines)
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write([]byte(strings.Join(lines, "\n") + "\n"))
	_ = zw.Close()
	return io.NopCloser(&b), nil
}

// The images of the keys that differ that the filter of the copy's
// digests let by are read again from the export (here every one: the
// filter is a bit); if the export changed in between, they are not the
// images compared, and the diff fails rather than report the wrong ones.
func TestDiff_ExportChangedBetweenReadsIsAFailure(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	items := diffItems(30)
	written := reconciletest.WriteExport(t, tenure.TableName, reconciletest.T0, 2, items)
	_, err := load.Run(t.Context(), pool, written.Open(), load.Config{Layout: reconciletest.TenureLayout(t, "")})
	require.NoError(t, err)
	sqlExec(t, pool, `UPDATE dynamodb.tenure_information SET item = jsonb_set(item, '{charges,M,rent,N}', '"1.01"') WHERE id = $1`, idOf(items[3]))

	dir, err := snapshot.NewDirSource(written.Dir)
	require.NoError(t, err)
	exp, err := snapshot.Open(t.Context(), &changingSource{Source: dir, opened: map[string]int{}})
	require.NoError(t, err)
	cfg := diff.Config{Table: tenure.TableName, Export: exp}
	diff.SetFilterMaxBits(&cfg, 1)
	_, err = diff.Run(t.Context(), pool, cfg)
	require.Error(t, err)
	require.NotErrorIs(t, err, reconcile.ErrInconsistent)
	require.ErrorContains(t, err, "the source changed while it was compared")
}

// A copy loaded before it stored digests (migration 00013 gave it the
// column, empty) is diffed all the same: the digests it lacks are computed
// from its items, and a clean copy stays clean.
func TestDiff_CopyWithoutStoredDigests(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	items := diffItems(40)
	exp := loadedCopy(t, pool, items)
	// Without the digest triggers, as before the migration: the rows keep no digest.
	sqlExec(t, pool, `ALTER TABLE dynamodb.tenure_information DISABLE TRIGGER USER`)
	sqlExec(t, pool, `UPDATE dynamodb.tenure_information SET item_digest = NULL`)
	sum, _, err := diffExport(t, pool, exp, false)
	require.NoError(t, err)
	require.Zero(t, sum.Inconsistencies())

	changed := idOf(items[7])
	sqlExec(t, pool, `UPDATE dynamodb.tenure_information SET item = jsonb_set(item, '{charges,M,rent,N}', '"1.01"') WHERE id = $1`, changed)
	sqlExec(t, pool, `DELETE FROM dynamodb.tenure_information WHERE id = $1`, idOf(items[8]))
	sum, c, err := diffExport(t, pool, exp, false)
	require.ErrorIs(t, err, reconcile.ErrInconsistent)
	require.EqualValues(t, 1, sum.Different)
	require.EqualValues(t, 1, sum.Missing)
	f := c.byKey(changed)
	require.NotNil(t, f)
	require.Equal(t, "charges.rent", f.Differences[0].Path)
}
