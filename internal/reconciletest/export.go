package reconciletest

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/snapshot"
)

// Export is an export folder written for a test, with helpers to damage it.
type Export struct {
	t   *testing.T
	Dir string
}

// WriteExport writes items as an export of table into a new folder.
func WriteExport(t *testing.T, table string, exportTime time.Time, files int, items []ddbjson.Item) *Export {
	t.Helper()
	dir := t.TempDir()
	w, err := snapshot.NewWriter(t.Context(), snapshot.DirSink(dir), snapshot.WriterConfig{
		TableArn: "arn:aws:dynamodb:eu-west-2:000000000000:table/" + table, ExportTime: exportTime, Files: files,
	})
	require.NoError(t, err)
	for _, it := range items {
		require.NoError(t, w.Write(it))
	}
	_, err = w.Close(t.Context())
	require.NoError(t, err)
	return &Export{t: t, Dir: dir}
}

// Open opens the export as a load or diff reads it.
func (e *Export) Open() *snapshot.Export {
	e.t.Helper()
	src, err := snapshot.NewDirSource(e.Dir)
	require.NoError(e.t, err)
	exp, err := snapshot.Open(context.Background(), src)
	require.NoError(e.t, err)
	return exp
}

// ManifestLines returns manifest-files.json as generic objects.
func (e *Export) ManifestLines() []map[string]any {
	e.t.Helper()
	raw, err := os.ReadFile(filepath.Join(e.Dir, snapshot.FilesName))
	require.NoError(e.t, err)
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var m map[string]any
		require.NoError(e.t, json.Unmarshal([]byte(l), &m))
		out = append(out, m)
	}
	return out
}

// WriteManifest rewrites manifest-files.json and its checksum file.
func (e *Export) WriteManifest(lines []map[string]any) {
	e.t.Helper()
	var b bytes.Buffer
	for _, m := range lines {
		l, err := json.Marshal(m)
		require.NoError(e.t, err)
		b.Write(l)
		b.WriteByte('\n')
	}
	e.WriteWithChecksum(snapshot.FilesName, b.Bytes())
}

// WriteWithChecksum writes file name of the folder and its .checksum.
func (e *Export) WriteWithChecksum(name string, data []byte) {
	e.t.Helper()
	require.NoError(e.t, os.WriteFile(filepath.Join(e.Dir, name), data, 0o644))
	sum := md5.Sum(data)
	require.NoError(e.t, os.WriteFile(filepath.Join(e.Dir, strings.TrimSuffix(name, ".json")+".checksum"),
		[]byte(base64.StdEncoding.EncodeToString(sum[:])), 0o644))
}

// DataFile returns the name of data file i (relative to the folder).
func (e *Export) DataFile(i int) string {
	key := e.ManifestLines()[i]["dataFileS3Key"].(string)
	return key[strings.Index(key, "data/"):]
}

// ReplaceDataFile replaces data file i's stored bytes; with fixManifest the
// manifest's MD5 (and item count, if count >= 0) are updated to match, so
// that only the content is wrong.
func (e *Export) ReplaceDataFile(i int, raw []byte, fixManifest bool, count int) {
	e.t.Helper()
	require.NoError(e.t, os.WriteFile(filepath.Join(e.Dir, e.DataFile(i)), raw, 0o644))
	if !fixManifest {
		return
	}
	lines := e.ManifestLines()
	sum := md5.Sum(raw)
	lines[i]["md5Checksum"] = base64.StdEncoding.EncodeToString(sum[:])
	if count >= 0 {
		lines[i]["itemCount"] = count
		e.FixTotal(lines)
	}
	e.WriteManifest(lines)
}

// FixTotal makes the summary's itemCount the sum of the manifest's.
func (e *Export) FixTotal(lines []map[string]any) {
	var total float64
	for _, l := range lines {
		switch n := l["itemCount"].(type) {
		case float64:
			total += n
		case int:
			total += float64(n)
		}
	}
	e.EditSummary(func(s map[string]any) { s["itemCount"] = total })
}

// EditSummary rewrites manifest-summary.json as f edits it.
func (e *Export) EditSummary(f func(map[string]any)) {
	e.t.Helper()
	raw, err := os.ReadFile(filepath.Join(e.Dir, snapshot.SummaryName))
	require.NoError(e.t, err)
	var s map[string]any
	require.NoError(e.t, json.Unmarshal(raw, &s))
	f(s)
	out, err := json.Marshal(s)
	require.NoError(e.t, err)
	e.WriteWithChecksum(snapshot.SummaryName, out)
}

// ReadDataFile returns data file i's stored bytes.
func (e *Export) ReadDataFile(i int) []byte {
	e.t.Helper()
	raw, err := os.ReadFile(filepath.Join(e.Dir, e.DataFile(i)))
	require.NoError(e.t, err)
	return raw
}

// Gz gzips lines, each ended with a newline, as a data file's bytes.
func Gz(t *testing.T, lines ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	for _, l := range lines {
		_, err := w.Write([]byte(l + "\n"))
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	return b.Bytes()
}
