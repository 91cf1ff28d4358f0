package snapshot_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/snapshot"
)

// The manifests of a real export AWS wrote in November 2022 (verbatim, with
// their .md5 files); the data file itself is not included.
const aws2022 = "testdata/aws-2022"

func TestOpen_RealAWS2022Manifests(t *testing.T) {
	t.Parallel()
	e, err := openDir(t, aws2022)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"manifest-summary.md5", "manifest-files.md5"}, e.Verified)

	s := e.Summary
	require.Equal(t, "2020-06-30", s.Version)
	require.Equal(t, "arn:aws:dynamodb:sa-east-1:326717626617:table/livros_por_ler/export/01668227450456-b6733290", s.ExportArn)
	require.Equal(t, s.ExportArn, e.ID())
	require.Equal(t, "livros_por_ler", s.TableName())
	require.Equal(t, "659732b0-5ce6-4e60-a804-f224014bdef3", s.TableID)
	require.NotNil(t, s.ExportTime)
	require.Equal(t, time.Date(2022, 11, 12, 4, 30, 50, 456e6, time.UTC), s.ExportTime.UTC())
	require.Nil(t, s.S3Prefix)
	require.Nil(t, s.S3SseKmsKeyID)
	require.Equal(t, "outroslivros", s.S3Bucket)
	require.Equal(t, int64(6), s.ItemCount)
	require.Equal(t, "DYNAMODB_JSON", s.OutputFormat)
	require.Empty(t, s.ExportType, "2022 full exports carry no exportType")

	require.Len(t, e.Files, 1)
	f := e.Files[0]
	require.Equal(t, "data/enpvklgbwq7gta42yshirxd6ea.json.gz", f.Name)
	require.Equal(t, "AWSDynamoDB/01668227450456-b6733290/data/enpvklgbwq7gta42yshirxd6ea.json.gz", f.DataFileS3Key)
	require.Equal(t, int64(6), f.ItemCount)
	require.Equal(t, "EV+2HwdmZ3AyD9j+Yxd+Mg==", f.MD5Checksum)
	require.Equal(t, "a88f6b426e940985d4ef97076c8f40f6-1", f.ETag)

	// The data file is not in testdata: reading it must say which file is missing.
	r, err := e.OpenFile(t.Context(), f)
	require.Nil(t, r)
	requireFileError(t, err, snapshot.ErrMissingFile, f.Name, 0)
	require.Contains(t, err.Error(), aws2022)
}

// copyAWS2022 copies the real manifests into a temporary folder that a test
// may change.
func copyAWS2022(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"manifest-summary.json", "manifest-summary.md5", "manifest-files.json", "manifest-files.md5"} {
		b, err := os.ReadFile(filepath.Join(aws2022, name))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
	}
	return dir
}

func TestOpen_SummaryChecksumMismatch(t *testing.T) {
	t.Parallel()
	dir := copyAWS2022(t)
	b, err := os.ReadFile(filepath.Join(dir, "manifest-summary.json"))
	require.NoError(t, err)
	// Same length, same meaning to a JSON reader, different bytes.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "manifest-summary.json"), append(b[:len(b):len(b)], ' '), 0o644))
	_, err = openDir(t, dir)
	requireFileError(t, err, snapshot.ErrChecksum, snapshot.SummaryName, 0)
	require.Contains(t, err.Error(), "manifest-summary.md5")
}

func TestOpen_FilesChecksumMismatch(t *testing.T) {
	t.Parallel()
	dir := copyAWS2022(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "manifest-files.md5"), []byte("AAAAAAAAAAAAAAAAAAAAAA=="), 0o644))
	_, err := openDir(t, dir)
	requireFileError(t, err, snapshot.ErrChecksum, snapshot.FilesName, 0)
	require.Contains(t, err.Error(), "AAAAAAAAAAAAAAAAAAAAAA==")
}

func TestOpen_ChecksumFileVariants(t *testing.T) {
	t.Parallel()
	for _, suffix := range []string{".checksum", ".md5", "-"} {
		t.Run(suffix, func(t *testing.T) {
			dir := writeExport(t, exportSpec{checksumSuffix: suffix, files: []dataSpec{{name: "data/a.json.gz", raw: gz(t, line("1")), count: 1}}})
			e, err := openDir(t, dir)
			require.NoError(t, err)
			if suffix == "-" {
				require.Empty(t, e.Verified)
			} else {
				require.Equal(t, []string{"manifest-summary" + suffix, "manifest-files" + suffix}, e.Verified)
			}
		})
	}
}

func TestOpen_ChecksumMismatchInDotChecksum(t *testing.T) {
	t.Parallel()
	dir := writeExport(t, exportSpec{checksumSuffix: ".checksum", files: []dataSpec{{name: "data/a.json.gz", raw: gz(t, line("1")), count: 1}}})
	require.NoError(t, os.WriteFile(filepath.Join(dir, "manifest-files.checksum"), []byte("eF9XArdBefG4NFSVs2U2ow=="), 0o644))
	_, err := openDir(t, dir)
	requireFileError(t, err, snapshot.ErrChecksum, snapshot.FilesName, 0)
	require.Contains(t, err.Error(), "manifest-files.checksum")
}

func TestOpen_IONSummaryRefused(t *testing.T) {
	t.Parallel()
	dir := writeExport(t, exportSpec{
		files:   []dataSpec{{name: "data/a.ion.gz", raw: []byte("x"), count: 1}},
		summary: func(s map[string]any) { s["outputFormat"] = "ION" },
	})
	_, err := openDir(t, dir)
	requireFileError(t, err, snapshot.ErrUnsupported, snapshot.SummaryName, 0)
	require.Contains(t, err.Error(), "ION")
	require.Contains(t, err.Error(), "DYNAMODB_JSON", "the message says what to do")
}

func TestOpen_IONDataFileRefused(t *testing.T) {
	t.Parallel()
	dir := writeExport(t, exportSpec{files: []dataSpec{
		{name: "data/a.json.gz", raw: gz(t, ""), count: 0},
		{name: "data/b.ion.gz", raw: []byte("x"), count: 1},
	}})
	_, err := openDir(t, dir)
	requireFileError(t, err, snapshot.ErrUnsupported, snapshot.FilesName, 2)
	require.Contains(t, err.Error(), "data/b.ion.gz")
}

func TestOpen_IncrementalExportRefused(t *testing.T) {
	t.Parallel()
	dir := writeExport(t, exportSpec{
		files: []dataSpec{{name: "data/a.json.gz", raw: gz(t, ""), count: 0}},
		summary: func(s map[string]any) {
			s["version"] = "2023-08-01"
			s["exportType"] = "INCREMENTAL_EXPORT"
			s["outputView"] = "NEW_AND_OLD_IMAGES"
		},
	})
	_, err := openDir(t, dir)
	requireFileError(t, err, snapshot.ErrUnsupported, snapshot.SummaryName, 0)
	require.Contains(t, err.Error(), "incremental")
}

func TestOpen_UnknownFormatOrTypeRefused(t *testing.T) {
	t.Parallel()
	for name, edit := range map[string]func(map[string]any){
		"format": func(s map[string]any) { s["outputFormat"] = "CSV" },
		"type":   func(s map[string]any) { s["exportType"] = "SOMETHING_NEW" },
	} {
		t.Run(name, func(t *testing.T) {
			dir := writeExport(t, exportSpec{summary: edit})
			_, err := openDir(t, dir)
			requireFileError(t, err, snapshot.ErrUnsupported, snapshot.SummaryName, 0)
		})
	}
}

func TestOpen_FullExportTypeAccepted(t *testing.T) {
	t.Parallel()
	dir := writeExport(t, exportSpec{summary: func(s map[string]any) { s["exportType"] = "FULL_EXPORT" }})
	e, err := openDir(t, dir)
	require.NoError(t, err)
	require.Empty(t, e.Files)
}

func TestOpen_TotalCountMismatch(t *testing.T) {
	t.Parallel()
	dir := writeExport(t, exportSpec{
		files:   []dataSpec{{name: "data/a.json.gz", raw: gz(t, line("1")), count: 1}, {name: "data/b.json.gz", raw: gz(t, line("2")), count: 1}},
		summary: func(s map[string]any) { s["itemCount"] = 3 },
	})
	_, err := openDir(t, dir)
	requireFileError(t, err, snapshot.ErrCount, snapshot.FilesName, 0)
	require.Contains(t, err.Error(), "data files hold 2 items")
	require.Contains(t, err.Error(), "says 3")
}

func TestOpen_KeyOutsideExport(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		key  string
	}{
		{"dot-dot traversal", folderKey + "/../../../etc/passwd"},
		{"dot-dot inside", folderKey + "/data/../../x.json.gz"},
		{"absolute", "/etc/passwd"},
		{"different folder", "pre/AWSDynamoDB/01700000000000-ffffffff/data/a.json.gz"},
		{"shared incremental folder", "pre/AWSDynamoDB/data/a.json.gz"},
		{"folder prefix without slash", folderKey + "x/data/a.json.gz"},
		{"unclean", folderKey + "/data//a.json.gz"},
		{"backslash", folderKey + `/data\..\..\a.json.gz`},
		{"the folder itself", folderKey + "/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeExport(t, exportSpec{files: []dataSpec{{name: "data/a.json.gz", raw: gz(t, ""), count: 0, key: tc.key}}})
			_, err := openDir(t, dir)
			requireFileError(t, err, snapshot.ErrOutsideExport, snapshot.FilesName, 1)
		})
	}
}

func TestOpen_ExportWithoutPrefix(t *testing.T) {
	t.Parallel()
	// Keys start at AWSDynamoDB/ when the export has no prefix, as in the
	// 2022 sample; an export copied to any local folder still resolves.
	dir := writeExport(t, exportSpec{
		files: []dataSpec{{name: "data/a.json.gz", raw: gz(t, line("1")), count: 1, key: "AWSDynamoDB/01700000000000-abcdef01/data/a.json.gz"}},
		summary: func(s map[string]any) {
			s["s3Prefix"] = nil
			s["manifestFilesS3Key"] = "AWSDynamoDB/01700000000000-abcdef01/manifest-files.json"
		},
	})
	e, err := openDir(t, dir)
	require.NoError(t, err)
	require.Nil(t, e.Summary.S3Prefix)
	items, err := readAll(t, e, e.Files[0])
	require.NoError(t, err)
	require.Len(t, items, 1)
}

func TestOpen_CorruptManifests(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		spec exportSpec
		file string
		line int
		msg  string
	}{
		{"summary without manifestFilesS3Key", exportSpec{summary: func(s map[string]any) { delete(s, "manifestFilesS3Key") }}, snapshot.SummaryName, 0, "manifestFilesS3Key is missing"},
		{"summary key names another file", exportSpec{summary: func(s map[string]any) { s["manifestFilesS3Key"] = folderKey + "/other.json" }}, snapshot.SummaryName, 0, "does not name"},
		{"summary negative count", exportSpec{summary: func(s map[string]any) { s["itemCount"] = -1 }}, snapshot.SummaryName, 0, "negative"},
		{"summary wrong field type", exportSpec{summary: func(s map[string]any) { s["itemCount"] = "six" }}, snapshot.SummaryName, 0, ""},
		{"summary bad time", exportSpec{summary: func(s map[string]any) { s["exportTime"] = "yesterday" }}, snapshot.SummaryName, 0, ""},
		{"data file listed twice", exportSpec{files: []dataSpec{{name: "data/a.json.gz", raw: gz(t, ""), count: 0}, {name: "data/a.json.gz", raw: gz(t, ""), count: 0}}}, snapshot.FilesName, 2, "listed twice"},
		{"data file key missing", exportSpec{files: []dataSpec{{name: "data/a.json.gz", raw: gz(t, ""), count: 0, key: "-"}}}, snapshot.FilesName, 1, ""},
		{"negative file count", exportSpec{files: []dataSpec{{name: "data/a.json.gz", raw: gz(t, ""), count: -1}}, summary: func(s map[string]any) { s["itemCount"] = -1 }}, snapshot.SummaryName, 0, "negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeExport(t, tc.spec)
			_, err := openDir(t, dir)
			requireFileError(t, err, snapshot.ErrCorrupt, tc.file, tc.line)
			require.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestOpen_ManifestFilesNotJSON(t *testing.T) {
	t.Parallel()
	dir := writeExport(t, exportSpec{checksumSuffix: "-", files: []dataSpec{{name: "data/a.json.gz", raw: gz(t, ""), count: 0}}})
	require.NoError(t, os.WriteFile(filepath.Join(dir, "manifest-files.json"),
		[]byte("{\"itemCount\":0,\"md5Checksum\":\"x\",\"dataFileS3Key\":\""+folderKey+"/data/a.json.gz\"}\n\nnot json\n"), 0o644))
	_, err := openDir(t, dir)
	requireFileError(t, err, snapshot.ErrCorrupt, snapshot.FilesName, 3)
}

func TestOpen_MissingManifests(t *testing.T) {
	t.Parallel()
	for _, name := range []string{snapshot.SummaryName, snapshot.FilesName} {
		t.Run(name, func(t *testing.T) {
			dir := copyAWS2022(t)
			require.NoError(t, os.Remove(filepath.Join(dir, name)))
			_, err := openDir(t, dir)
			requireFileError(t, err, snapshot.ErrMissingFile, name, 0)
		})
	}
}
