package snapshot_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/snapshot"
)

// folderKey is the export folder key of the hand-made exports.
const folderKey = "pre/AWSDynamoDB/01700000000000-abcdef01"

// dataSpec is one data file of a hand-made export.
type dataSpec struct {
	name  string // relative to the export folder, e.g. data/a.json.gz
	raw   []byte // stored bytes; nil: the file is not written
	count int64  // itemCount in the manifest
	md5   string // md5Checksum in the manifest; "" means the MD5 of raw
	key   string // dataFileS3Key; "" means folderKey + "/" + name, "-" none
}

// exportSpec is a hand-made export: data files plus manifest tweaks.
type exportSpec struct {
	files []dataSpec
	// summary edits the summary's fields before it is written.
	summary func(map[string]any)
	// checksumSuffix names the manifest checksum files (default .md5); "-"
	// writes none.
	checksumSuffix string
}

// writeExport writes spec into a new directory, with valid checksums unless
// the spec says otherwise, and returns the directory.
func writeExport(t *testing.T, spec exportSpec) string {
	t.Helper()
	dir := t.TempDir()
	var files bytes.Buffer
	var total int64
	for _, f := range spec.files {
		if f.raw != nil {
			p := filepath.Join(dir, filepath.FromSlash(f.name))
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			require.NoError(t, os.WriteFile(p, f.raw, 0o644))
		}
		sum := f.md5
		if sum == "" {
			sum = md5b64(f.raw)
		}
		key := f.key
		switch key {
		case "":
			key = folderKey + "/" + f.name
		case "-":
			key = ""
		}
		line, err := json.Marshal(map[string]any{"itemCount": f.count, "md5Checksum": sum, "etag": "x-1", "dataFileS3Key": key})
		require.NoError(t, err)
		files.Write(line)
		files.WriteByte('\n')
		total += f.count
	}
	summary := map[string]any{
		"version":            "2020-06-30",
		"exportArn":          "arn:aws:dynamodb:eu-west-2:123456789012:table/T/export/01700000000000-abcdef01",
		"tableArn":           "arn:aws:dynamodb:eu-west-2:123456789012:table/T",
		"exportTime":         "2023-11-14T22:13:20.000Z",
		"s3Bucket":           "b",
		"s3Prefix":           "pre",
		"manifestFilesS3Key": folderKey + "/manifest-files.json",
		"itemCount":          total,
		"outputFormat":       "DYNAMODB_JSON",
	}
	if spec.summary != nil {
		spec.summary(summary)
	}
	raw, err := json.Marshal(summary)
	require.NoError(t, err)
	suffix := spec.checksumSuffix
	if suffix == "" {
		suffix = ".md5"
	}
	writeWithSum := func(name string, data []byte) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name+".json"), data, 0o644))
		if suffix != "-" {
			require.NoError(t, os.WriteFile(filepath.Join(dir, name+suffix), []byte(md5b64(data)), 0o644))
		}
	}
	writeWithSum("manifest-summary", raw)
	writeWithSum("manifest-files", files.Bytes())
	return dir
}

func md5b64(b []byte) string {
	sum := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// gz compresses s.
func gz(t testing.TB, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, err := w.Write([]byte(s))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return b.Bytes()
}

// line is an export line for an item with id.
func line(id string) string { return `{"Item":{"id":{"S":"` + id + `"}}}` + "\n" }

func openDir(t *testing.T, dir string) (*snapshot.Export, error) {
	t.Helper()
	src, err := snapshot.NewDirSource(dir)
	require.NoError(t, err)
	return snapshot.Open(context.Background(), src)
}

// readAll reads every item of f; it returns the items and Err.
func readAll(t *testing.T, e *snapshot.Export, f snapshot.DataFile) ([]ddbjson.Item, error) {
	t.Helper()
	r, err := e.OpenFile(t.Context(), f)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var items []ddbjson.Item
	for r.Next() {
		items = append(items, r.Item())
	}
	return items, r.Err()
}

// requireFileError asserts that err is a *FileError about file (and line,
// when line > 0) matching sentinel, and that its message names both.
func requireFileError(t *testing.T, err error, sentinel error, file string, line int) *snapshot.FileError {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, sentinel)
	fe, ok := errors.AsType[*snapshot.FileError](err)
	require.True(t, ok, "not a *FileError: %v", err)
	require.Equal(t, file, fe.File)
	require.True(t, strings.HasPrefix(err.Error(), file), "message %q does not start with the file name", err.Error())
	if line > 0 {
		require.Equal(t, line, fe.Line)
		require.Contains(t, err.Error(), file+" line "+strconv.Itoa(line)+":")
	}
	return fe
}
