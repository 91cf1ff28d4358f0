package cli_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/pgtest"
)

func TestDemoCmd_RunsEndToEnd(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	code, out, errOut := run(t, "demo", "--items", "800", "--database-url", db, "--log-level", "warn")
	require.Equal(t, 0, code, errOut)
	for _, want := range []string{
		"exported the table (ExportTableToPointInTime) to s3://demo-exports/tenure/AWSDynamoDB/",
		"loaded 800 items into \"dynamodb\".\"tenure_information\"",
		"followed the stream from the export time",
		"checked the copy against a Scan of the table: all 800 items identical",
		"-- Active tenures by tenure type",
		"Secure |",
	} {
		require.Contains(t, out, want)
	}
	// The copy stays in the given database for the user to query.
	require.Equal(t, 800, count(t, db, `SELECT count(*)::int FROM dynamodb.tenure_information`))
	var applied int
	applied = count(t, db, `SELECT sum(changes_applied)::int FROM ddbsync.shards`)
	require.Positive(t, applied)
}
