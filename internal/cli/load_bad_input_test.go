package cli_test

import (
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/pgtest"
)

// handExport writes an export of table T whose one data file,
// data/a.json.gz, holds raw (gzipped lines) with count items, and returns
// its folder. The manifests carry no checksum files, which are optional.
func handExport(t *testing.T, raw []byte, count int) string {
	t.Helper()
	const folder = "pre/AWSDynamoDB/01700000000000-abcdef01"
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "data"), 0o755))
	if raw != nil {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "data", "a.json.gz"), raw, 0o644))
	}
	sum := md5.Sum(raw)
	files, err := json.Marshal(map[string]any{"itemCount": count, "md5Checksum": base64.StdEncoding.EncodeToString(sum[:]),
		"etag": "x-1", "dataFileS3Key": folder + "/data/a.json.gz"})
	require.NoError(t, err)
	summary, err := json.Marshal(map[string]any{"version": "2020-06-30",
		"exportArn": "arn:aws:dynamodb:eu-west-2:123456789012:table/T/export/01700000000000-abcdef01",
		"tableArn":  "arn:aws:dynamodb:eu-west-2:123456789012:table/T", "exportTime": "2023-11-14T22:13:20.000Z",
		"manifestFilesS3Key": folder + "/manifest-files.json", "itemCount": count, "outputFormat": "DYNAMODB_JSON"})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "manifest-files.json"), append(files, '\n'), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "manifest-summary.json"), summary, 0o644))
	return dir
}

func gzLines(t *testing.T, lines ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, err := w.Write([]byte(strings.Join(lines, "\n") + "\n"))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return b.Bytes()
}

func TestLoadCmd_BadInputIsARefusal(t *testing.T) {
	t.Parallel()
	// Whatever is wrong with an export's content, the load refuses it with
	// exit 1 and says where; none of it is an operational failure (exit 2).
	db := pgtest.URL(t)
	good := `{"Item":{"id":{"S":"x1"}}}`
	bomb := gzLines(t, good, `{"Item":{"id":{"S":"`+strings.Repeat("x", 16<<20)+`"}}}`)
	cases := []struct {
		name string
		dir  func(t *testing.T) string
		msg  string
	}{
		{"key attribute missing", func(t *testing.T) string {
			return handExport(t, gzLines(t, good, `{"Item":{"other":{"S":"x2"}}}`), 2)
		}, `data/a.json.gz line 2: corrupt export file: item has no valid key: key attribute "id" is missing`},
		{"key of the wrong type", func(t *testing.T) string {
			return handExport(t, gzLines(t, good, `{"Item":{"id":{"N":"2"}}}`), 2)
		}, `data/a.json.gz line 2: corrupt export file: item has no valid key: key attribute "id" has type N, want S`},
		{"key value containing U+0000", func(t *testing.T) string {
			return handExport(t, gzLines(t, good, `{"Item":{"id":{"S":"x\u00002"}}}`), 2)
		}, `data/a.json.gz line 2: corrupt export file: key attribute id: contains U+0000`},
		{"attribute name containing U+0000", func(t *testing.T) string {
			return handExport(t, gzLines(t, good, `{"Item":{"id":{"S":"x2"},"a\u0000":{"S":"v"}}}`), 2)
		}, `data/a.json.gz line 2: corrupt export file`},
		{"line longer than the cap", func(t *testing.T) string {
			return handExport(t, bomb, 2)
		}, `data/a.json.gz line 2: corrupt export file: longer than 4 MiB; a DynamoDB item is at most 400 KB`},
		{"data file is a FIFO", func(t *testing.T) string {
			dir := handExport(t, nil, 1)
			require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "data", "a.json.gz"), 0o644))
			return dir
		}, `data/a.json.gz: corrupt export file: data/a.json.gz in `},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := run(t, "load", "--export", tc.dir(t), "--key", "id:S", "--table", "T", "--database-url", db, "--progress", "none")
			require.Equal(t, 1, code, errOut)
			require.Contains(t, errOut, tc.msg)
		})
	}
}
