package diff_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
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

// big38 is a number with DynamoDB's full 38 digits of precision.
const big38 = "1234567890123456789012345678901234567.8"

// diffItems are tenure items with a string set and a 38-digit number added.
func diffItems(n int) []ddbjson.Item {
	items := reconciletest.TenureItems(11, n)
	for _, it := range items {
		it["tags"] = &types.AttributeValueMemberSS{Value: []string{"alpha", "beta", "gamma"}}
		it["big"] = &types.AttributeValueMemberN{Value: big38}
	}
	return items
}

func idOf(it ddbjson.Item) string { return it["id"].(*types.AttributeValueMemberS).Value }

// loadedCopy loads items, as an export at reconciletest.T0, into a table
// with the doc column, and returns the export.
func loadedCopy(t *testing.T, pool *pgxpool.Pool, items []ddbjson.Item) *snapshot.Export {
	t.Helper()
	exp := reconciletest.WriteExport(t, tenure.TableName, reconciletest.T0, 3, items).Open()
	_, err := load.Run(t.Context(), pool, exp, load.Config{Layout: reconciletest.TenureLayout(t, ""), Doc: new(true)})
	require.NoError(t, err)
	return exp
}

// collector is a diff.Report that keeps everything, for tests.
type collector struct {
	begun, ended bool
	findings     []diff.Finding
}

func (c *collector) Begin(diff.Summary) error { c.begun = true; return nil }
func (c *collector) Finding(f diff.Finding) error {
	c.findings = append(c.findings, f)
	return nil
}
func (c *collector) End(diff.Summary) error { c.ended = true; return nil }

func (c *collector) byKey(id string) *diff.Finding {
	for i, f := range c.findings {
		if strings.Contains(string(f.Key), `"`+id+`"`) {
			return &c.findings[i]
		}
	}
	return nil
}

func diffExport(t *testing.T, pool *pgxpool.Pool, exp *snapshot.Export, repair bool) (diff.Summary, *collector, error) {
	t.Helper()
	c := &collector{}
	sum, err := diff.Run(t.Context(), pool, diff.Config{Table: tenure.TableName, Export: exp, Repair: repair, Report: c})
	return sum, c, err
}

func sqlExec(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	_, err := pool.Exec(t.Context(), sql, args...)
	require.NoError(t, err)
}

func TestDiff_IdenticalCopyIsConsistent(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	items := diffItems(120)
	exp := loadedCopy(t, pool, items)

	sum, c, err := diffExport(t, pool, exp, false)
	require.NoError(t, err)
	require.Zero(t, sum.Inconsistencies())
	require.Zero(t, sum.InFlight)
	require.EqualValues(t, 120, sum.SourceItems)
	require.EqualValues(t, 120, sum.CopyRows)
	require.Equal(t, reconciletest.T0, sum.Instant)
	require.Nil(t, sum.Watermark, "compared with its own export: no watermark needed")
	require.True(t, c.begun && c.ended)
	require.Empty(t, c.findings)

	var state string
	var missing int64
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT state, missing FROM ddbsync.diff_runs WHERE diff_id = $1`, sum.DiffID).Scan(&state, &missing))
	require.Equal(t, "consistent", state)
	var scratch int
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM pg_tables WHERE schemaname = 'ddbsync' AND tablename ~ '^diff_[0-9]+_'`).Scan(&scratch))
	require.Zero(t, scratch, "scratch tables are dropped")
}

func TestDiff_FindsEachKindOfCorruption(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	items := diffItems(50)
	exp := loadedCopy(t, pool, items)
	deleted, changed, digit, nested := idOf(items[0]), idOf(items[1]), idOf(items[2]), idOf(items[3])

	sqlExec(t, pool, `DELETE FROM dynamodb.tenure_information WHERE id = $1`, deleted)
	sqlExec(t, pool, `INSERT INTO dynamodb.tenure_information (id, item, doc, origin) VALUES ('added', '{"id":{"S":"added"}}', '{"id":"added"}', 'export')`)
	sqlExec(t, pool, `UPDATE dynamodb.tenure_information SET item = jsonb_set(item, '{charges,M,rent,N}', '"1.01"') WHERE id = $1`, changed)
	sqlExec(t, pool, `UPDATE dynamodb.tenure_information SET item = jsonb_set(item, '{big,N}', '"1234567890123456789012345678901234567.9"') WHERE id = $1`, digit)
	sqlExec(t, pool, `UPDATE dynamodb.tenure_information SET item = jsonb_set(item, '{householdMembers,L,0,M,fullName,S}', '"Someone Else"') WHERE id = $1`, nested)

	sum, c, err := diffExport(t, pool, exp, false)
	require.ErrorIs(t, err, reconcile.ErrInconsistent)
	require.EqualValues(t, 1, sum.Missing)
	require.EqualValues(t, 1, sum.Extra)
	require.EqualValues(t, 3, sum.Different)
	require.Zero(t, sum.InFlight)
	require.Len(t, c.findings, 5)

	f := c.byKey(deleted)
	require.NotNil(t, f)
	require.Equal(t, diff.KindMissing, f.Kind)
	require.Contains(t, string(f.Source), deleted)
	require.Nil(t, f.Provenance, "a missing row has no copy row")

	f = c.byKey("added")
	require.NotNil(t, f)
	require.Equal(t, diff.KindExtra, f.Kind)
	require.Equal(t, "export", f.Provenance.Origin)

	f = c.byKey(changed)
	require.Equal(t, diff.KindDifferent, f.Kind)
	require.Len(t, f.Differences, 1)
	require.Equal(t, "charges.rent", f.Differences[0].Path)
	require.JSONEq(t, `{"N":"1.01"}`, string(f.Differences[0].Copy))
	require.Contains(t, string(f.Differences[0].Source), `"N"`)
	require.Equal(t, "export", f.Provenance.Origin)
	require.Equal(t, reconciletest.T0, f.Provenance.OriginTime.UTC())

	f = c.byKey(digit)
	require.Len(t, f.Differences, 1)
	require.Equal(t, "big", f.Differences[0].Path)
	require.JSONEq(t, `{"N":"`+big38+`"}`, string(f.Differences[0].Source))

	f = c.byKey(nested)
	require.Len(t, f.Differences, 1)
	require.Equal(t, "householdMembers[0].fullName", f.Differences[0].Path)
	require.JSONEq(t, `{"S":"Someone Else"}`, string(f.Differences[0].Copy))

	var state string
	var different int64
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT state, different FROM ddbsync.diff_runs WHERE diff_id = $1`, sum.DiffID).Scan(&state, &different))
	require.Equal(t, "inconsistent", state)
	require.EqualValues(t, 3, different)
}

// reverseSets rewrites every data file of an export so that the tags set
// lists its elements in reverse, as DynamoDB may: sets have no order.
func reverseSets(t *testing.T, e *reconciletest.Export) {
	t.Helper()
	for i := range e.ManifestLines() {
		zr, err := gzip.NewReader(bytes.NewReader(e.ReadDataFile(i)))
		require.NoError(t, err)
		raw, err := io.ReadAll(zr)
		require.NoError(t, err)
		require.Contains(t, string(raw), `"SS":["alpha","beta","gamma"]`)
		lines := strings.Split(strings.TrimSpace(strings.ReplaceAll(string(raw), `"SS":["alpha","beta","gamma"]`, `"SS":["gamma","alpha","beta"]`)), "\n")
		e.ReplaceDataFile(i, reconciletest.Gz(t, lines...), true, -1)
	}
}

func TestDiff_SetOrderIsNotADifference(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	items := diffItems(30)
	loadedCopy(t, pool, items)
	// The same items as of reconciletest.T0, with every set in another order.
	src := reconciletest.WriteExport(t, tenure.TableName, reconciletest.T0, 2, items)
	reverseSets(t, src)

	sum, c, err := diffExport(t, pool, src.Open(), false)
	require.NoError(t, err)
	require.Zero(t, sum.Inconsistencies())
	require.Empty(t, c.findings)
}

func TestDiff_RefusesCopyBehindTheSource(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	items := diffItems(10)
	loadedCopy(t, pool, items)
	newer := reconciletest.WriteExport(t, tenure.TableName, reconciletest.T0.Add(time.Hour), 1, items).Open()

	_, _, err := diffExport(t, pool, newer, false)
	require.ErrorIs(t, err, reconcile.ErrNotCaughtUp)
	require.Contains(t, err.Error(), "the copy of TenureInformation has")
	require.Contains(t, err.Error(), "the copy must catch up first")

	// A watermark before the source's instant is not enough either.
	sqlExec(t, pool, `INSERT INTO ddbsync.streams (table_name, stream_arn, start_time, watermark) VALUES ($1, 'arn', $2, $3)`,
		tenure.TableName, reconciletest.T0, reconciletest.T0.Add(30*time.Minute))
	_, _, err = diffExport(t, pool, newer, false)
	require.ErrorIs(t, err, reconcile.ErrNotCaughtUp)

	// Caught up: compared.
	sqlExec(t, pool, `UPDATE ddbsync.streams SET watermark = $1`, reconciletest.T0.Add(2*time.Hour))
	_, _, err = diffExport(t, pool, newer, false)
	require.NoError(t, err)

	// An older source than the copy cannot be compared.
	older := reconciletest.WriteExport(t, tenure.TableName, reconciletest.T0.Add(-time.Hour), 1, items).Open()
	_, _, err = diffExport(t, pool, older, false)
	require.Error(t, err)
	require.Contains(t, err.Error(), "before the copy's own export time")
}

func TestDiff_RepairThenSecondDiffIsClean(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	items := diffItems(40)
	exp := loadedCopy(t, pool, items)
	sqlExec(t, pool, `DELETE FROM dynamodb.tenure_information WHERE id = $1`, idOf(items[0]))
	sqlExec(t, pool, `INSERT INTO dynamodb.tenure_information (id, item, doc, origin) VALUES ('added', '{"id":{"S":"added"}}', '{"id":"added"}', 'stream')`)
	sqlExec(t, pool, `UPDATE dynamodb.tenure_information SET item = jsonb_set(item, '{charges,M,rent,N}', '"1.01"'), doc = '{}' WHERE id = $1`, idOf(items[1]))

	sum, c, err := diffExport(t, pool, exp, true)
	require.ErrorIs(t, err, reconcile.ErrInconsistent, "findings are reported even when repaired")
	require.Equal(t, &diff.RepairCounts{Inserted: 1, Updated: 1, Deleted: 1}, sum.Repair)
	for _, f := range c.findings {
		require.True(t, f.Repaired, "finding %s", f.Key)
	}
	var repairs int
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM ddbsync.repairs WHERE diff_id = $1`, sum.DiffID).Scan(&repairs))
	require.Equal(t, 3, repairs)
	var before, after *string
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT before->'charges'->'M'->'rent'->>'N', after->'charges'->'M'->'rent'->>'N'
		FROM ddbsync.repairs WHERE diff_id = $1 AND kind = 'different'`, sum.DiffID).Scan(&before, &after))
	require.Equal(t, "1.01", *before)
	require.NotEqual(t, "1.01", *after)

	sum2, c2, err := diffExport(t, pool, exp, false)
	require.NoError(t, err)
	require.Zero(t, sum2.Inconsistencies())
	require.Empty(t, c2.findings)
	// The repaired rows are exactly the export's: image, plain doc, provenance.
	reconciletest.RequireSameItems(t, items, reconciletest.TableItems(t, pool, reconciletest.TenureLayout(t, "")), "id")
	var origin string
	var docRent string
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT origin, doc->'charges'->>'rent' FROM dynamodb.tenure_information WHERE id = $1`,
		idOf(items[1])).Scan(&origin, &docRent))
	require.Equal(t, "export", origin)
	require.NotEmpty(t, docRent)
}

func followLockKey(table string) int64 {
	h := fnv.New64a()
	h.Write([]byte("ddbsync:follow:" + table))
	return int64(h.Sum64())
}

func TestDiff_RepairRefusedWhileFollowRuns(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	items := diffItems(5)
	exp := loadedCopy(t, pool, items)
	sqlExec(t, pool, `DELETE FROM dynamodb.tenure_information WHERE id = $1`, idOf(items[0]))

	conn, err := pool.Acquire(t.Context())
	require.NoError(t, err)
	defer conn.Release()
	var ok bool
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT pg_try_advisory_lock($1)`, followLockKey(tenure.TableName)).Scan(&ok))
	require.True(t, ok)

	_, err = diff.Run(t.Context(), pool, diff.Config{Table: tenure.TableName, Export: exp, Repair: true,
		LockTimeout: 50 * time.Millisecond})
	require.ErrorIs(t, err, reconcile.ErrBusy)
	require.False(t, errors.Is(err, reconcile.ErrInconsistent))
	require.Contains(t, err.Error(), "follow of this table")
	// Without --repair the diff runs alongside a follow.
	_, _, err = diffExport(t, pool, exp, false)
	require.ErrorIs(t, err, reconcile.ErrInconsistent)
	_, err = conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, followLockKey(tenure.TableName))
	require.NoError(t, err)
	require.Equal(t, 4, len(reconciletest.TableItems(t, pool, reconciletest.TenureLayout(t, ""))), "nothing was repaired")
}

func TestDiff_CleansUpAfterAnInterruptedDiff(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	exp := loadedCopy(t, pool, diffItems(5))
	// A diff killed mid-way leaves its run 'running' and its scratch table.
	var id int64
	require.NoError(t, pool.QueryRow(t.Context(), `INSERT INTO ddbsync.diff_runs (table_name, source_kind, source, skew)
		VALUES ($1, 'export', 'x', '1 minute') RETURNING diff_id`, tenure.TableName).Scan(&id))
	sqlExec(t, pool, fmt.Sprintf(`CREATE TABLE ddbsync.diff_%d_source (id text)`, id))

	_, _, err := diffExport(t, pool, exp, false)
	require.NoError(t, err)
	var state, msg string
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT state, error FROM ddbsync.diff_runs WHERE diff_id = $1`, id).Scan(&state, &msg))
	require.Equal(t, "failed", state)
	require.Equal(t, "interrupted", msg)
	var scratch int
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM pg_tables WHERE schemaname = 'ddbsync' AND tablename ~ '^diff_[0-9]+_'`).Scan(&scratch))
	require.Zero(t, scratch)

	st, err := reconcile.Status(t.Context(), pool, tenure.TableName, time.Now())
	require.NoError(t, err)
	require.NotNil(t, st[0].LastDiff)
	require.Equal(t, "consistent", st[0].LastDiff.State)
}
