package lake

import (
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func bytesReader(s string) *strings.Reader { return strings.NewReader(s) }

// hyparquetScript prints every row of the files named on its command line
// as JSON lines, read by hyparquet (a Parquet reader in pure JavaScript,
// written independently of parquet-go). BigInts, dates and bytes become
// strings, so that JSON carries them exactly.
const hyparquetScript = `
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet'
const norm = v => typeof v === 'bigint' ? v.toString()
	: v instanceof Date ? v.toISOString()
	: v instanceof Uint8Array ? 'hex:' + Buffer.from(v).toString('hex')
	: Array.isArray(v) ? v.map(norm)
	: v
for (const name of process.argv.slice(2)) {
	const rows = await parquetReadObjects({ file: await asyncBufferFromFile(name), utf8: false })
	for (const r of rows) {
		const o = {}
		for (const [k, v] of Object.entries(r)) o[k] = norm(v)
		console.log(JSON.stringify(o))
	}
}
`

// requireHyparquetReads reads the cut's parts with hyparquet and compares
// them with wantTyped. DDBSYNC_HYPARQUET_DIR names a folder whose
// node_modules holds hyparquet (.ci/run installs it); without it, or
// without node, the test skips.
func requireHyparquetReads(t *testing.T, dir string, m Manifest) {
	modules := os.Getenv("DDBSYNC_HYPARQUET_DIR")
	if modules == "" {
		t.Skip("DDBSYNC_HYPARQUET_DIR is not set: no independent Parquet reader (npm install hyparquet into a folder and point it there)")
	}
	if _, err := os.Stat(filepath.Join(modules, "node_modules", "hyparquet")); err != nil {
		t.Skipf("hyparquet is not installed in %s: %v", modules, err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: no independent Parquet reader")
	}
	script := filepath.Join(modules, "ddbsync-read-parquet.mjs")
	require.NoError(t, os.WriteFile(script, []byte(hyparquetScript), 0o644))
	args := []string{script}
	for _, f := range m.Files {
		args = append(args, filepath.Join(dir, f.Name))
	}
	cmd := exec.CommandContext(t.Context(), node, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "hyparquet: %s", stderr.String())
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Len(t, lines, len(wantTyped))
	for i, line := range lines {
		var got map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &got), line)
		want := wantTyped[i]
		require.Len(t, got, len(want), "row %d: %s", i, line)
		for name, w := range want {
			g := got[name]
			switch w := w.(type) {
			case nil:
				require.Nil(t, g, "row %d column %s", i, name)
			case int64:
				// INT64 comes as a BigInt (a string here), INT32 as a number.
				require.Contains(t, []any{float64(w), jsonNumberString(w)}, g, "row %d column %s", i, name)
			case time.Time:
				require.Equal(t, w.Format("2006-01-02T15:04:05.000Z"), g, "row %d column %s", i, name)
			case []byte:
				require.Equal(t, "hex:"+hex.EncodeToString(w), g, "row %d column %s", i, name)
			case string:
				switch name {
				case "amount", "exact":
					// hyparquet reads DECIMAL as a float: equal to 15 digits.
					wf, gf := parseFloat(t, w), g.(float64)
					require.InDelta(t, 0, (gf-wf)/math.Max(math.Abs(wf), 1), 1e-15, "row %d column %s: %v", i, name, g)
				case "born":
					require.Equal(t, w+"T00:00:00.000Z", g, "row %d column %s", i, name)
				case "doc":
					var wj any
					require.NoError(t, json.Unmarshal([]byte(w), &wj))
					require.Equal(t, wj, g, "row %d column %s", i, name)
				default:
					require.Equal(t, w, g, "row %d column %s", i, name)
				}
			case []any:
				norm := make([]any, len(w))
				for j, e := range w {
					if n, ok := e.(int64); ok {
						norm[j] = jsonNumberString(n)
					} else {
						norm[j] = e
					}
				}
				require.Equal(t, norm, g, "row %d column %s", i, name)
			default:
				require.Equal(t, w, g, "row %d column %s", i, name)
			}
		}
	}
}

func jsonNumberString(n int64) string { return strconv.FormatInt(n, 10) }

func parseFloat(t *testing.T, s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err)
	return f
}
