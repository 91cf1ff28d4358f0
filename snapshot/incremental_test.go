package snapshot_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/snapshot"
)

// sampleChanges are an insert, an update, a delete and an item of every
// type, with write times that need all six microsecond digits.
func sampleChanges() []snapshot.Change {
	at := func(us int64) time.Time { return windowFrom.Add(time.Duration(us) * time.Microsecond) }
	key := func(id string) map[string]types.AttributeValue { return map[string]types.AttributeValue{"id": str(id)} }
	every := sampleItems(0)[0]
	return []snapshot.Change{
		{Keys: key("ins"), WriteTime: at(1), NewImage: map[string]types.AttributeValue{"id": str("ins"), "v": num("1")}},
		{Keys: key("upd"), WriteTime: at(123_456_789), OldImage: map[string]types.AttributeValue{"id": str("upd"), "v": num("1")},
			NewImage: map[string]types.AttributeValue{"id": str("upd"), "v": num("2"), "w": str("x")}},
		{Keys: key("del"), WriteTime: at(3_599_999_999), OldImage: map[string]types.AttributeValue{"id": str("del")}},
		{Keys: key("every-type"), WriteTime: at(42), NewImage: every},
	}
}

func TestIncremental_RoundTrip(t *testing.T) {
	t.Parallel()
	changes := sampleChanges()
	x := writeIncr(t, snapshot.IncrementalWriterConfig{Prefix: "exports/incr", Files: 3}, changes)
	e := x.mustOpen(t)

	require.Equal(t, windowFrom, e.From)
	require.Equal(t, windowTo, e.To)
	require.Equal(t, snapshot.ViewNewAndOldImages, e.View)
	require.Equal(t, []string{"manifest-summary.checksum", "manifest-files.checksum"}, e.Verified)
	require.Equal(t, x.sum.ExportArn, e.ID())
	typ, err := e.Summary.Type()
	require.NoError(t, err)
	require.Equal(t, snapshot.ExportTypeIncremental, typ)
	require.Equal(t, "NEW_AND_OLD_IMAGES", e.Summary.OutputView)
	require.Nil(t, e.Summary.ExportTime)
	require.EqualValues(t, len(changes), e.Summary.ItemCount)
	require.Len(t, e.Files, 3)
	for _, f := range e.Files {
		require.Regexp(t, `^exports/incr/AWSDynamoDB/data/[a-z2-7]{26}\.json\.gz$`, f.DataFileS3Key, "the shared data folder")
		require.Regexp(t, `^\.\./data/[a-z2-7]{26}\.json\.gz$`, f.Name)
	}
	_, err = os.Stat(filepath.Join(x.folder, "_started"))
	require.NoError(t, err)

	got, err := readChanges(t, e)
	require.NoError(t, err)
	require.ElementsMatch(t, encodeChanges(t, changes), encodeChanges(t, got))
	for _, c := range got {
		if c.Keys["id"].(*types.AttributeValueMemberS).Value == "upd" {
			require.Equal(t, windowFrom.UnixMicro()+123_456_789, c.WriteTime.UnixMicro(), "exact to the microsecond")
			require.Equal(t, time.UTC, c.WriteTime.Location())
		}
		require.Equal(t, c.Keys["id"].(*types.AttributeValueMemberS).Value == "del", c.Deleted())
	}

	sum, err := snapshot.ReadSummary(t.Context(), mustDirSource(t, x.folder))
	require.NoError(t, err)
	require.Equal(t, "INCREMENTAL_EXPORT", sum.ExportType)
}

func mustDirSource(t *testing.T, dir string) *snapshot.DirSource {
	t.Helper()
	src, err := snapshot.NewDirSource(dir)
	require.NoError(t, err)
	return src
}

func TestIncremental_DeleteLine(t *testing.T) {
	t.Parallel()
	x := writeIncr(t, snapshot.IncrementalWriterConfig{Files: 1}, sampleChanges()[:1])
	x.replaceData(t, `{"Metadata":{"WriteTimestampMicros":{"N":"1715000000000001"}},"Keys":{"id":{"S":"gone"}},"OldImage":{"id":{"S":"gone"},"v":{"N":"7"}}}`+"\n", 1)
	got, err := readChanges(t, x.mustOpen(t))
	require.NoError(t, err)
	require.Len(t, got, 1)
	c := got[0]
	require.True(t, c.Deleted())
	require.Nil(t, c.NewImage)
	require.Equal(t, map[string]types.AttributeValue{"id": str("gone"), "v": num("7")}, c.OldImage)
	require.Equal(t, time.UnixMicro(1715000000000001).UTC(), c.WriteTime)
}

func TestIncremental_NewImageView(t *testing.T) {
	t.Parallel()
	var changes []snapshot.Change
	for _, c := range sampleChanges() {
		c.OldImage = nil
		changes = append(changes, c)
	}
	x := writeIncr(t, snapshot.IncrementalWriterConfig{View: snapshot.ViewNewImage, Files: 2}, changes)
	e := x.mustOpen(t)
	require.Equal(t, snapshot.ViewNewImage, e.View)
	got, err := readChanges(t, e)
	require.NoError(t, err)
	require.ElementsMatch(t, encodeChanges(t, changes), encodeChanges(t, got))

	w, err := snapshot.NewIncrementalWriter(t.Context(), snapshot.DirSink(t.TempDir()),
		snapshot.IncrementalWriterConfig{TableArn: tableArn, From: windowFrom, To: windowTo, View: snapshot.ViewNewImage})
	require.NoError(t, err)
	require.ErrorContains(t, w.Write(sampleChanges()[1]), "OldImage")
	_, err = w.Close(t.Context())
	require.NoError(t, err)

	// AWS's prose spells it NEW_IMAGES; read as NEW_IMAGE.
	x.editSummary(t, func(s map[string]any) { s["outputView"] = "NEW_IMAGES" })
	require.Equal(t, snapshot.ViewNewImage, x.mustOpen(t).View)

	// An OldImage in a NEW_IMAGE export: the file is not what the manifest says.
	x = writeIncr(t, snapshot.IncrementalWriterConfig{View: snapshot.ViewNewImage, Files: 1}, changes[:1])
	x.replaceData(t, `{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{"id":{"S":"a"}},"NewImage":{"id":{"S":"a"}}}`+"\n"+
		`{"Metadata":{"WriteTimestampMicros":{"N":"2"}},"Keys":{"id":{"S":"b"}},"OldImage":{"id":{"S":"b"}}}`+"\n", 2)
	e = x.mustOpen(t)
	_, err = readChanges(t, e)
	requireFileError(t, err, snapshot.ErrCorrupt, e.Files[0].Name, 2)
	require.Contains(t, err.Error(), "OldImage in an export whose outputView is NEW_IMAGE")
}

func TestIncremental_CorruptDataFileMD5(t *testing.T) {
	t.Parallel()
	x := writeIncr(t, snapshot.IncrementalWriterConfig{Files: 1}, sampleChanges())
	p := x.dataPath(t, 0)
	raw, err := os.ReadFile(p)
	require.NoError(t, err)
	raw[len(raw)/2] ^= 0xff
	require.NoError(t, os.WriteFile(p, raw, 0o644))
	e := x.mustOpen(t)
	_, err = readChanges(t, e)
	requireFileError(t, err, snapshot.ErrChecksum, e.Files[0].Name, 0)
	require.True(t, strings.HasPrefix(err.Error(), "../data/"), err.Error())
}

func TestIncremental_WrongCount(t *testing.T) {
	t.Parallel()
	x := writeIncr(t, snapshot.IncrementalWriterConfig{Files: 1}, sampleChanges())
	lines := x.manifestLines(t)
	lines[0]["itemCount"] = 5
	x.writeManifest(t, lines)

	_, err := x.open(t)
	requireFileError(t, err, snapshot.ErrCount, snapshot.FilesName, 0)

	x.editSummary(t, func(s map[string]any) { s["itemCount"] = 5 })
	e := x.mustOpen(t)
	_, err = readChanges(t, e)
	requireFileError(t, err, snapshot.ErrCount, e.Files[0].Name, 0)
	require.Contains(t, err.Error(), "file holds 4 items, manifest-files.json says 5")
}

func TestIncremental_BadLineNamesFileAndLine(t *testing.T) {
	t.Parallel()
	good := `{"Metadata":{"WriteTimestampMicros":{"N":"1715000000000000"}},"Keys":{"id":{"S":"a"}},"NewImage":{"id":{"S":"a"}}}`
	for _, tc := range []struct {
		name, line, msg string
	}{
		{"full export line", `{"Item":{"id":{"S":"a"}}}`, `unexpected member "Item"`},
		{"not an object", `[1]`, "not a JSON object"},
		{"no Keys", `{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"NewImage":{"id":{"S":"a"}}}`, `no "Keys"`},
		{"empty Keys", `{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{}}`, "Keys is empty"},
		{"set as a key", `{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{"id":{"SS":["a"]}}}`, "key attributes are S, N or B"},
		{"no Metadata", `{"Keys":{"id":{"S":"a"}}}`, `no "Metadata"`},
		{"no timestamp", `{"Metadata":{},"Keys":{"id":{"S":"a"}}}`, "Metadata has no WriteTimestampMicros"},
		{"fractional timestamp", `{"Metadata":{"WriteTimestampMicros":{"N":"1.5"}},"Keys":{"id":{"S":"a"}}}`, "digits only"},
		{"negative timestamp", `{"Metadata":{"WriteTimestampMicros":-1},"Keys":{"id":{"S":"a"}}}`, "digits only"},
		{"timestamp of type S", `{"Metadata":{"WriteTimestampMicros":{"S":"1"}},"Keys":{"id":{"S":"a"}}}`, "want a number"},
		{"timestamp too large", `{"Metadata":{"WriteTimestampMicros":{"N":"99999999999999999999"}},"Keys":{"id":{"S":"a"}}}`, "out of range"},
		{"duplicate member", `{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{"id":{"S":"a"}},"Keys":{"id":{"S":"a"}}}`, `duplicate member "Keys"`},
		{"trailing data", good + ` {}`, "unexpected data after"},
		{"bad image", `{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{"id":{"S":"a"}},"NewImage":{"id":{"X":"a"}}}`, "NewImage: "},
		{"key differs from image", `{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{"id":{"S":"a"}},"NewImage":{"id":{"S":"b"}}}`, `NewImage's key attribute "id" differs from the one in Keys`},
		{"image lacks key", `{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{"id":{"S":"a"}},"OldImage":{"v":{"S":"b"}}}`, `OldImage lacks key attribute "id"`},
		{"truncated", good[:40], ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x := writeIncr(t, snapshot.IncrementalWriterConfig{Files: 1}, nil)
			x.replaceData(t, good+"\n\n"+tc.line+"\n"+good+"\n", 3)
			e := x.mustOpen(t)
			_, err := readChanges(t, e)
			requireFileError(t, err, snapshot.ErrCorrupt, e.Files[0].Name, 3)
			require.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestIncremental_LenientForms(t *testing.T) {
	t.Parallel()
	// A bare-number timestamp, null images, and unknown Metadata members
	// are read; a Keys-only line is a delete.
	x := writeIncr(t, snapshot.IncrementalWriterConfig{Files: 1}, nil)
	x.replaceData(t, `{"Metadata":{"WriteTimestampMicros":1715000000000007,"Other":1},"Keys":{"id":{"N":"1"}},"OldImage":null,"NewImage":{"id":{"N":"1"}}}`+"\n"+
		`{"Keys":{"id":{"N":"2"}},"NewImage":null,"Metadata":{"WriteTimestampMicros":{"N":"1715000000000008"}}}`, 2)
	got, err := readChanges(t, x.mustOpen(t))
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, int64(1715000000000007), got[0].WriteTime.UnixMicro())
	require.Nil(t, got[0].OldImage)
	require.False(t, got[0].Deleted())
	require.True(t, got[1].Deleted())
	require.Nil(t, got[1].OldImage)
}

func TestIncremental_SummaryTypeAndFields(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		edit     func(map[string]any)
		sentinel error
		msg      string
	}{
		{"unknown exportType", func(s map[string]any) { s["exportType"] = "SOMETHING_NEW" }, snapshot.ErrUnsupported, `exportType "SOMETHING_NEW" is neither`},
		{"exportType missing", func(s map[string]any) { delete(s, "exportType") }, snapshot.ErrCorrupt, "exportType is missing"},
		{"a full export", func(s map[string]any) {
			for _, k := range []string{"exportType", "exportFromTime", "exportToTime", "outputView"} {
				delete(s, k)
			}
		}, snapshot.ErrUnsupported, "this is a full export"},
		{"exportFromTime missing", func(s map[string]any) { delete(s, "exportFromTime") }, snapshot.ErrCorrupt, "exportFromTime is missing"},
		{"exportToTime missing", func(s map[string]any) { delete(s, "exportToTime") }, snapshot.ErrCorrupt, "exportToTime is missing"},
		{"window inverted", func(s map[string]any) { s["exportToTime"] = s["exportFromTime"] }, snapshot.ErrCorrupt, "is not after exportFromTime"},
		{"outputView missing", func(s map[string]any) { delete(s, "outputView") }, snapshot.ErrCorrupt, "outputView is missing"},
		{"outputView unknown", func(s map[string]any) { s["outputView"] = "KEYS_ONLY" }, snapshot.ErrUnsupported, `outputView "KEYS_ONLY"`},
		{"ION", func(s map[string]any) { s["outputFormat"] = "ION" }, snapshot.ErrUnsupported, "ION"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x := writeIncr(t, snapshot.IncrementalWriterConfig{Files: 1}, sampleChanges())
			x.editSummary(t, tc.edit)
			_, err := x.open(t)
			requireFileError(t, err, tc.sentinel, snapshot.SummaryName, 0)
			require.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestIncremental_OpenRefusesAndOpenIncrementalRefuses(t *testing.T) {
	t.Parallel()
	x := writeIncr(t, snapshot.IncrementalWriterConfig{}, sampleChanges())
	_, err := snapshot.Open(t.Context(), mustDirSource(t, x.folder))
	requireFileError(t, err, snapshot.ErrUnsupported, snapshot.SummaryName, 0)
	require.Contains(t, err.Error(), "incremental")

	dir := t.TempDir()
	writeSample(t, snapshot.DirSink(dir), snapshot.WriterConfig{TableArn: tableArn, ExportTime: exportTime}, sampleItems(3))
	_, err = snapshot.OpenIncremental(t.Context(), mustDirSource(t, dir))
	requireFileError(t, err, snapshot.ErrUnsupported, snapshot.SummaryName, 0)
	require.Contains(t, err.Error(), "full export")
	sum, err := snapshot.ReadSummary(t.Context(), mustDirSource(t, dir))
	require.NoError(t, err)
	typ, err := sum.Type()
	require.NoError(t, err)
	require.Equal(t, snapshot.ExportTypeFull, typ)
}

func TestIncremental_DataFileKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, key string
		want      error // nil: accepted
	}{
		{"shared data folder", "AWSDynamoDB/data/a.json.gz", nil},
		{"inside the export folder", "AWSDynamoDB/<id>/data/a.json.gz", nil},
		{"another export's folder", "AWSDynamoDB/01700000000000-ffffffff/data/a.json.gz", snapshot.ErrOutsideExport},
		{"above the shared folder", "AWSDynamoDB/data/../../a.json.gz", snapshot.ErrOutsideExport},
		{"another prefix", "other/AWSDynamoDB/data/a.json.gz", snapshot.ErrOutsideExport},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x := writeIncr(t, snapshot.IncrementalWriterConfig{Files: 1, Prefix: "pre"}, nil)
			lines := x.manifestLines(t)
			lines[0]["dataFileS3Key"] = "pre/" + strings.ReplaceAll(tc.key, "<id>", filepath.Base(x.folder))
			x.writeManifest(t, lines)
			_, err := x.open(t)
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			requireFileError(t, err, tc.want, snapshot.FilesName, 1)
		})
	}
}

// plainSource is a Source that cannot reach the folder above its own.
type plainSource struct{ snapshot.Source }

func TestIncremental_SourceWithoutParent(t *testing.T) {
	t.Parallel()
	x := writeIncr(t, snapshot.IncrementalWriterConfig{}, sampleChanges())
	_, err := snapshot.OpenIncremental(t.Context(), plainSource{mustDirSource(t, x.folder)})
	requireFileError(t, err, snapshot.ErrMissingFile, snapshot.FilesName, 0)
	require.Contains(t, err.Error(), "shared data folder")
}

func TestIncremental_S3Source(t *testing.T) {
	t.Parallel()
	sink := &memSink{files: map[string][]byte{}}
	changes := sampleChanges()
	w, err := snapshot.NewIncrementalWriter(t.Context(), sink, snapshot.IncrementalWriterConfig{
		TableArn: tableArn, From: windowFrom, To: windowTo, Prefix: "p/q", Files: 2})
	require.NoError(t, err)
	for _, c := range changes {
		require.NoError(t, w.Write(c))
	}
	_, err = w.Close(t.Context())
	require.NoError(t, err)
	objects := map[string][]byte{}
	for name, b := range sink.files {
		objects["p/q/AWSDynamoDB/"+name] = b
	}
	var requested []string
	src, err := snapshot.NewS3Source(bucket(t, "bkt", objects, &requested), "s3://bkt/"+w.FolderKey()+"/")
	require.NoError(t, err)
	e, err := snapshot.OpenIncremental(t.Context(), src)
	require.NoError(t, err)
	got, err := readChanges(t, e)
	require.NoError(t, err)
	require.ElementsMatch(t, encodeChanges(t, changes), encodeChanges(t, got))
	require.Contains(t, requested, "p/q/AWSDynamoDB/"+strings.TrimPrefix(e.Files[0].Name, "../"))
}

func TestSource_Parent(t *testing.T) {
	t.Parallel()
	s3src, err := snapshot.NewS3Source(fakeS3{}, "s3://bkt/a/b/")
	require.NoError(t, err)
	up, err := s3src.Parent()
	require.NoError(t, err)
	require.Equal(t, "s3://bkt/a/", up.String())
	up, err = up.(snapshot.ParentSource).Parent()
	require.NoError(t, err)
	require.Equal(t, "s3://bkt/", up.String())
	_, err = up.(snapshot.ParentSource).Parent()
	require.Error(t, err, "the bucket has no folder above it")

	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644))
	up, err = mustDirSource(t, filepath.Join(dir, "sub")).Parent()
	require.NoError(t, err)
	rc, err := up.Open(context.Background(), "f")
	require.NoError(t, err)
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	require.Equal(t, "x", string(b))
}

func TestNewIncrementalWriter_RejectsBadConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]snapshot.IncrementalWriterConfig{
		"no table":    {From: windowFrom, To: windowTo},
		"no window":   {TableArn: tableArn},
		"inverted":    {TableArn: tableArn, From: windowTo, To: windowFrom},
		"bad view":    {TableArn: tableArn, From: windowFrom, To: windowTo, View: "KEYS_ONLY"},
		"bad suffix":  {TableArn: tableArn, From: windowFrom, To: windowTo, ChecksumSuffix: ".sha1"},
		"empty frame": {TableArn: tableArn, From: windowFrom, To: windowFrom},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := snapshot.NewIncrementalWriter(t.Context(), snapshot.DirSink(t.TempDir()), cfg)
			require.Error(t, err)
		})
	}
	w, err := snapshot.NewIncrementalWriter(t.Context(), snapshot.DirSink(t.TempDir()),
		snapshot.IncrementalWriterConfig{TableArn: tableArn, From: windowFrom, To: windowTo})
	require.NoError(t, err)
	require.ErrorContains(t, w.Write(snapshot.Change{WriteTime: windowFrom}), "no Keys")
	require.ErrorContains(t, w.Write(snapshot.Change{Keys: map[string]types.AttributeValue{"id": str("a")}}), "write time")
	_, err = w.Close(t.Context())
	require.NoError(t, err)
	require.Error(t, w.Write(sampleChanges()[0]), "after Close")
}
