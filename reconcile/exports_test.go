package reconcile_test

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

// testExport is an export folder written for a test, with helpers to damage it.
type testExport struct {
	t   *testing.T
	dir string
}

// writeExport writes items as an export of table into a new folder.
func writeExport(t *testing.T, table string, exportTime time.Time, files int, items []ddbjson.Item) *testExport {
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
	return &testExport{t: t, dir: dir}
}

func (e *testExport) open() *snapshot.Export {
	e.t.Helper()
	src, err := snapshot.NewDirSource(e.dir)
	require.NoError(e.t, err)
	exp, err := snapshot.Open(context.Background(), src)
	require.NoError(e.t, err)
	return exp
}

// manifestLines returns manifest-files.json as generic objects.
func (e *testExport) manifestLines() []map[string]any {
	e.t.Helper()
	raw, err := os.ReadFile(filepath.Join(e.dir, snapshot.FilesName))
	require.NoError(e.t, err)
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var m map[string]any
		require.NoError(e.t, json.Unmarshal([]byte(l), &m))
		out = append(out, m)
	}
	return out
}

// writeManifest rewrites manifest-files.json and its checksum file.
func (e *testExport) writeManifest(lines []map[string]any) {
	e.t.Helper()
	var b bytes.Buffer
	for _, m := range lines {
		l, err := json.Marshal(m)
		require.NoError(e.t, err)
		b.Write(l)
		b.WriteByte('\n')
	}
	e.writeWithChecksum(snapshot.FilesName, b.Bytes())
}

func (e *testExport) writeWithChecksum(name string, data []byte) {
	e.t.Helper()
	require.NoError(e.t, os.WriteFile(filepath.Join(e.dir, name), data, 0o644))
	sum := md5.Sum(data)
	require.NoError(e.t, os.WriteFile(filepath.Join(e.dir, strings.TrimSuffix(name, ".json")+".checksum"),
		[]byte(base64.StdEncoding.EncodeToString(sum[:])), 0o644))
}

// dataFile returns the name of data file i (relative to the folder).
func (e *testExport) dataFile(i int) string {
	key := e.manifestLines()[i]["dataFileS3Key"].(string)
	return key[strings.Index(key, "data/"):]
}

// replaceDataFile replaces data file i's stored bytes; with fixManifest the
// manifest's MD5 (and item count, if count >= 0) are updated to match, so
// that only the content is wrong.
func (e *testExport) replaceDataFile(i int, raw []byte, fixManifest bool, count int) {
	e.t.Helper()
	require.NoError(e.t, os.WriteFile(filepath.Join(e.dir, e.dataFile(i)), raw, 0o644))
	if !fixManifest {
		return
	}
	lines := e.manifestLines()
	sum := md5.Sum(raw)
	lines[i]["md5Checksum"] = base64.StdEncoding.EncodeToString(sum[:])
	if count >= 0 {
		lines[i]["itemCount"] = count
		e.fixTotal(lines)
	}
	e.writeManifest(lines)
}

// fixTotal makes the summary's itemCount the sum of the manifest's.
func (e *testExport) fixTotal(lines []map[string]any) {
	var total float64
	for _, l := range lines {
		switch n := l["itemCount"].(type) {
		case float64:
			total += n
		case int:
			total += float64(n)
		}
	}
	e.editSummary(func(s map[string]any) { s["itemCount"] = total })
}

func (e *testExport) editSummary(f func(map[string]any)) {
	e.t.Helper()
	raw, err := os.ReadFile(filepath.Join(e.dir, snapshot.SummaryName))
	require.NoError(e.t, err)
	var s map[string]any
	require.NoError(e.t, json.Unmarshal(raw, &s))
	f(s)
	out, err := json.Marshal(s)
	require.NoError(e.t, err)
	e.writeWithChecksum(snapshot.SummaryName, out)
}

func (e *testExport) readDataFile(i int) []byte {
	e.t.Helper()
	raw, err := os.ReadFile(filepath.Join(e.dir, e.dataFile(i)))
	require.NoError(e.t, err)
	return raw
}

func gz(t *testing.T, lines ...string) []byte {
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
