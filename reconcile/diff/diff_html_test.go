package diff_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/diff"
	"github.com/ddbsync/ddbsync/reconcile/report"
)

// dumpDOM renders an HTML file in headless Chromium and returns the DOM it
// built, or skips the test when Chromium is not installed.
func dumpDOM(t *testing.T, path string) string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (apt-get install -y chromium): the HTML report is not checked in a browser")
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir="+t.TempDir(),
		"--dump-dom", "file://"+path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "chromium: %s", stderr.String())
	return stdout.String()
}

func TestHTMLReport_RendersFindingsInChromium(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	items := diffItems(20)
	exp := loadedCopy(t, pool, items)
	sqlExec(t, pool, `DELETE FROM dynamodb.tenure_information WHERE id = $1`, idOf(items[0]))
	sqlExec(t, pool, `UPDATE dynamodb.tenure_information SET item = jsonb_set(item, '{charges,M,rent,N}', '"1.01"') WHERE id = $1`, idOf(items[1]))
	sqlExec(t, pool, `INSERT INTO dynamodb.tenure_information (id, item, doc, origin) VALUES ('<script>x</script>', '{"id":{"S":"<script>x</script>"}}', '{}', 'export')`)

	var page bytes.Buffer
	_, err := diff.Run(t.Context(), pool, diff.Config{Table: tenure.TableName, Export: exp, Report: report.HTML(&page)})
	require.ErrorIs(t, err, reconcile.ErrInconsistent)
	path := filepath.Join(t.TempDir(), "report.html")
	require.NoError(t, os.WriteFile(path, page.Bytes(), 0o644))

	dom := dumpDOM(t, path)
	require.Contains(t, dom, `<p class="verdict">Inconsistent: 3 keys differ</p>`)
	require.Contains(t, dom, `<td id="count-missing">1</td>`)
	require.Contains(t, dom, `<td id="count-extra">1</td>`)
	require.Contains(t, dom, `<td id="count-different">1</td>`)
	require.Len(t, regexp.MustCompile(`<tr class="finding kind-`).FindAllString(dom, -1), 3)
	// The differing attribute is highlighted, with both values beside it.
	require.Regexp(t, `<tr class="attr-diff"><td><mark class="attr-path">charges\.rent</mark></td><td class="source-value"><code>\{"N":"[0-9.]+"\}</code></td><td class="copy-value"><code>\{"N":"1\.01"\}</code></td></tr>`, dom)
	require.Contains(t, dom, idOf(items[0]))
	// Values are text, never markup.
	require.NotContains(t, dom, "<script>x</script>")
	require.Contains(t, dom, "&lt;script&gt;x&lt;/script&gt;")
}
