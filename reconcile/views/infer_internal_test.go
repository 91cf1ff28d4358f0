package views

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/reconcile/store"
)

func s(v string) types.AttributeValue       { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue       { return &types.AttributeValueMemberN{Value: v} }
func b(v bool) types.AttributeValue         { return &types.AttributeValueMemberBOOL{Value: v} }
func null() types.AttributeValue            { return &types.AttributeValueMemberNULL{Value: true} }
func m(v ddbjson.Item) types.AttributeValue { return &types.AttributeValueMemberM{Value: v} }
func l(v ...types.AttributeValue) types.AttributeValue {
	return &types.AttributeValueMemberL{Value: v}
}

// columnsOf infers the columns of the items' main view, by name.
func columnsOf(t *testing.T, items []ddbjson.Item, minShare float64) (map[string]column, []viewPlan) {
	t.Helper()
	p := newProfile(true)
	for _, it := range items {
		p.observe(it)
	}
	plans := plan(reconciletest.TenureLayout(t, ""), "analytics", p, false, minShare)
	byName := map[string]column{}
	for _, c := range plans[0].cols {
		name := c.Name
		if name == "" {
			name = store.SnakeCase(c.Path[len(c.Path)-1])
		}
		byName[name] = c
	}
	return byName, plans
}

// TestPlan_TypeRules runs the type rules over the codec's edge values:
// every type, 38-digit numbers, sets, empty strings, U+0000, mixed types,
// BOOL beside "true"/"false" strings, dates in several formats.
func TestPlan_TypeRules(t *testing.T) {
	items := []ddbjson.Item{{
		"id": s("a"), "str": s("x"), "empty": s(""), "nul": s("a\x00b"),
		"small": n("-123456789012345678"), "big": n("12345678901234567890123456789012345678"), "frac": n("1.5"),
		"flag": b(true), "boolStr": b(true), "boolOther": b(true), "bin": &types.AttributeValueMemberB{Value: []byte{0, 1}},
		"ss": &types.AttributeValueMemberSS{Value: []string{"a", "b"}}, "ns": &types.AttributeValueMemberNS{Value: []string{"1", "2.5"}},
		"bs":   &types.AttributeValueMemberBS{Value: [][]byte{{1}}},
		"date": s("2020-04-12"), "ts": s("2014-06-02T00:00:00.0000000Z"), "dateOrTs": s("2000-09-11"),
		"badDate": s("2020-02-30"), "mixed": s("1"), "onlyNull": null(), "nullable": n("7"),
		"map": m(ddbjson.Item{"code": s("SEC"), "amount": n("2")}), "list": l(m(ddbjson.Item{"name": s("uh_tag_ref")})),
		"scalars": l(s("a")),
	}, {
		"id": s("b"), "str": s("y"), "empty": s(""), "nul": s("c"),
		"small": n("7"), "big": n("1"), "frac": n("2"),
		"flag": b(false), "boolStr": s("false"), "boolOther": s("yes"), "bin": &types.AttributeValueMemberB{Value: []byte{}},
		"ss": &types.AttributeValueMemberSS{Value: []string{"c\x00"}}, "ns": &types.AttributeValueMemberNS{Value: []string{"3"}},
		"bs":   &types.AttributeValueMemberBS{Value: [][]byte{{2}}},
		"date": s("1900-01-01"), "ts": s("2014-06-02T10:11:12+01:00"), "dateOrTs": s("2020-04-12T00:00:00"),
		"badDate": s("2020-02-03"), "mixed": n("1"), "onlyNull": null(), "nullable": null(),
		"map": m(ddbjson.Item{"code": s("INT")}), "list": l(), "scalars": l(),
	}}
	cols, plans := columnsOf(t, items, 0.01)
	want := map[string]store.ViewType{
		"id": store.ViewText, "str": store.ViewText, "empty": store.ViewText, "nul": store.ViewText,
		"small": store.ViewBigint, "big": store.ViewNumeric, "frac": store.ViewNumeric,
		"flag": store.ViewBoolean, "bool_str": store.ViewBoolean, "bool_other": store.ViewJSONB, "bin": store.ViewBytea,
		"ss": store.ViewTextArray, "ns": store.ViewNumericArray, "bs": store.ViewByteaArray,
		"date": store.ViewDate, "ts": store.ViewTimestamptz, "date_or_ts": store.ViewTimestamptz,
		"bad_date": store.ViewText, "mixed": store.ViewJSONB, "only_null": store.ViewJSONB, "nullable": store.ViewBigint,
		"map": store.ViewJSONB, "map__code": store.ViewText, "map__amount": store.ViewBigint,
		"list": store.ViewJSONB, "scalars": store.ViewJSONB,
	}
	got := map[string]store.ViewType{}
	for name, c := range cols {
		got[name] = c.Type
	}
	require.Equal(t, want, got)
	require.True(t, cols["bool_str"].BoolStrings)
	require.Equal(t, "id", plans[0].cols[0].Key, "the key column comes first")
	require.Contains(t, cols["bool_other"].Comment, `strings other than "true" and "false" beside BOOL`)
	require.Contains(t, cols["mixed"].Comment, "conflicting types S and N")
	require.Contains(t, cols["nul"].Comment, "U+0000")
	require.Contains(t, cols["map__amount"].Comment, `DynamoDB attribute ["map","amount"]: N 100.0%; present in 50.0% of the 2 maps of map read`)
	require.Contains(t, cols["nullable"].Comment, "N 50.0%, NULL 50.0%; present in 100.0% of the 2 items read (all of them)")

	// The list of maps has a child view; the list of strings has none.
	require.Len(t, plans, 2)
	require.Equal(t, "tenure_information__list", plans[1].ident[1])
	var child []string
	for _, c := range plans[1].cols {
		child = append(child, c.Name+":"+string(c.Type))
	}
	require.Equal(t, []string{"parent_id:text", "ordinal:bigint", ":text"}, child)
	require.Equal(t, []string{"name"}, plans[1].cols[2].Path)
}

// TestPlan_RareAttributesStayJSONB: an attribute in under the minimum
// share of items keeps its values as jsonb, and says why.
func TestPlan_RareAttributesStayJSONB(t *testing.T) {
	items := make([]ddbjson.Item, 200)
	for i := range items {
		items[i] = ddbjson.Item{"id": s(strings.Repeat("x", i+1))}
	}
	items[3]["taOfficer"] = s("Ms Smith")
	cols, _ := columnsOf(t, items, 0.01)
	require.Equal(t, store.ViewJSONB, cols["ta_officer"].Type)
	require.Contains(t, cols["ta_officer"].Comment, "present in 0.5% of the 200 items")
	require.Contains(t, cols["ta_officer"].Comment, "under 1.0% of the rows read")
	cols, _ = columnsOf(t, items, 0.001)
	require.Equal(t, store.ViewText, cols["ta_officer"].Type)
}

// TestPlan_NoMapFlatteningOfDictionaries: a map with more attributes than
// a record has is kept whole; a map attribute that is sometimes a string
// is not flattened.
func TestPlan_NoMapFlatteningOfDictionaries(t *testing.T) {
	dict := ddbjson.Item{}
	for i := range maxFlatten + 1 {
		dict[strings.Repeat("k", i+1)] = n("1")
	}
	items := []ddbjson.Item{
		{"id": s("a"), "dict": m(dict), "sometimes": m(ddbjson.Item{"x": s("1")})},
		{"id": s("b"), "sometimes": s("flat")},
	}
	cols, _ := columnsOf(t, items, 0)
	for name := range cols {
		require.NotContains(t, name, "__", "column %s flattens an ambiguous map", name)
	}
	require.Equal(t, store.ViewJSONB, cols["sometimes"].Type)
}

// TestWiden_OnlyUpAChain: the documented rule.
func TestWiden_OnlyUpAChain(t *testing.T) {
	cases := []struct{ old, typ, want store.ViewType }{
		{store.ViewBigint, store.ViewNumeric, store.ViewNumeric},
		{store.ViewNumeric, store.ViewBigint, store.ViewNumeric},
		{store.ViewDate, store.ViewTimestamptz, store.ViewTimestamptz},
		{store.ViewDate, store.ViewText, store.ViewText},
		{store.ViewText, store.ViewDate, store.ViewText},
		{store.ViewBigint, store.ViewText, store.ViewJSONB},
		{store.ViewBoolean, store.ViewText, store.ViewJSONB},
		{store.ViewJSONB, store.ViewBigint, store.ViewJSONB},
		{store.ViewTextArray, store.ViewTextArray, store.ViewTextArray},
	}
	for _, c := range cases {
		require.Equal(t, c.want, widen(c.old, c.typ), "%s then %s", c.old, c.typ)
	}
}

// TestReconcileColumns_KeepsNamesAndOrder: an existing view keeps its
// columns in place; new attributes are appended with names that do not
// collide; a column whose attribute is gone stays.
func TestReconcileColumns_KeepsNamesAndOrder(t *testing.T) {
	_, plans := columnsOf(t, []ddbjson.Item{{"id": s("a"), "fooBar": n("1"), "foo_bar": s("x"), "gone": s("y")}}, 0)
	first, added, _, err := reconcileColumns(plans[0], nil)
	require.NoError(t, err)
	require.Equal(t, []string{"id", "foo_bar", "foo_bar_2", "gone"}, added)
	existing := make([]store.ExistingColumn, len(first))
	for i, c := range first {
		existing[i] = store.ExistingColumn{Name: c.Name, Type: c.Type, Comment: c.Comment}
	}
	_, plans = columnsOf(t, []ddbjson.Item{{"id": s("a"), "fooBar": n("1.5"), "foo_bar": s("x"), "aNew": b(true)}}, 0)
	again, added, widened, err := reconcileColumns(plans[0], existing)
	require.NoError(t, err)
	require.Equal(t, []string{"a_new"}, added)
	require.Equal(t, []string{"foo_bar: bigint → numeric"}, widened)
	var got []string
	for _, c := range again {
		got = append(got, c.Name+":"+string(c.Type))
	}
	require.Equal(t, []string{"id:text", "foo_bar:numeric", "foo_bar_2:text", "gone:text", "a_new:boolean"}, got)
	require.Equal(t, []string{"gone"}, again[3].Path, "the column of an attribute no longer seen keeps its attribute")
}

// TestIsTimestamp_TheShapesTheSQLAccepts: the Go side accepts what
// ddbsync.view_timestamptz converts, and nothing PostgreSQL would reject.
func TestIsTimestamp_TheShapesTheSQLAccepts(t *testing.T) {
	for _, ok := range []string{"2014-06-02T00:00:00.0000000Z", "2014-06-02T00:00:00", "2014-06-02 10:11", "2014-06-02T10:11:12+0100", "2014-06-02T10:11:12-05"} {
		require.True(t, isTimestamp(ok), ok)
	}
	for _, bad := range []string{"", "2014-06-02", "2014-06-02T24:00:00", "2014-02-30T00:00:00", "0000-01-01T00:00:00", "2014-06-02T00:00:00+15:00", "2014-06-02T00:00:00 UTC", "14-06-02T00:00"} {
		require.False(t, isTimestamp(bad), bad)
	}
	require.False(t, isDate("0000-01-01"))
	require.False(t, isDate("2021-02-29"))
	require.True(t, isDate("2020-02-29"))
}
