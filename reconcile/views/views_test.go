package views_test

import (
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile/load"
	"github.com/ddbsync/ddbsync/reconcile/views"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
func b(v bool) types.AttributeValue   { return &types.AttributeValueMemberBOOL{Value: v} }

// loadItems loads items as the tenure table's copy, from an export at at.
func loadItems(t *testing.T, pool *pgxpool.Pool, at time.Time, items []ddbjson.Item) {
	t.Helper()
	exp := reconciletest.WriteExport(t, tenure.TableName, at, 2, items).Open()
	_, err := load.Run(t.Context(), pool, exp, load.Config{Layout: reconciletest.TenureLayout(t, "")})
	require.NoError(t, err)
}

func runViews(t *testing.T, pool *pgxpool.Pool) views.Result {
	t.Helper()
	res, err := views.Run(t.Context(), pool, views.Config{Table: tenure.TableName, Sample: -1})
	require.NoError(t, err)
	return res
}

// selectAll reads every row of relation rel, every column, as PostgreSQL
// gives them: a view whose conversions failed would fail here.
func selectAll(t *testing.T, pool *pgxpool.Pool, sql string) []map[string]any {
	t.Helper()
	rows, err := pool.Query(t.Context(), sql)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowToMap)
	require.NoError(t, err, sql)
	return out
}

func byID(rows []map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, r := range rows {
		out[r["id"].(string)] = r
	}
	return out
}

func edgeItems() []ddbjson.Item {
	return []ddbjson.Item{{
		"id": s("a"), "text": s("a\x00b"), "empty": s(""), "big": n("12345678901234567890123456789012345678"),
		"small": n("-123456789012345678"), "flag": b(true), "yesNo": b(true), "when": s("2020-02-29"),
		"at": s("2014-06-02T00:00:00.0000000Z"), "bin": &types.AttributeValueMemberB{Value: []byte{0, 0xff}},
		"ss": &types.AttributeValueMemberSS{Value: []string{"x\x00", "y"}}, "ns": &types.AttributeValueMemberNS{Value: []string{"1e-130", "9.9999999999999999999999999999999999999e+125"}},
		"bs":    &types.AttributeValueMemberBS{Value: [][]byte{{1, 2}}},
		"mixed": s("1"), "asset": &types.AttributeValueMemberM{Value: ddbjson.Item{"type": s("Dwelling"), "uprn": n("100021045678")}},
		"members": &types.AttributeValueMemberL{Value: []types.AttributeValue{
			&types.AttributeValueMemberM{Value: ddbjson.Item{"id": s("m1"), "isResponsible": b(true)}},
			&types.AttributeValueMemberM{Value: ddbjson.Item{"id": s("m2"), "isResponsible": b(false)}}}},
	}, {
		"id": s("b"), "text": s("plain"), "empty": s(""), "big": n("0.5"), "small": n("3"), "flag": b(false),
		"yesNo": s("false"), "when": &types.AttributeValueMemberNULL{Value: true}, "at": s("2020-04-12"),
		"ss": &types.AttributeValueMemberSS{Value: []string{"z"}}, "mixed": n("1"),
		"asset":   &types.AttributeValueMemberM{Value: ddbjson.Item{"type": s("Block")}},
		"members": &types.AttributeValueMemberL{Value: []types.AttributeValue{}},
	}}
}

// TestRun_EdgeItems writes the views of the codec's edge items and reads
// them back: every column converts (SELECT * works), the values are the
// items', and every column has its comment.
func TestRun_EdgeItems(t *testing.T) {
	pool := pgtest.New(t)
	loadItems(t, pool, reconciletest.T0, edgeItems())
	res := runViews(t, pool)
	require.False(t, res.Sampled)
	require.EqualValues(t, 2, res.Items)
	require.Len(t, res.Views, 2)

	rows := byID(selectAll(t, pool, `SELECT * FROM analytics.tenure_information`))
	a, bb := rows["a"], rows["b"]
	require.Equal(t, "a\uFFFDb", a["text"], "U+0000 shows as U+FFFD")
	require.Equal(t, "plain", bb["text"])
	require.Equal(t, "", a["empty"])
	var big string
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT big::text FROM analytics.tenure_information WHERE id = 'a'`).Scan(&big))
	require.Equal(t, "12345678901234567890123456789012345678", big, "38 digits, exact")
	require.Equal(t, int64(-123456789012345678), a["small"])
	require.Equal(t, true, a["yes_no"])
	require.Equal(t, false, bb["yes_no"], `"false" beside BOOL is false`)
	require.Equal(t, time.Date(2020, 2, 29, 0, 0, 0, 0, time.UTC), a["when"])
	require.Nil(t, bb["when"])
	require.True(t, time.Date(2020, 4, 12, 0, 0, 0, 0, time.UTC).Equal(bb["at"].(time.Time)), "a date among timestamps is midnight UTC")
	require.Equal(t, []byte{0, 0xff}, a["bin"])
	require.Equal(t, []any{"x\uFFFD", "y"}, a["ss"])
	require.Equal(t, "Dwelling", a["asset__type"])
	require.Equal(t, int64(100021045678), a["asset__uprn"])
	require.Nil(t, bb["asset__uprn"])
	require.NotNil(t, a["mixed"], "conflicting types stay, as jsonb")

	// The conversions run in parallel workers too (no subtransactions).
	conn, err := pool.Acquire(t.Context())
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(t.Context(), `SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0`)
	require.NoError(t, err)
	var plan string
	require.NoError(t, conn.QueryRow(t.Context(), `EXPLAIN (FORMAT JSON) SELECT count(*) FROM analytics.tenure_information WHERE "when" IS NOT NULL`).Scan(&plan))
	require.Contains(t, plan, "Gather", "the planner runs the view in parallel")
	var dated int
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT count(*) FROM analytics.tenure_information WHERE "when" IS NOT NULL AND "at" IS NOT NULL`).Scan(&dated))
	require.Equal(t, 1, dated)

	members := selectAll(t, pool, `SELECT * FROM analytics.tenure_information__members ORDER BY parent_id, ordinal`)
	require.Len(t, members, 2)
	require.Equal(t, "a", members[0]["parent_id"])
	require.Equal(t, int64(2), members[1]["ordinal"])
	require.Equal(t, "m2", members[1]["id"])
	require.Equal(t, false, members[1]["is_responsible"])

	rowsC, err := pool.Query(t.Context(), `SELECT c.relname || '.' || a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
		WHERE c.relnamespace = 'analytics'::regnamespace AND a.attnum > 0 AND col_description(c.oid, a.attnum) IS NULL`)
	require.NoError(t, err)
	missing, err := pgx.CollectRows(rowsC, pgx.RowTo[string])
	require.NoError(t, err)
	require.Empty(t, missing, "columns without a comment")
	var comment string
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT col_description(attrelid, attnum) FROM pg_attribute
		WHERE attrelid = 'analytics.tenure_information'::regclass AND attname = 'text'`).Scan(&comment))
	require.Equal(t, `DynamoDB attribute ["text"]: S 100.0%; present in 100.0% of the 2 items read (all of them); `+
		`U+0000 in a string shows as U+FFFD (the exact string is in item)`, comment)
}

// TestRun_SurvivesAReload: a reload keeps the typed views and an
// analyst's view on them; running again appends the attribute the new
// export brought, under the analyst's view.
func TestRun_SurvivesAReload(t *testing.T) {
	pool := pgtest.New(t)
	loadItems(t, pool, reconciletest.T0, reconciletest.TenureItems(1, 50))
	runViews(t, pool)
	_, err := pool.Exec(t.Context(), `CREATE VIEW public.secure AS SELECT id, tenure_type__code FROM analytics.tenure_information
		WHERE tenure_type__code = 'SEC'`)
	require.NoError(t, err)

	items := reconciletest.TenureItems(2, 60)
	for _, it := range items {
		it["riskFlag"] = b(true)
	}
	loadItems(t, pool, reconciletest.T0.Add(time.Hour), items)
	require.Len(t, selectAll(t, pool, `SELECT * FROM analytics.tenure_information`), 60, "the view reads the new copy")
	secure := selectAll(t, pool, `SELECT * FROM public.secure`)
	require.NotEmpty(t, secure)

	res := runViews(t, pool)
	require.Equal(t, []string{"risk_flag"}, res.Views[0].Added)
	var flagged int
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM analytics.tenure_information WHERE risk_flag`).Scan(&flagged))
	require.Equal(t, 60, flagged)
	require.Len(t, selectAll(t, pool, `SELECT * FROM public.secure`), len(secure), "the analyst's view still works")
}

// TestRun_WideningRefusedUnderDependents: a column whose type must widen
// needs the view re-created: refused while a view depends on it, done
// otherwise, keeping the view's grants.
func TestRun_WideningRefusedUnderDependents(t *testing.T) {
	pool := pgtest.New(t)
	loadItems(t, pool, reconciletest.T0, []ddbjson.Item{{"id": s("a"), "count": n("1")}})
	runViews(t, pool)
	_, err := pool.Exec(t.Context(), `CREATE VIEW public.counts AS SELECT count FROM analytics.tenure_information;
		GRANT SELECT ON analytics.tenure_information TO PUBLIC`)
	require.NoError(t, err)
	loadItems(t, pool, reconciletest.T0.Add(time.Hour), []ddbjson.Item{{"id": s("a"), "count": n("1.5")}})

	_, err = views.Run(t.Context(), pool, views.Config{Table: tenure.TableName, Sample: -1})
	require.ErrorIs(t, err, views.ErrDependents)
	var dep *views.DependentsError
	require.True(t, errors.As(err, &dep))
	require.Equal(t, []string{"counts"}, dep.Dependents)
	require.Contains(t, err.Error(), "count: bigint → numeric")

	_, err = pool.Exec(t.Context(), `DROP VIEW public.counts`)
	require.NoError(t, err)
	res := runViews(t, pool)
	require.Equal(t, []string{"count: bigint → numeric"}, res.Views[0].Widened)
	var count string
	var public bool
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count::text, has_table_privilege('public', 'analytics.tenure_information', 'SELECT')
		FROM analytics.tenure_information`).Scan(&count, &public))
	require.Equal(t, "1.5", count)
	require.True(t, public, "the grant survives the re-creation")
}

// TestRun_AsOfTwin: where the history's dynamodb.<table>_as_of(ts)
// exists (a stand-in here), each view gets a twin giving its typed rows
// at an instant.
func TestRun_AsOfTwin(t *testing.T) {
	pool := pgtest.New(t)
	loadItems(t, pool, reconciletest.T0, reconciletest.TenureItems(3, 20))
	_, err := pool.Exec(t.Context(), `CREATE FUNCTION dynamodb.tenure_information_as_of(ts timestamptz)
		RETURNS TABLE (id text, item jsonb, valid_from timestamptz) LANGUAGE sql STABLE
		AS 'SELECT id, item, origin_time FROM dynamodb.tenure_information WHERE origin_time <= ts'`)
	require.NoError(t, err)
	res := runViews(t, pool)
	require.Equal(t, `"analytics"."tenure_information_as_of"(ts timestamptz)`, res.Views[0].AsOf)

	now := selectAll(t, pool, `SELECT * FROM analytics.tenure_information ORDER BY id`)
	then := selectAll(t, pool, `SELECT * FROM analytics.tenure_information_as_of(now()) ORDER BY id`)
	require.Equal(t, now, then, "the twin gives the view's typed rows")
	require.Empty(t, selectAll(t, pool, `SELECT * FROM analytics.tenure_information_as_of('2000-01-01')`))
	members := selectAll(t, pool, `SELECT * FROM analytics.tenure_information__household_members_as_of(now())`)
	require.Len(t, members, len(selectAll(t, pool, `SELECT * FROM analytics.tenure_information__household_members`)))
}

// TestRun_Sample reads a sample of a table bigger than it, and says so.
func TestRun_Sample(t *testing.T) {
	pool := pgtest.New(t)
	loadItems(t, pool, reconciletest.T0, reconciletest.TenureItems(4, 400))
	_, err := pool.Exec(t.Context(), `ANALYZE dynamodb.tenure_information`)
	require.NoError(t, err)
	res, err := views.Run(t.Context(), pool, views.Config{Table: tenure.TableName, Sample: 100})
	require.NoError(t, err)
	require.True(t, res.Sampled)
	require.LessOrEqual(t, res.Items, int64(100))
	require.Positive(t, res.Items)
	require.EqualValues(t, 400, res.Total)
}
