package load_test

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
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/load"
	"github.com/ddbsync/ddbsync/snapshot"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestLoad_PublishesEveryItem(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	items := reconciletest.TenureItems(1, 500)
	exp := reconciletest.WriteExport(t, tenure.TableName, reconciletest.T0, 3, items).Open()
	l := reconciletest.TenureLayout(t, "")
	res, err := load.Run(t.Context(), pool, exp, load.Config{Layout: l, Doc: new(true)})
	require.NoError(t, err)
	require.EqualValues(t, 500, res.Items)
	require.Equal(t, `"dynamodb"."tenure_information"`, res.Table.Sanitize())
	reconciletest.RequireSameItems(t, items, reconciletest.TableItems(t, pool, l), "id")

	var origin string
	var originTime time.Time
	var arn string
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT DISTINCT origin, origin_time FROM dynamodb.tenure_information`).Scan(&origin, &originTime))
	require.Equal(t, "export", origin)
	require.True(t, originTime.Equal(reconciletest.T0))
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
	exp := reconciletest.WriteExport(t, "AllTypes", reconciletest.T0, 2, items).Open()
	key := reconcile.KeySchema{Hash: reconcile.KeyAttribute{Name: "pk", Type: "S"}}
	l, err := reconcile.NewLayout("AllTypes", "", key)
	require.NoError(t, err)
	_, err = load.Run(t.Context(), pool, exp, load.Config{Layout: l, Doc: new(true)})
	require.NoError(t, err)
	reconciletest.RequireSameItems(t, items, reconciletest.TableItems(t, pool, l), "pk")

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
	exp := reconciletest.WriteExport(t, "2024 Contact-Details", reconciletest.T0, 2, items).Open()
	l, err := reconcile.NewLayout("2024 Contact-Details", "Analytics Schema", key)
	require.NoError(t, err)
	require.Equal(t, []string{"target_id", "version"}, l.KeyColumns)
	_, err = load.Run(t.Context(), pool, exp, load.Config{Layout: l})
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
	l := reconciletest.TenureLayout(t, "")
	first := reconciletest.TenureItems(1, 300)
	_, err := load.Run(t.Context(), pool, reconciletest.WriteExport(t, tenure.TableName, reconciletest.T0, 2, first).Open(), load.Config{Layout: l})
	require.NoError(t, err)

	second := reconciletest.TenureItems(2, 700)
	t1 := reconciletest.T0.Add(time.Hour)
	exp2 := reconciletest.WriteExport(t, tenure.TableName, t1, 7, second).Open()

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
	_, err = load.Run(t.Context(), pool, exp2, load.Config{Layout: l, Workers: 2})
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
		require.Contains(t, []string{"300@" + reconciletest.T0.Format(time.RFC3339), "700@" + t1.Format(time.RFC3339)}, k)
		return true
	})
	reconciletest.RequireSameItems(t, second, reconciletest.TableItems(t, pool, l), "id")
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
	l := reconciletest.TenureLayout(t, "")
	items := reconciletest.TenureItems(3, 2000)
	te := reconciletest.WriteExport(t, tenure.TableName, reconciletest.T0, 10, items)

	// Stop the load once some files are in: a crash at an arbitrary point
	// between or inside file transactions. The source holds back the files
	// after the first five until then, so the load cannot finish first
	// however late the canceller runs.
	dirSrc, err := snapshot.NewDirSource(te.Dir)
	require.NoError(t, err)
	stalled, err := snapshot.Open(t.Context(), &stallingSource{Source: dirSrc, files: 5})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	stats := &load.Stats{}
	go func() {
		for stats.FilesDone.Load() < 3 && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err = load.Run(ctx, pool, stalled, load.Config{Layout: l, Workers: 2, Stats: stats})
	require.ErrorIs(t, err, context.Canceled)
	var published bool
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM ddbsync.tables)`).Scan(&published))
	require.False(t, published, "an interrupted first load must publish nothing")

	res, err := load.Run(t.Context(), pool, te.Open(), load.Config{Layout: l, Workers: 2})
	require.NoError(t, err)
	require.GreaterOrEqual(t, res.FilesResumed, 3)
	require.Less(t, res.FilesResumed, 10)
	require.EqualValues(t, 2000, res.Items)
	reconciletest.RequireSameItems(t, items, reconciletest.TableItems(t, pool, l), "id")
}

func TestLoad_RefusesBadExports(t *testing.T) {
	t.Parallel()
	good := reconciletest.TenureItems(4, 40)
	cases := []struct {
		name    string
		damage  func(t *testing.T, e *reconciletest.Export)
		want    error
		message []string
	}{
		{"corrupt gzip", func(t *testing.T, e *reconciletest.Export) {
			raw := e.ReadDataFile(1)
			for i := len(raw) / 3; i < len(raw)/3+40; i++ {
				raw[i] ^= 0x5a
			}
			e.ReplaceDataFile(1, raw, true, -1)
		}, snapshot.ErrCorrupt, []string{"data/"}},
		{"corrupt bytes caught by checksum", func(t *testing.T, e *reconciletest.Export) {
			raw := e.ReadDataFile(0)
			raw[len(raw)/2] ^= 0xff
			e.ReplaceDataFile(0, raw, false, -1)
		}, snapshot.ErrChecksum, []string{"data/", "MD5"}},
		{"truncated file", func(t *testing.T, e *reconciletest.Export) {
			raw := e.ReadDataFile(2)
			e.ReplaceDataFile(2, raw[:len(raw)-30], true, -1)
		}, snapshot.ErrCorrupt, []string{"data/", "truncated"}},
		{"line that is not JSON", func(t *testing.T, e *reconciletest.Export) {
			e.ReplaceDataFile(0, reconciletest.Gz(t, `{"Item":{"id":{"S":"x1"}}}`, `{"Item":{"id":{"S":"x2"}}}`, `not json at all`), true, 3)
		}, snapshot.ErrCorrupt, []string{"data/", "line 3"}},
		{"item without its key", func(t *testing.T, e *reconciletest.Export) {
			e.ReplaceDataFile(0, reconciletest.Gz(t, `{"Item":{"id":{"S":"x1"}}}`, `{"Item":{"other":{"S":"x2"}}}`), true, 2)
		}, ddbjson.ErrMissingKey, []string{"data/", "line 2", `"id"`}},
		{"unknown AttributeValue type", func(t *testing.T, e *reconciletest.Export) {
			e.ReplaceDataFile(0, reconciletest.Gz(t, `{"Item":{"id":{"S":"x1"},"v":{"DATE":"2020"}}}`), true, 1)
		}, ddbjson.ErrUnknownType, []string{"data/", "line 1", "DATE"}},
		{"file item count mismatch", func(t *testing.T, e *reconciletest.Export) {
			lines := e.ManifestLines()
			lines[1]["itemCount"] = lines[1]["itemCount"].(float64) + 1
			e.WriteManifest(lines)
			e.FixTotal(lines)
		}, snapshot.ErrCount, []string{"data/", "holds"}},
		{"total item count mismatch", func(t *testing.T, e *reconciletest.Export) {
			e.EditSummary(func(s map[string]any) { s["itemCount"] = s["itemCount"].(float64) + 5 })
		}, snapshot.ErrCount, []string{"manifest-files.json"}},
		{"data file missing", func(t *testing.T, e *reconciletest.Export) {
			require.NoError(t, os.Remove(e.Dir+"/"+e.DataFile(3)))
		}, snapshot.ErrMissingFile, []string{"data/"}},
		{"manifest key outside the export", func(t *testing.T, e *reconciletest.Export) {
			lines := e.ManifestLines()
			key := lines[0]["dataFileS3Key"].(string)
			lines[0]["dataFileS3Key"] = key[:strings.Index(key, "data/")] + "../../../etc/passwd"
			e.WriteManifest(lines)
		}, snapshot.ErrOutsideExport, []string{"passwd"}},
		{"manifest checksum mismatch", func(t *testing.T, e *reconciletest.Export) {
			require.NoError(t, os.WriteFile(e.Dir+"/manifest-files.checksum", []byte("AAAAAAAAAAAAAAAAAAAAAA=="), 0o644))
		}, snapshot.ErrChecksum, []string{"manifest-files.json"}},
		{"ION export", func(t *testing.T, e *reconciletest.Export) {
			e.EditSummary(func(s map[string]any) { s["outputFormat"] = "ION" })
		}, snapshot.ErrUnsupported, []string{"ION"}},
		{"incremental export", func(t *testing.T, e *reconciletest.Export) {
			e.EditSummary(func(s map[string]any) { s["exportType"] = "INCREMENTAL_EXPORT" })
		}, snapshot.ErrUnsupported, []string{"incremental"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pool := pgtest.New(t)
			l := reconciletest.TenureLayout(t, "")
			// A good copy is already published: a bad export must not touch it.
			_, err := load.Run(t.Context(), pool, reconciletest.WriteExport(t, tenure.TableName, reconciletest.T0, 2, good).Open(), load.Config{Layout: l})
			require.NoError(t, err)

			bad := reconciletest.WriteExport(t, tenure.TableName, reconciletest.T0.Add(time.Hour), 4, reconciletest.TenureItems(5, 40))
			tc.damage(t, bad)
			src, err := snapshot.NewDirSource(bad.Dir)
			require.NoError(t, err)
			exp, err := snapshot.Open(t.Context(), src)
			if err == nil {
				_, err = load.Run(t.Context(), pool, exp, load.Config{Layout: l})
			}
			require.Error(t, err)
			require.True(t, errors.Is(err, tc.want), "error %q is not %v", err, tc.want)
			for _, m := range tc.message {
				require.Contains(t, err.Error(), m)
			}
			reconciletest.RequireSameItems(t, good, reconciletest.TableItems(t, pool, l), "id")
		})
	}
}

func TestLoad_RefusesForeignTable(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	_, err := pool.Exec(t.Context(), `CREATE SCHEMA dynamodb; CREATE TABLE dynamodb.tenure_information (x int); INSERT INTO dynamodb.tenure_information VALUES (42)`)
	require.NoError(t, err)
	exp := reconciletest.WriteExport(t, tenure.TableName, reconciletest.T0, 1, reconciletest.TenureItems(1, 5)).Open()
	_, err = load.Run(t.Context(), pool, exp, load.Config{Layout: reconciletest.TenureLayout(t, "")})
	require.ErrorIs(t, err, reconcile.ErrTableNotOurs)
	var x int
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT x FROM dynamodb.tenure_information`).Scan(&x))
	require.Equal(t, 42, x)
}

func TestLoad_EmptyExport(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	exp := reconciletest.WriteExport(t, tenure.TableName, reconciletest.T0, 3, nil).Open()
	res, err := load.Run(t.Context(), pool, exp, load.Config{Layout: reconciletest.TenureLayout(t, "")})
	require.NoError(t, err)
	require.Zero(t, res.Items)
	var n int
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM dynamodb.tenure_information`).Scan(&n))
	require.Zero(t, n)
}
