package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/pgtest"
)

func execSQL(t *testing.T, dbURL, sql string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dbURL)
	require.NoError(t, err)
	defer conn.Close(t.Context())
	_, err = conn.Exec(t.Context(), sql)
	require.NoError(t, err)
}

func TestDiffCmd_ExitStatuses(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	dir := sampleExport(t, 200, 2)
	code, _, errOut := run(t, "load", "--export", dir, "--key", "id", "--database-url", db, "--progress", "none")
	require.Equal(t, 0, code, errOut)

	// Identical: exit 0.
	code, out, errOut := run(t, "diff", "--table", "TenureInformation", "--against", dir, "--database-url", db)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "CONSISTENT")
	require.Contains(t, out, "200 items in the source, 200 rows in the copy")

	// Corrupt the copy: exit 1, each kind listed.
	execSQL(t, db, `DELETE FROM dynamodb.tenure_information WHERE id = (SELECT min(id) FROM dynamodb.tenure_information)`)
	execSQL(t, db, `UPDATE dynamodb.tenure_information SET item = jsonb_set(item, '{charges,M,rent,N}', '"1.01"')
		WHERE id = (SELECT max(id) FROM dynamodb.tenure_information)`)
	code, out, errOut = run(t, "diff", "--table", "TenureInformation", "--against", dir, "--database-url", db)
	require.Equal(t, 1, code, errOut)
	require.Contains(t, out, "INCONSISTENT: 1 missing in PostgreSQL, 0 extra in PostgreSQL, 1 different")
	require.Contains(t, out, "charges.rent")
	require.Contains(t, errOut, "differs from the source")

	// JSON lines: one object per finding, then the summary.
	code, out, errOut = run(t, "diff", "--table", "TenureInformation", "--against", dir, "--database-url", db, "--format", "json")
	require.Equal(t, 1, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3)
	var first, last map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &first))
	require.NoError(t, json.Unmarshal([]byte(lines[2]), &last))
	require.Equal(t, "finding", first["type"])
	require.Equal(t, "summary", last["type"])
	require.Equal(t, false, last["consistent"])

	// HTML to a file.
	report := filepath.Join(t.TempDir(), "diff.html")
	code, out, errOut = run(t, "diff", "--table", "TenureInformation", "--against", dir, "--database-url", db, "--format", "html", "--out", report)
	require.Equal(t, 1, code, errOut)
	require.Contains(t, out, "report written to "+report)
	page, err := os.ReadFile(report)
	require.NoError(t, err)
	require.Contains(t, string(page), `<mark class="attr-path">charges.rent</mark>`)

	// Repair: exit 1 (it found something), then a clean diff.
	code, out, errOut = run(t, "diff", "--table", "TenureInformation", "--against", dir, "--database-url", db, "--repair")
	require.Equal(t, 1, code, errOut)
	require.Contains(t, out, "repaired: 1 inserted, 1 updated, 0 deleted")
	code, _, errOut = run(t, "diff", "--table", "TenureInformation", "--against", dir, "--database-url", db)
	require.Equal(t, 0, code, errOut)

	// status shows the last diff.
	code, out, errOut = run(t, "status", "--database-url", db)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "last diff")
	require.Contains(t, out, "consistent")

	// The diff itself failing: exit 2.
	newer := filepath.Join(t.TempDir(), "newer")
	code, _, errOut = run(t, "sample-export", "--items", "10", "--out", newer, "--export-time", "2099-01-01T00:00:00Z")
	require.Equal(t, 0, code, errOut)
	cases := []struct {
		name string
		args []string
		msg  string
	}{
		{"copy behind the source", []string{"--against", newer}, "ddbsync follow --table TenureInformation --until-caught-up"},
		{"missing export", []string{"--against", filepath.Join(dir, "nope")}, "no such file"},
		{"bad format", []string{"--against", dir, "--format", "xml"}, `--format "xml"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"diff", "--table", "TenureInformation", "--database-url", db}, tc.args...)
			code, _, errOut := run(t, args...)
			require.Equal(t, 2, code, errOut)
			require.Contains(t, errOut, tc.msg)
		})
	}
	// A table never loaded is a refusal, as for follow and status.
	code, _, errOut = run(t, "diff", "--table", "Nope", "--against", dir, "--database-url", db)
	require.Equal(t, 1, code, errOut)
	require.Contains(t, errOut, "has not been loaded")
}
