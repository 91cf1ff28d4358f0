package cli_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/pgtest"
)

func TestLoadCmd_SameExportIsANoOpUnlessForced(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	dir := sampleExport(t, 50, 2)
	code, _, errOut := run(t, "load", "--export", dir, "--key", "id", "--database-url", db, "--progress", "none")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, 1, count(t, db, `WITH s AS (INSERT INTO ddbsync.streams (table_name, stream_arn, start_time)
		VALUES ('TenureInformation', 'arn:stream', now()) RETURNING 1) SELECT count(*) FROM s`))

	code, out, errOut := run(t, "load", "--export", dir, "--database-url", db, "--progress", "none")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, `table TenureInformation ("dynamodb"."tenure_information") already holds export arn:`)
	require.Contains(t, out, "; nothing to do; use --force to reload it")
	require.NotContains(t, out, "loaded 50 items")
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM ddbsync.streams`), "a rerun reset following")

	code, out, errOut = run(t, "load", "--export", dir, "--force", "--database-url", db, "--progress", "none")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "loaded 50 items")
	require.Zero(t, count(t, db, `SELECT count(*) FROM ddbsync.streams`), "--force reloads, so following starts afresh")
}

func TestLoadCmd_AnotherSchemaNeedsMoveSchema(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	dir := sampleExport(t, 50, 2)
	code, _, errOut := run(t, "load", "--export", dir, "--key", "id", "--schema", "a", "--database-url", db, "--progress", "none")
	require.Equal(t, 0, code, errOut)

	code, _, errOut = run(t, "load", "--export", dir, "--schema", "b", "--database-url", db, "--progress", "none")
	require.Equal(t, 1, code, "a refusal")
	require.Contains(t, errOut, `its copy is "a"."tenure_information", this load is into "b"."tenure_information"`)
	require.Contains(t, errOut, "--schema a")
	require.Contains(t, errOut, "--move-schema")
	require.Equal(t, 50, count(t, db, `SELECT count(*) FROM a.tenure_information`))

	code, out, errOut := run(t, "load", "--export", dir, "--schema", "b", "--move-schema", "--database-url", db, "--progress", "none")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, `into "b"."tenure_information"`)
	require.Equal(t, 50, count(t, db, `SELECT count(*) FROM b.tenure_information`))
	require.Zero(t, count(t, db, `SELECT count(*) FROM pg_tables WHERE schemaname = 'a'`), "the old copy was left behind")
}
