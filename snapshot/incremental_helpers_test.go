package snapshot_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/snapshot"
)

var (
	windowFrom = time.Date(2024, 5, 6, 7, 0, 0, 0, time.UTC)
	windowTo   = windowFrom.Add(time.Hour)
)

// str and num make key and attribute values.
func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func num(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

// incr is an incremental export written by the IncrementalWriter: root is
// the AWSDynamoDB folder, folder the export folder inside it.
type incr struct {
	root, folder string
	sum          snapshot.Summary
}

// writeIncr writes changes as an incremental export into a new directory.
func writeIncr(t *testing.T, cfg snapshot.IncrementalWriterConfig, changes []snapshot.Change) incr {
	t.Helper()
	if cfg.TableArn == "" {
		cfg.TableArn = tableArn
	}
	if cfg.From.IsZero() {
		cfg.From, cfg.To = windowFrom, windowTo
	}
	root := t.TempDir()
	w, err := snapshot.NewIncrementalWriter(t.Context(), snapshot.DirSink(root), cfg)
	require.NoError(t, err)
	for _, c := range changes {
		require.NoError(t, w.Write(c))
	}
	sum, err := w.Close(t.Context())
	require.NoError(t, err)
	return incr{root: root, folder: filepath.Join(root, w.ExportID()), sum: sum}
}

func (x incr) open(t *testing.T) (*snapshot.IncrementalExport, error) {
	t.Helper()
	src, err := snapshot.NewDirSource(x.folder)
	require.NoError(t, err)
	return snapshot.OpenIncremental(t.Context(), src)
}

func (x incr) mustOpen(t *testing.T) *snapshot.IncrementalExport {
	t.Helper()
	e, err := x.open(t)
	require.NoError(t, err)
	return e
}

// rewrite replaces a manifest of the export folder and its checksum file.
func (x incr) rewrite(t *testing.T, name string, data []byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(x.folder, name), data, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(x.folder, strings.TrimSuffix(name, ".json")+".checksum"), []byte(md5b64(data)), 0o644))
}

// editSummary edits manifest-summary.json, keeping its checksum right.
func (x incr) editSummary(t *testing.T, edit func(map[string]any)) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(x.folder, snapshot.SummaryName))
	require.NoError(t, err)
	var s map[string]any
	require.NoError(t, json.Unmarshal(raw, &s))
	edit(s)
	raw, err = json.Marshal(s)
	require.NoError(t, err)
	x.rewrite(t, snapshot.SummaryName, raw)
}

// manifestLines returns manifest-files.json's lines.
func (x incr) manifestLines(t *testing.T) []map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(x.folder, snapshot.FilesName))
	require.NoError(t, err)
	var lines []map[string]any
	for l := range strings.SplitSeq(strings.TrimSpace(string(raw)), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m))
		lines = append(lines, m)
	}
	return lines
}

func (x incr) writeManifest(t *testing.T, lines []map[string]any) {
	t.Helper()
	var b strings.Builder
	for _, l := range lines {
		raw, err := json.Marshal(l)
		require.NoError(t, err)
		b.Write(raw)
		b.WriteByte('\n')
	}
	x.rewrite(t, snapshot.FilesName, []byte(b.String()))
}

// dataPath is the local path of the export's i-th data file.
func (x incr) dataPath(t *testing.T, i int) string {
	t.Helper()
	key := x.manifestLines(t)[i]["dataFileS3Key"].(string)
	_, rest, ok := strings.Cut(key, "AWSDynamoDB/")
	require.True(t, ok, key)
	return filepath.Join(x.root, filepath.FromSlash(rest))
}

// replaceData makes the export's only data file hold content (gzipped),
// with a manifest that agrees: its MD5 and count, and the total.
func (x incr) replaceData(t *testing.T, content string, count int64) {
	t.Helper()
	raw := gz(t, content)
	require.NoError(t, os.WriteFile(x.dataPath(t, 0), raw, 0o644))
	lines := x.manifestLines(t)
	require.Len(t, lines, 1)
	lines[0]["md5Checksum"], lines[0]["itemCount"] = md5b64(raw), count
	x.writeManifest(t, lines)
	x.editSummary(t, func(s map[string]any) { s["itemCount"] = count })
}

// readChanges reads every change of every data file of e.
func readChanges(t *testing.T, e *snapshot.IncrementalExport) ([]snapshot.Change, error) {
	t.Helper()
	var all []snapshot.Change
	for _, f := range e.Files {
		r, err := e.OpenFile(t.Context(), f)
		if err != nil {
			return all, err
		}
		for r.Next() {
			all = append(all, r.Change())
		}
		err = r.Err()
		require.NoError(t, r.Close())
		if err != nil {
			return all, err
		}
	}
	return all, nil
}

// encodeChange is a change as comparable text.
func encodeChange(t *testing.T, c snapshot.Change) string {
	t.Helper()
	enc := func(item map[string]types.AttributeValue) string {
		if item == nil {
			return "-"
		}
		b, err := ddbjson.EncodeItem(item)
		require.NoError(t, err)
		return string(b)
	}
	return c.WriteTime.Format(time.RFC3339Nano) + " " + enc(c.Keys) + " old=" + enc(c.OldImage) + " new=" + enc(c.NewImage)
}

func encodeChanges(t *testing.T, cs []snapshot.Change) []string {
	t.Helper()
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, encodeChange(t, c))
	}
	return out
}
