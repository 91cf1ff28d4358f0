package diff_test

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/diff"
	"github.com/ddbsync/ddbsync/reconcile/load"
	"github.com/ddbsync/ddbsync/snapshot"
)

// countingSource counts the openings of each data file of an export.
type countingSource struct {
	snapshot.Source
	mu     sync.Mutex
	opened map[string]int
}

func (s *countingSource) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if strings.HasSuffix(name, ".json.gz") {
		s.mu.Lock()
		s.opened[name]++
		s.mu.Unlock()
	}
	return s.Source.Open(ctx, name)
}

// reread is how many data files were opened more than once.
func (s *countingSource) reread() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, k := range s.opened {
		if k > 1 {
			n++
		}
	}
	return n
}

// filterFixture is a loaded copy of items, with planted differences (3
// missing, 4 different, 1 extra), and its export opened through a
// countingSource.
type filterFixture struct {
	pool *pgxpool.Pool
	src  *countingSource
	exp  *snapshot.Export
}

func newFilterFixture(t *testing.T, items []ddbjson.Item) *filterFixture {
	t.Helper()
	pool := pgtest.New(t)
	written := reconciletest.WriteExport(t, tenure.TableName, reconciletest.T0, 4, items)
	_, err := load.Run(t.Context(), pool, written.Open(), load.Config{Layout: reconciletest.TenureLayout(t, "")})
	require.NoError(t, err)
	dir, err := snapshot.NewDirSource(written.Dir)
	require.NoError(t, err)
	src := &countingSource{Source: dir, opened: map[string]int{}}
	exp, err := snapshot.Open(t.Context(), src)
	require.NoError(t, err)
	for _, it := range items[:3] {
		sqlExec(t, pool, `DELETE FROM dynamodb.tenure_information WHERE id = $1`, idOf(it))
	}
	for _, it := range items[20:24] {
		sqlExec(t, pool, `UPDATE dynamodb.tenure_information SET item = jsonb_set(item, '{charges,M,rent,N}', '"1.01"') WHERE id = $1`, idOf(it))
	}
	sqlExec(t, pool, `INSERT INTO dynamodb.tenure_information (id, item, origin) VALUES ('added', '{"id":{"S":"added"}}', 'export')`)
	return &filterFixture{pool: pool, src: src, exp: exp}
}

func (f *filterFixture) run(t *testing.T, cfg diff.Config) (diff.Summary, *collector, error) {
	t.Helper()
	c := &collector{}
	cfg.Table, cfg.Export, cfg.Report = tenure.TableName, f.exp, c
	sum, err := diff.Run(t.Context(), f.pool, cfg)
	return sum, c, err
}

// requirePlantedFindings checks that the findings are the planted ones,
// each with its images.
func requirePlantedFindings(t *testing.T, items []ddbjson.Item, sum diff.Summary, c *collector, err error) {
	t.Helper()
	require.ErrorIs(t, err, reconcile.ErrInconsistent)
	require.EqualValues(t, 3, sum.Missing)
	require.EqualValues(t, 4, sum.Different)
	require.EqualValues(t, 1, sum.Extra)
	require.Len(t, c.findings, 8)
	for _, it := range items[:3] {
		f := c.byKey(idOf(it))
		require.NotNil(t, f)
		require.Equal(t, diff.KindMissing, f.Kind)
		require.Contains(t, string(f.Source), idOf(it), "the source image")
		require.Contains(t, string(f.Source), `"householdMembers"`, "the whole source image")
	}
	for _, it := range items[20:24] {
		f := c.byKey(idOf(it))
		require.NotNil(t, f)
		require.Equal(t, diff.KindDifferent, f.Kind)
		require.Len(t, f.Differences, 1)
		require.Equal(t, "charges.rent", f.Differences[0].Path)
	}
	require.Equal(t, diff.KindExtra, c.byKey("added").Kind)
}

// The filter of the copy's digests catches every line that differs from
// the copy (it has no false negatives, and this one no false positive
// among 60 lines): their images are kept as they are read, and no data
// file is read twice.
func TestDiff_FilterCatchesEveryDifferenceWithoutASecondRead(t *testing.T) {
	t.Parallel()
	items := diffItems(60)
	fx := newFilterFixture(t, items)
	sum, c, err := fx.run(t, diff.Config{})
	requirePlantedFindings(t, items, sum, c, err)
	require.Len(t, fx.src.opened, len(fx.exp.Files), "every data file read")
	require.Zero(t, fx.src.reread(), "no data file read twice: %v", fx.src.opened)
}

// A filter that lets every line by (false positives everywhere: a filter
// of one bit) costs a second read of the files holding the findings, and
// gives every finding all the same, with its image.
func TestDiff_FilterFalsePositivesAreReadAgain(t *testing.T) {
	t.Parallel()
	items := diffItems(60)
	fx := newFilterFixture(t, items)
	cfg := diff.Config{}
	diff.SetFilterMaxBits(&cfg, 1)
	sum, c, err := fx.run(t, cfg)
	requirePlantedFindings(t, items, sum, c, err)
	require.NotZero(t, fx.src.reread(), "the images the filter let by are read again")
}

// A row of the copy changed after its digest went into the filter is
// compared as it is when compared: the filter let its line by, its image
// is read again, and it is found with the others.
func TestDiff_CopyChangedAfterTheFilterIsReadAgain(t *testing.T) {
	t.Parallel()
	items := diffItems(60)
	fx := newFilterFixture(t, items)
	changed := idOf(items[40])
	cfg := diff.Config{}
	diff.SetAfterFilter(&cfg, func() {
		sqlExec(t, fx.pool, `UPDATE dynamodb.tenure_information SET item = jsonb_set(item, '{charges,M,rent,N}', '"2.02"') WHERE id = $1`, changed)
	})
	sum, c, err := fx.run(t, cfg)
	require.ErrorIs(t, err, reconcile.ErrInconsistent)
	require.EqualValues(t, 5, sum.Different, "the 4 planted and the one changed after the filter")
	f := c.byKey(changed)
	require.NotNil(t, f)
	require.Equal(t, diff.KindDifferent, f.Kind)
	require.Len(t, f.Differences, 1)
	require.Equal(t, "charges.rent", f.Differences[0].Path)
	require.JSONEq(t, `{"N":"2.02"}`, string(f.Differences[0].Copy))
	require.Equal(t, 1, fx.src.reread(), "the changed row's file is read again, and only it: %v", fx.src.opened)
}
