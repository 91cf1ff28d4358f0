package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/awstest"
	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/snapshot"
)

func TestMain(m *testing.M) {
	awstest.Prestart() // for TestFollow_EndToEndOnExternalEndpoint
	code := pgtest.Main(m)
	awstest.Stop()
	os.Exit(code)
}

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func tenureItems(seed uint64, n int) []ddbjson.Item {
	g := tenure.NewGenerator(seed)
	out := make([]ddbjson.Item, n)
	for i := range out {
		out[i] = g.Item()
	}
	return out
}

// tenureKey is [tenure.Key] as reconcile takes it.
var tenureKey = reconcile.KeySchema{Hash: reconcile.KeyAttribute{Name: tenure.Key.Hash.Name, Type: string(tenure.Key.Hash.Type)}}

func tenureLayout(t testing.TB, schema string) reconcile.Layout {
	t.Helper()
	l, err := reconcile.NewLayout(tenure.TableName, schema, tenureKey)
	require.NoError(t, err)
	return l
}

// tableItems reads a data table back: key text → decoded item column.
func tableItems(t testing.TB, pool *pgxpool.Pool, l reconcile.Layout) map[string]ddbjson.Item {
	t.Helper()
	rows, err := pool.Query(t.Context(), fmt.Sprintf("SELECT %s::text, item::text FROM %s",
		pgx.Identifier{l.KeyColumns[0]}.Sanitize(), l.Ident().Sanitize()))
	require.NoError(t, err)
	out := map[string]ddbjson.Item{}
	for rows.Next() {
		var k, raw string
		require.NoError(t, rows.Scan(&k, &raw))
		item, err := ddbjson.DecodeItem([]byte(raw))
		require.NoError(t, err, "item column of %s is not lossless DynamoDB JSON", k)
		out[k] = item
	}
	require.NoError(t, rows.Err())
	return out
}

func requireSameItems(t *testing.T, want []ddbjson.Item, got map[string]ddbjson.Item, keyAttr string) {
	t.Helper()
	require.Len(t, got, len(want))
	for _, w := range want {
		k := w[keyAttr].(*types.AttributeValueMemberS).Value
		g, ok := got[k]
		require.True(t, ok, "item %s missing", k)
		we, err := ddbjson.EncodeItem(w)
		require.NoError(t, err)
		ge, err := ddbjson.EncodeItem(g)
		require.NoError(t, err)
		require.Equal(t, string(we), string(ge), "item %s", k)
	}
}

func TestLoad_PublishesEveryItem(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	items := tenureItems(1, 500)
	exp := writeExport(t, tenure.TableName, t0, 3, items).open()
	l := tenureLayout(t, "")
	res, err := reconcile.Load(t.Context(), pool, exp, reconcile.LoadConfig{Layout: l})
	require.NoError(t, err)
	require.EqualValues(t, 500, res.Items)
	require.Equal(t, `"dynamodb"."tenure_information"`, res.Table.Sanitize())
	requireSameItems(t, items, tableItems(t, pool, l), "id")

	var origin string
	var originTime time.Time
	var arn string
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT DISTINCT origin, origin_time FROM dynamodb.tenure_information`).Scan(&origin, &originTime))
	require.Equal(t, "export", origin)
	require.True(t, originTime.Equal(t0))
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT export_arn FROM ddbsync.tables WHERE table_name = 'TenureInformation'`).Scan(&arn))
	require.Equal(t, exp.ID(), arn)
	// The plain form answers the analysts' questions without type tags.
	var active int
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM dynamodb.tenure_information
		WHERE doc->>'endOfTenureDate' IS NULL AND (doc->'numberOfAdultsInProperty')::numeric >= 1`).Scan(&active))
	require.Positive(t, active)
}

// everyType is an item holding every AttributeValue type, with the values
// that are easy to get wrong.
func everyType(id string) ddbjson.Item {
	return ddbjson.Item{
		"pk":                     &types.AttributeValueMemberS{Value: id},
		"s":                      &types.AttributeValueMemberS{Value: "héllo \"quoted\" \\ \n tab\t ✓ 😀"},
		"empty":                  &types.AttributeValueMemberS{Value: ""},
		"nul":                    &types.AttributeValueMemberS{Value: "before\x00after"},
		"n38":                    &types.AttributeValueMemberN{Value: "12345678901234567890123456789012345678"},
		"nsmall":                 &types.AttributeValueMemberN{Value: "-0.000000000000000000000000000000000000000000123"},
		"nbig":                   &types.AttributeValueMemberN{Value: "9.9999999999999999999999999999999999999E+125"},
		"b":                      &types.AttributeValueMemberB{Value: []byte{0, 1, 2, 255}},
		"bempty":                 &types.AttributeValueMemberB{Value: []byte{}},
		"t":                      &types.AttributeValueMemberBOOL{Value: true},
		"f":                      &types.AttributeValueMemberBOOL{Value: false},
		"null":                   &types.AttributeValueMemberNULL{Value: true},
		"ss":                     &types.AttributeValueMemberSS{Value: []string{"b", "a", "c\x00nul"}},
		"ns":                     &types.AttributeValueMemberNS{Value: []string{"3", "-1.5", "1E+2"}},
		"bs":                     &types.AttributeValueMemberBS{Value: [][]byte{{9}, {1, 2}}},
		"mempty":                 &types.AttributeValueMemberM{Value: ddbjson.Item{}},
		"lempty":                 &types.AttributeValueMemberL{Value: []types.AttributeValue{}},
		"nested":                 &types.AttributeValueMemberM{Value: ddbjson.Item{"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberN{Value: "1"}, &types.AttributeValueMemberS{Value: "x"}, &types.AttributeValueMemberM{Value: ddbjson.Item{"deep": &types.AttributeValueMemberNULL{Value: true}}}}}}},
		"name with spaces and ü": &types.AttributeValueMemberS{Value: "ok"},
	}
}

func TestLoad_RoundTripsEveryType(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	items := []ddbjson.Item{everyType("a"), everyType("b")}
	exp := writeExport(t, "AllTypes", t0, 2, items).open()
	key := reconcile.KeySchema{Hash: reconcile.KeyAttribute{Name: "pk", Type: "S"}}
	l, err := reconcile.NewLayout("AllTypes", "", key)
	require.NoError(t, err)
	_, err = reconcile.Load(t.Context(), pool, exp, reconcile.LoadConfig{Layout: l})
	require.NoError(t, err)
	requireSameItems(t, items, tableItems(t, pool, l), "pk")

	// The plain form keeps every digit and shows types as JSON does.
	var n38, nbig, b, ss, null, nul string
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT doc->>'n38', doc->>'nbig', doc->>'b', (doc->'ss')::text,
		jsonb_typeof(doc->'null'), doc->>'nul' FROM dynamodb.all_types WHERE pk = 'a'`).Scan(&n38, &nbig, &b, &ss, &null, &nul))
	require.Equal(t, "12345678901234567890123456789012345678", n38)
	require.Equal(t, "99999999999999999999999999999999999999"+strings.Repeat("0", 88), nbig)
	require.Equal(t, "AAEC/w==", b)
	require.Equal(t, `["a", "b", "c�nul"]`, ss)
	require.Equal(t, "null", null)
	require.Equal(t, "before\uFFFDafter", nul)
}

func TestLoad_TypedKeyColumns(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	key := reconcile.KeySchema{
		Hash:  reconcile.KeyAttribute{Name: "targetId", Type: "B"},
		Range: reconcile.KeyAttribute{Name: "Version", Type: "N"},
	}
	var items []ddbjson.Item
	for i := range 10 {
		items = append(items, ddbjson.Item{
			"targetId": &types.AttributeValueMemberB{Value: []byte{byte(i % 3)}},
			"Version":  &types.AttributeValueMemberN{Value: fmt.Sprintf("1%037d", i)},
		})
	}
	exp := writeExport(t, "2024 Contact-Details", t0, 2, items).open()
	l, err := reconcile.NewLayout("2024 Contact-Details", "Analytics Schema", key)
	require.NoError(t, err)
	require.Equal(t, []string{"target_id", "version"}, l.KeyColumns)
	_, err = reconcile.Load(t.Context(), pool, exp, reconcile.LoadConfig{Layout: l})
	require.NoError(t, err)
	var maxVersion string
	var distinctTargets int
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT max(version)::text, count(DISTINCT target_id)
		FROM "Analytics Schema"."2024_contact_details"`).Scan(&maxVersion, &distinctTargets))
	require.Equal(t, "10000000000000000000000000000000000009", maxVersion)
	require.Equal(t, 3, distinctTargets)
}

func TestLoad_ReplacesAtomically(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	l := tenureLayout(t, "")
	first := tenureItems(1, 300)
	_, err := reconcile.Load(t.Context(), pool, writeExport(t, tenure.TableName, t0, 2, first).open(), reconcile.LoadConfig{Layout: l})
	require.NoError(t, err)

	second := tenureItems(2, 700)
	t1 := t0.Add(time.Hour)
	exp2 := writeExport(t, tenure.TableName, t1, 7, second).open()

	// A reader polling throughout must only ever see the complete old copy
	// or the complete new one.
	ctx, cancel := context.WithCancel(t.Context())
	var seen sync.Map
	var polls atomic.Int64
	var readerErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			var n int
			var at time.Time
			err := pool.QueryRow(ctx, `SELECT count(*), min(origin_time) FROM dynamodb.tenure_information`).Scan(&n, &at)
			if err != nil {
				if ctx.Err() == nil {
					readerErr = err
				}
				return
			}
			seen.Store(fmt.Sprintf("%d@%s", n, at.UTC().Format(time.RFC3339)), true)
			polls.Add(1)
		}
	}()
	_, err = reconcile.Load(t.Context(), pool, exp2, reconcile.LoadConfig{Layout: l, Workers: 2})
	require.NoError(t, err)
	// A few more reads of the published copy.
	after := polls.Load()
	require.Eventually(t, func() bool {
		select {
		case <-done: // the reader failed: reported below
			return true
		default:
			return polls.Load() >= after+3
		}
	}, 20*time.Second, time.Millisecond)
	cancel()
	<-done
	require.NoError(t, readerErr)
	require.Positive(t, polls.Load())
	seen.Range(func(k, _ any) bool {
		require.Contains(t, []string{"300@" + t0.Format(time.RFC3339), "700@" + t1.Format(time.RFC3339)}, k)
		return true
	})
	requireSameItems(t, second, tableItems(t, pool, l), "id")
}

// stallingSource opens the first files data files it is asked for; later
// ones wait until the load is cancelled.
type stallingSource struct {
	snapshot.Source
	files  int64
	opened atomic.Int64
}

func (s *stallingSource) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if path.Base(path.Dir(name)) == "data" && s.opened.Add(1) > s.files {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return s.Source.Open(ctx, name)
}

func TestLoad_ResumesAfterCancel(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	l := tenureLayout(t, "")
	items := tenureItems(3, 2000)
	te := writeExport(t, tenure.TableName, t0, 10, items)

	// Stop the load once some files are in: a crash at an arbitrary point
	// between or inside file transactions. The source holds back the files
	// after the first five until then, so the load cannot finish first
	// however late the canceller runs.
	dirSrc, err := snapshot.NewDirSource(te.dir)
	require.NoError(t, err)
	stalled, err := snapshot.Open(t.Context(), &stallingSource{Source: dirSrc, files: 5})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	stats := &reconcile.LoadStats{}
	go func() {
		for stats.FilesDone.Load() < 3 && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err = reconcile.Load(ctx, pool, stalled, reconcile.LoadConfig{Layout: l, Workers: 2, Stats: stats})
	require.ErrorIs(t, err, context.Canceled)
	var published bool
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM ddbsync.tables)`).Scan(&published))
	require.False(t, published, "an interrupted first load must publish nothing")

	res, err := reconcile.Load(t.Context(), pool, te.open(), reconcile.LoadConfig{Layout: l, Workers: 2})
	require.NoError(t, err)
	require.GreaterOrEqual(t, res.FilesResumed, 3)
	require.Less(t, res.FilesResumed, 10)
	require.EqualValues(t, 2000, res.Items)
	requireSameItems(t, items, tableItems(t, pool, l), "id")
}

func TestLoad_RefusesBadExports(t *testing.T) {
	t.Parallel()
	good := tenureItems(4, 40)
	cases := []struct {
		name    string
		damage  func(t *testing.T, e *testExport)
		want    error
		message []string
	}{
		{"corrupt gzip", func(t *testing.T, e *testExport) {
			raw := e.readDataFile(1)
			for i := len(raw) / 3; i < len(raw)/3+40; i++ {
				raw[i] ^= 0x5a
			}
			e.replaceDataFile(1, raw, true, -1)
		}, snapshot.ErrCorrupt, []string{"data/"}},
		{"corrupt bytes caught by checksum", func(t *testing.T, e *testExport) {
			raw := e.readDataFile(0)
			raw[len(raw)/2] ^= 0xff
			e.replaceDataFile(0, raw, false, -1)
		}, snapshot.ErrChecksum, []string{"data/", "MD5"}},
		{"truncated file", func(t *testing.T, e *testExport) {
			raw := e.readDataFile(2)
			e.replaceDataFile(2, raw[:len(raw)-30], true, -1)
		}, snapshot.ErrCorrupt, []string{"data/", "truncated"}},
		{"line that is not JSON", func(t *testing.T, e *testExport) {
			e.replaceDataFile(0, gz(t, `{"Item":{"id":{"S":"x1"}}}`, `{"Item":{"id":{"S":"x2"}}}`, `not json at all`), true, 3)
		}, snapshot.ErrCorrupt, []string{"data/", "line 3"}},
		{"item without its key", func(t *testing.T, e *testExport) {
			e.replaceDataFile(0, gz(t, `{"Item":{"id":{"S":"x1"}}}`, `{"Item":{"other":{"S":"x2"}}}`), true, 2)
		}, ddbjson.ErrMissingKey, []string{"data/", "line 2", `"id"`}},
		{"unknown AttributeValue type", func(t *testing.T, e *testExport) {
			e.replaceDataFile(0, gz(t, `{"Item":{"id":{"S":"x1"},"v":{"DATE":"2020"}}}`), true, 1)
		}, ddbjson.ErrUnknownType, []string{"data/", "line 1", "DATE"}},
		{"file item count mismatch", func(t *testing.T, e *testExport) {
			lines := e.manifestLines()
			lines[1]["itemCount"] = lines[1]["itemCount"].(float64) + 1
			e.writeManifest(lines)
			e.fixTotal(lines)
		}, snapshot.ErrCount, []string{"data/", "holds"}},
		{"total item count mismatch", func(t *testing.T, e *testExport) {
			e.editSummary(func(s map[string]any) { s["itemCount"] = s["itemCount"].(float64) + 5 })
		}, snapshot.ErrCount, []string{"manifest-files.json"}},
		{"data file missing", func(t *testing.T, e *testExport) {
			require.NoError(t, os.Remove(e.dir+"/"+e.dataFile(3)))
		}, snapshot.ErrMissingFile, []string{"data/"}},
		{"manifest key outside the export", func(t *testing.T, e *testExport) {
			lines := e.manifestLines()
			key := lines[0]["dataFileS3Key"].(string)
			lines[0]["dataFileS3Key"] = key[:strings.Index(key, "data/")] + "../../../etc/passwd"
			e.writeManifest(lines)
		}, snapshot.ErrOutsideExport, []string{"passwd"}},
		{"manifest checksum mismatch", func(t *testing.T, e *testExport) {
			require.NoError(t, os.WriteFile(e.dir+"/manifest-files.checksum", []byte("AAAAAAAAAAAAAAAAAAAAAA=="), 0o644))
		}, snapshot.ErrChecksum, []string{"manifest-files.json"}},
		{"ION export", func(t *testing.T, e *testExport) {
			e.editSummary(func(s map[string]any) { s["outputFormat"] = "ION" })
		}, snapshot.ErrUnsupported, []string{"ION"}},
		{"incremental export", func(t *testing.T, e *testExport) {
			e.editSummary(func(s map[string]any) { s["exportType"] = "INCREMENTAL_EXPORT" })
		}, snapshot.ErrUnsupported, []string{"incremental"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pool := pgtest.New(t)
			l := tenureLayout(t, "")
			// A good copy is already published: a bad export must not touch it.
			_, err := reconcile.Load(t.Context(), pool, writeExport(t, tenure.TableName, t0, 2, good).open(), reconcile.LoadConfig{Layout: l})
			require.NoError(t, err)

			bad := writeExport(t, tenure.TableName, t0.Add(time.Hour), 4, tenureItems(5, 40))
			tc.damage(t, bad)
			src, err := snapshot.NewDirSource(bad.dir)
			require.NoError(t, err)
			exp, err := snapshot.Open(t.Context(), src)
			if err == nil {
				_, err = reconcile.Load(t.Context(), pool, exp, reconcile.LoadConfig{Layout: l})
			}
			require.Error(t, err)
			require.True(t, errors.Is(err, tc.want), "error %q is not %v", err, tc.want)
			for _, m := range tc.message {
				require.Contains(t, err.Error(), m)
			}
			requireSameItems(t, good, tableItems(t, pool, l), "id")
		})
	}
}

func TestLoad_RefusesForeignTable(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	_, err := pool.Exec(t.Context(), `CREATE SCHEMA dynamodb; CREATE TABLE dynamodb.tenure_information (x int); INSERT INTO dynamodb.tenure_information VALUES (42)`)
	require.NoError(t, err)
	exp := writeExport(t, tenure.TableName, t0, 1, tenureItems(1, 5)).open()
	_, err = reconcile.Load(t.Context(), pool, exp, reconcile.LoadConfig{Layout: tenureLayout(t, "")})
	require.ErrorIs(t, err, reconcile.ErrTableNotOurs)
	var x int
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT x FROM dynamodb.tenure_information`).Scan(&x))
	require.Equal(t, 42, x)
}

func TestLoad_EmptyExport(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	exp := writeExport(t, tenure.TableName, t0, 3, nil).open()
	res, err := reconcile.Load(t.Context(), pool, exp, reconcile.LoadConfig{Layout: tenureLayout(t, "")})
	require.NoError(t, err)
	require.Zero(t, res.Items)
	var n int
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM dynamodb.tenure_information`).Scan(&n))
	require.Zero(t, n)
}
