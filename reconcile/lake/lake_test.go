package lake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/emulator/emulatortest"
	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/load"
	"github.com/ddbsync/ddbsync/reconcile/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// w0 is the watermark the tests publish at: a day after the export.
var w0 = reconciletest.T0.Add(26*time.Hour + 90*time.Second)

// edgeItems are items at the codec's edges: 38-digit numbers, unicode.
func edgeItems() []ddbjson.Item {
	return []ddbjson.Item{
		{"id": &types.AttributeValueMemberS{Value: "edge-ünïcødé-☃-😀"},
			"big":  &types.AttributeValueMemberN{Value: "12345678901234567890123456789012345678"},
			"tiny": &types.AttributeValueMemberN{Value: "-0.00000000000000000000000000000000000001"},
			"name": &types.AttributeValueMemberS{Value: "Zoë 北京 \u00e9\u0301"},
			"set":  &types.AttributeValueMemberNS{Value: []string{"1", "99999999999999999999999999999999999999"}}},
		{"id": &types.AttributeValueMemberS{Value: "edge-empty"}, "empty": &types.AttributeValueMemberS{Value: ""},
			"b": &types.AttributeValueMemberB{Value: []byte{0, 1, 2, 255}}},
	}
}

// loadTable loads n tenure items and the edge items, and publishes w as
// the copy's watermark (nil: never followed).
func loadTable(t *testing.T, n int, w *time.Time) (*pgxpool.Pool, reconcile.Layout, []ddbjson.Item) {
	t.Helper()
	pool := pgtest.New(t)
	items := append(reconciletest.TenureItems(7, n), edgeItems()...)
	exp := reconciletest.WriteExport(t, tenure.TableName, reconciletest.T0, 2, items).Open()
	l := reconciletest.TenureLayout(t, "")
	_, err := load.Run(t.Context(), pool, exp, load.Config{Layout: l})
	require.NoError(t, err)
	if w != nil {
		require.NoError(t, store.Streams.Begin(t.Context(), pool, tenure.TableName, "arn:stream/1", reconciletest.T0))
		require.NoError(t, store.Streams.SetWatermark(t.Context(), pool, tenure.TableName, *w, ""))
	}
	return pool, l, items
}

func readManifest(t *testing.T, dir string) Manifest {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, ManifestName))
	require.NoError(t, err)
	var m Manifest
	require.NoError(t, json.Unmarshal(raw, &m))
	return m
}

// readParts reads a cut's part files back with parquet-go: one map per
// row, column name → Go value (nil for NULL; []any for a list).
func readParts(t *testing.T, dir string, m Manifest) (cols []string, out []map[string]any) {
	t.Helper()
	for _, f := range m.Files {
		raw, err := os.ReadFile(filepath.Join(dir, f.Name))
		require.NoError(t, err)
		sum := sha256.Sum256(raw)
		require.Equal(t, f.SHA256, hex.EncodeToString(sum[:]), "checksum of %s", f.Name)
		require.EqualValues(t, f.Size, len(raw), "size of %s", f.Name)
		pf, err := parquet.OpenFile(bytesReaderAt(raw), int64(len(raw)))
		require.NoError(t, err)
		require.EqualValues(t, f.Rows, pf.NumRows(), "rows of %s", f.Name)
		leaves := pf.Schema().Columns()
		cols = cols[:0]
		for _, p := range leaves {
			cols = append(cols, p[0])
		}
		r := parquet.NewReader(pf)
		buf := make([]parquet.Row, 64)
		for {
			n, err := r.ReadRows(buf)
			for _, row := range buf[:n] {
				out = append(out, decodeRow(t, pf.Schema(), row))
			}
			if err != nil {
				break
			}
		}
		require.NoError(t, r.Close())
	}
	return cols, out
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(b)) {
		return 0, errors.New("EOF")
	}
	n := copy(p, b[off:])
	return n, nil
}

// decodeRow turns a row into Go values by the file's own schema (its
// logical types), independently of how publish chose them.
func decodeRow(t *testing.T, schema *parquet.Schema, row parquet.Row) map[string]any {
	t.Helper()
	out := map[string]any{}
	byCol := map[int][]parquet.Value{}
	for _, v := range row {
		byCol[v.Column()] = append(byCol[v.Column()], v)
	}
	for i, p := range schema.Columns() {
		leaf, ok := schema.Lookup(p...)
		require.True(t, ok)
		vals := byCol[i]
		if len(p) == 1 { // a plain column
			if vals[0].IsNull() {
				out[p[0]] = nil
				continue
			}
			out[p[0]] = decodeValue(leaf.Node, vals[0])
			continue
		}
		// A list: definition 0 is NULL, 1 empty, 2 a null element.
		if vals[0].DefinitionLevel() == 0 {
			out[p[0]] = nil
			continue
		}
		list := []any{}
		if vals[0].DefinitionLevel() >= 2 {
			for _, v := range vals {
				if v.IsNull() {
					list = append(list, nil)
				} else {
					list = append(list, decodeValue(leaf.Node, v))
				}
			}
		}
		out[p[0]] = list
	}
	return out
}

func decodeValue(n parquet.Node, v parquet.Value) any {
	var lv format.LogicalTypeValue
	if lt := n.Type().LogicalType(); lt != nil {
		lv = lt.Value
	}
	switch lt := lv.(type) {
	case *format.DecimalType:
		b := v.ByteArray()
		x := new(big.Int).SetBytes(b)
		if len(b) > 0 && b[0]&0x80 != 0 {
			x.Sub(x, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
		}
		r := new(big.Rat).SetFrac(x, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(lt.Scale)), nil))
		return r.FloatString(int(lt.Scale))
	case *format.DateType:
		return time.Unix(int64(v.Int32())*86400, 0).UTC().Format("2006-01-02")
	case *format.TimestampType:
		return time.UnixMicro(v.Int64()).UTC()
	case *format.StringType, *format.JsonType:
		return string(v.ByteArray())
	}
	switch v.Kind() {
	case parquet.Boolean:
		return v.Boolean()
	case parquet.Int32:
		return int64(v.Int32())
	case parquet.Int64:
		return v.Int64()
	case parquet.Double:
		return v.Double()
	case parquet.Float:
		return float64(v.Float())
	}
	return slices.Clone(v.ByteArray())
}

func TestPublish_KeyAndItem_RoundTrip(t *testing.T) {
	t.Parallel()
	pool, l, items := loadTable(t, 45, &w0)
	out := t.TempDir()
	res, err := Publish(t.Context(), pool, Config{Table: tenure.TableName, To: out, ViewSchema: "analytics", RowsPerFile: 20, Version: "test"})
	require.NoError(t, err)

	dir := filepath.Join(out, "TenureInformation", "import_year=2026", "import_month=11", "import_day=02", "import_date=20261102")
	require.Equal(t, dir, res.Location)
	require.FileExists(t, filepath.Join(dir, SuccessName))
	m := readManifest(t, dir)
	require.Equal(t, res.Manifest, m)
	require.Equal(t, tenure.TableName, m.Table)
	require.Equal(t, "dynamodb.tenure_information", m.Relation)
	require.True(t, w0.Equal(m.Instant), "instant %s", m.Instant)
	require.Equal(t, "watermark", m.InstantIs)
	require.EqualValues(t, len(items), m.Rows)
	require.Len(t, m.Files, 3) // 47 rows, 20 a file
	require.Equal(t, []ManifestCol{{"id", "text", "STRING"}, {"item", "jsonb", "JSON"}}, m.Columns)
	require.Equal(t, "test", m.Version)

	cols, rows := readParts(t, dir, m)
	require.Equal(t, []string{"id", "item"}, cols, "columns in the table's order, the key first")
	got := map[string]ddbjson.Item{}
	var ids []string
	for _, r := range rows {
		item, err := ddbjson.DecodeItem([]byte(r["item"].(string)))
		require.NoError(t, err)
		got[r["id"].(string)] = item
		ids = append(ids, r["id"].(string))
	}
	require.True(t, sort.StringsAreSorted(ids), "rows come in key order")
	reconciletest.RequireSameItems(t, items, got, "id")
	require.Equal(t, reconciletest.TableItems(t, pool, l), got)

	entries, err := os.ReadDir(filepath.Dir(dir))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no staging folder is left beside the cut")
}

func TestPublish_NeverFollowed_IsAsOfTheExport(t *testing.T) {
	t.Parallel()
	pool, _, items := loadTable(t, 3, nil)
	res, err := Publish(t.Context(), pool, Config{Table: tenure.TableName, To: t.TempDir()})
	require.NoError(t, err)
	require.Equal(t, "export_time", res.Manifest.InstantIs)
	require.True(t, reconciletest.T0.Equal(res.Manifest.Instant))
	require.Contains(t, res.Location, "import_date=20261101")
	require.EqualValues(t, len(items), res.Manifest.Rows)
}

// typedViewSQL creates a stand-in for the typed view section 1 generates:
// every column type publish maps, with nulls, unicode and 38-digit numbers.
const typedViewSQL = `
CREATE SCHEMA analytics;
CREATE TABLE public.typed_rows (
	id text, n_int integer, n_big bigint, n_small smallint, amount numeric(12,2), exact numeric(38,0),
	wide numeric, flag boolean, born date, at timestamptz, local_at timestamp, raw bytea, doc jsonb,
	tags text[], nums numeric[], counts bigint[], ratio double precision, uid uuid);
INSERT INTO public.typed_rows VALUES
	('a-ünï☃', 42, 9223372036854775807, -7, 1234567890.12, 99999999999999999999999999999999999999,
	 12345678901234567890123456789012345678, true, '2024-02-29', '2026-11-30 23:59:59.123456+00', '1999-12-31 12:00:00',
	 '\x00ff10', '{"k": [1, "two", null], "u": "北京"}', ARRAY['x', NULL, 'ÿ'], ARRAY[1.5, -0.000000000000000000000000000000000001],
	 ARRAY[1, -2]::bigint[], 0.25, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
	('b', NULL, NULL, NULL, -0.01, -12345678901234567890123456789012345678, -1e-130, false, '1901-01-01',
	 '1970-01-01 00:00:00+00', NULL, '\x', 'null', '{}', NULL, ARRAY[NULL]::bigint[], NULL, NULL),
	('c', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
CREATE VIEW analytics.tenure_information AS SELECT * FROM public.typed_rows;
`

// wantTyped is typed_rows as the Parquet files must hold it, decoded by
// decodeRow.
var wantTyped = []map[string]any{
	{"id": "a-ünï☃", "n_int": int64(42), "n_big": int64(9223372036854775807), "n_small": int64(-7), "amount": "1234567890.12",
		"exact": "99999999999999999999999999999999999999", "wide": "12345678901234567890123456789012345678", "flag": true,
		"born": "2024-02-29", "at": time.Date(2026, 11, 30, 23, 59, 59, 123456000, time.UTC),
		"local_at": time.Date(1999, 12, 31, 12, 0, 0, 0, time.UTC), "raw": []byte{0, 0xff, 0x10},
		"doc": `{"k": [1, "two", null], "u": "北京"}`, "tags": []any{"x", nil, "ÿ"},
		"nums": []any{"1.5", "-0.000000000000000000000000000000000001"}, "counts": []any{int64(1), int64(-2)}, "ratio": 0.25,
		"uid": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
	{"id": "b", "n_int": nil, "n_big": nil, "n_small": nil, "amount": "-0.01", "exact": "-12345678901234567890123456789012345678",
		"wide": "-" + "0." + fmt.Sprintf("%0130d", 1), "flag": false, "born": "1901-01-01",
		"at": time.Unix(0, 0).UTC(), "local_at": nil, "raw": []byte{}, "doc": "null", "tags": []any{}, "nums": nil,
		"counts": []any{nil}, "ratio": nil, "uid": nil},
	{"id": "c", "n_int": nil, "n_big": nil, "n_small": nil, "amount": nil, "exact": nil, "wide": nil, "flag": nil, "born": nil,
		"at": nil, "local_at": nil, "raw": nil, "doc": nil, "tags": nil, "nums": nil, "counts": nil, "ratio": nil, "uid": nil},
}

func TestPublish_TypedView_RoundTrip(t *testing.T) {
	t.Parallel()
	pool, _, _ := loadTable(t, 2, &w0)
	_, err := pool.Exec(t.Context(), typedViewSQL)
	require.NoError(t, err)
	out := t.TempDir()
	res, err := Publish(t.Context(), pool, Config{Table: tenure.TableName, To: out, ViewSchema: "analytics"})
	require.NoError(t, err)
	m := res.Manifest
	require.Equal(t, "analytics.tenure_information", m.Relation)
	types := map[string]string{}
	for _, c := range m.Columns {
		types[c.Name] = c.PostgreSQL + " → " + c.ParquetType
	}
	require.Equal(t, map[string]string{
		"id": "text → STRING", "n_int": "integer → INT32", "n_big": "bigint → INT64", "n_small": "smallint → INT32",
		"amount": "numeric(12,2) → DECIMAL(12,2)", "exact": "numeric(38,0) → DECIMAL(38,0)", "wide": "numeric → STRING",
		"flag": "boolean → BOOLEAN", "born": "date → DATE", "at": "timestamp with time zone → TIMESTAMP(MICROS,UTC)",
		"local_at": "timestamp without time zone → TIMESTAMP(MICROS)", "raw": "bytea → BYTE_ARRAY", "doc": "jsonb → JSON",
		"tags": "text[] → LIST<STRING>", "nums": "numeric[] → LIST<STRING>", "counts": "bigint[] → LIST<INT64>",
		"ratio": "double precision → DOUBLE", "uid": "uuid → STRING",
	}, types)

	cols, rows := readParts(t, res.Location, m)
	require.Equal(t, []string{"id", "n_int", "n_big", "n_small", "amount", "exact", "wide", "flag", "born", "at", "local_at",
		"raw", "doc", "tags", "nums", "counts", "ratio", "uid"}, cols, "the view's column order")
	require.Equal(t, wantTyped, rows)

	t.Run("hyparquet", func(t *testing.T) { requireHyparquetReads(t, res.Location, m) })
}

func TestPublish_AsOf(t *testing.T) {
	t.Parallel()
	pool, _, _ := loadTable(t, 3, &w0)
	ctx := t.Context()
	before := w0.Add(-20 * time.Hour)

	_, err := Publish(ctx, pool, Config{Table: tenure.TableName, To: t.TempDir(), AsOf: &before})
	require.ErrorIs(t, err, ErrNoHistory)
	require.ErrorContains(t, err, "history is not kept for table TenureInformation")
	require.ErrorContains(t, err, "dynamodb.tenure_information_as_of(timestamptz) does not exist")
	var te *reconcile.TableError
	require.ErrorAs(t, err, &te)

	// A stand-in for section 2's history: the function answers with the
	// rows valid at ts, and refuses ts at or after W itself.
	_, err = pool.Exec(ctx, `
		CREATE TABLE public.versions (id text, item jsonb, valid_from timestamptz, valid_to timestamptz);
		INSERT INTO public.versions VALUES
			('old', '{"id":{"S":"old"},"v":{"N":"1"}}', '2026-11-01 12:00+00', '2026-11-01 18:00+00'),
			('old', '{"id":{"S":"old"},"v":{"N":"2"}}', '2026-11-01 18:00+00', NULL),
			('gone', '{"id":{"S":"gone"}}', '2026-11-01 12:00+00', '2026-11-01 13:00+00');
		CREATE FUNCTION dynamodb.tenure_information_as_of(ts timestamptz) RETURNS TABLE (id text, item jsonb)
		LANGUAGE plpgsql STABLE AS $$
		BEGIN
			IF ts >= (SELECT watermark FROM ddbsync.streams WHERE table_name = 'TenureInformation') THEN
				RAISE EXCEPTION 'not before W';
			END IF;
			RETURN QUERY SELECT v.id, v.item FROM public.versions v
				WHERE v.valid_from <= ts AND (v.valid_to IS NULL OR v.valid_to > ts);
		END $$;`)
	require.NoError(t, err)

	out := t.TempDir()
	res, err := Publish(ctx, pool, Config{Table: tenure.TableName, To: out, AsOf: &before})
	require.NoError(t, err)
	require.Equal(t, "as_of", res.Manifest.InstantIs)
	require.True(t, before.Equal(res.Manifest.Instant))
	require.Equal(t, "dynamodb.tenure_information_as_of(2026-11-01T18:01:30Z)", res.Manifest.Relation)
	require.Contains(t, res.Location, "import_date=20261101")
	_, rows := readParts(t, res.Location, res.Manifest)
	require.Equal(t, []map[string]any{{"id": "old", "item": `{"v": {"N": "2"}, "id": {"S": "old"}}`}}, rows)

	for _, at := range []time.Time{w0, w0.Add(time.Microsecond), w0.Add(48 * time.Hour)} {
		_, err = Publish(ctx, pool, Config{Table: tenure.TableName, To: out, AsOf: &at})
		require.ErrorIs(t, err, ErrNotProven, "as of %s", at)
		require.ErrorContains(t, err, "is not before its watermark W 2026-11-02T14:01:30Z")
	}
	early := reconciletest.T0.Add(-time.Second)
	_, err = Publish(ctx, pool, Config{Table: tenure.TableName, To: out, AsOf: &early})
	require.ErrorIs(t, err, ErrNoHistory)
	require.ErrorContains(t, err, "before the export the copy was loaded from")
}

func TestPublish_NotLoaded(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	_, err := Publish(t.Context(), pool, Config{Table: "Nope", To: t.TempDir()})
	require.ErrorIs(t, err, reconcile.ErrNotLoaded)
}

func TestPublish_FailureMidway_LeavesThePreviousCutWhole(t *testing.T) {
	t.Parallel()
	pool, _, items := loadTable(t, 30, &w0)
	out := t.TempDir()
	first, err := Publish(t.Context(), pool, Config{Table: tenure.TableName, To: out, RowsPerFile: 100})
	require.NoError(t, err)
	before := readManifest(t, first.Location)

	boom := errors.New("disk gone")
	_, err = Publish(t.Context(), pool, Config{Table: tenure.TableName, To: out, RowsPerFile: 10,
		afterPart: func(name string) error {
			if name == partName(1) {
				return boom
			}
			return nil
		}})
	require.ErrorIs(t, err, boom)
	require.ErrorContains(t, err, "no _SUCCESS written")
	require.Equal(t, before, readManifest(t, first.Location), "the previous cut is untouched")
	require.FileExists(t, filepath.Join(first.Location, SuccessName))
	entries, err := os.ReadDir(filepath.Dir(first.Location))
	require.NoError(t, err)
	require.Len(t, entries, 1, "the failed run's folder is gone")

	// A rerun replaces the cut whole: 4 parts of 10, none of the old one.
	again, err := Publish(t.Context(), pool, Config{Table: tenure.TableName, To: out, RowsPerFile: 10})
	require.NoError(t, err)
	require.Len(t, again.Manifest.Files, 4)
	names, err := filepath.Glob(filepath.Join(again.Location, "*"))
	require.NoError(t, err)
	require.Len(t, names, 6, "4 parts, the manifest and _SUCCESS: %v", names)
	_, rows := readParts(t, again.Location, again.Manifest)
	require.Len(t, rows, len(items))
}

func TestPublish_S3(t *testing.T) {
	t.Parallel()
	pool, _, items := loadTable(t, 25, &w0)
	ctx := t.Context()
	client := emulatortest.Start(t).S3()
	_, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("lake")})
	require.NoError(t, err)
	// Something of the user's beside the cut, which a rerun must keep.
	prefix := "raw/ddb/TenureInformation/import_year=2026/import_month=11/import_day=02/import_date=20261102/"
	_, err = client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String(prefix + "README.txt"),
		Body: bytesReader("mine")})
	require.NoError(t, err)

	publish := func(rowsPerFile int64, afterPart func(string) error) (Result, error) {
		return Publish(ctx, pool, Config{Table: tenure.TableName, To: "s3://lake/raw/ddb/", S3: client, RowsPerFile: rowsPerFile,
			afterPart: afterPart})
	}
	res, err := publish(10, nil)
	require.NoError(t, err)
	require.Equal(t, "s3://lake/"+prefix, res.Location)
	require.Len(t, res.Manifest.Files, 3)
	require.Equal(t, []string{"README.txt", SuccessName, ManifestName, "part-00000.parquet", "part-00001.parquet", "part-00002.parquet"},
		listS3(t, client, prefix))

	// The objects are the files the manifest describes.
	dir := t.TempDir()
	for _, name := range append([]string{ManifestName}, partName(0), partName(1), partName(2)) {
		obj, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("lake"), Key: aws.String(prefix + name)})
		require.NoError(t, err)
		f, err := os.Create(filepath.Join(dir, name))
		require.NoError(t, err)
		_, err = f.ReadFrom(obj.Body)
		require.NoError(t, err)
		require.NoError(t, f.Close())
		obj.Body.Close()
	}
	require.Equal(t, res.Manifest, readManifest(t, dir))
	_, rows := readParts(t, dir, res.Manifest)
	require.Len(t, rows, len(items))

	// A run that fails midway leaves no _SUCCESS (nor a manifest).
	_, err = publish(10, func(name string) error {
		if name == partName(1) {
			return errors.New("network gone")
		}
		return nil
	})
	require.Error(t, err)
	require.NotContains(t, listS3(t, client, prefix), SuccessName)
	require.NotContains(t, listS3(t, client, prefix), ManifestName)

	// A rerun with bigger files replaces the cut, stale parts and all.
	res, err = publish(100, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"README.txt", SuccessName, ManifestName, "part-00000.parquet"}, listS3(t, client, prefix))
	require.EqualValues(t, len(items), res.Manifest.Rows)
}

func listS3(t *testing.T, client *s3.Client, prefix string) []string {
	t.Helper()
	out, err := client.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("lake"), Prefix: aws.String(prefix)})
	require.NoError(t, err)
	var names []string
	for _, o := range out.Contents {
		names = append(names, filepath.Base(aws.ToString(o.Key)))
	}
	sort.Strings(names)
	return names
}

func TestPublish_ValueWithoutParquetForm_StopsWithoutSuccess(t *testing.T) {
	t.Parallel()
	pool, _, _ := loadTable(t, 2, &w0)
	_, err := pool.Exec(t.Context(), `CREATE SCHEMA analytics;
		CREATE VIEW analytics.tenure_information AS SELECT * FROM (VALUES ('a', 1.5::numeric(5,2)), ('b', 'NaN'::numeric(5,2))) v (id, price)`)
	require.NoError(t, err)
	out := t.TempDir()
	_, err = Publish(t.Context(), pool, Config{Table: tenure.TableName, To: out, ViewSchema: "analytics"})
	require.ErrorContains(t, err, "row 2 of analytics.tenure_information: column price: NaN and infinity have no Parquet DECIMAL")
	require.ErrorContains(t, err, "no _SUCCESS written")
	var files []string
	require.NoError(t, filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	}))
	require.Empty(t, files, "nothing is left behind")
}
