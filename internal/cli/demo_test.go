package cli_test

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/pgtest"
)

func TestDemoCmd_RunsEndToEnd(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	// At the default log level: the library's info lines used to break
	// into the story.
	code, out, errOut := run(t, "demo", "--items", "800", "--database-url", db)
	require.Equal(t, 0, code, errOut)
	for _, want := range []string{
		"exported the table (ExportTableToPointInTime) to s3://demo-exports/tenure/AWSDynamoDB/",
		"loaded 800 items into \"dynamodb\".\"tenure_information\"",
		// 2 rounds of 40 updates, 4 deletes and 4 adds after the export;
		// the 800 first writes are replayed. It used to say only "896
		// changes applied" after making 96.
		"followed the stream from the export time: 96 changes made after the export, " +
			"plus 800 writes from the 5 minutes before it, replayed because an export's instant is not exact",
		"checked the copy against a Scan of the table: all 800 items identical",
		"-- Active tenures by tenure type",
		"Secure |",
	} {
		require.Contains(t, out, want)
	}
	require.NotContains(t, out+errOut, "level=INFO")
}

// A user ran the demo with DATABASE_URL naming the database holding their
// real copy, and the demo replaced it with sample rows and pointed the
// bookkeeping at the emulator's export.
func TestDemoCmd_LeavesTheGivenDatabaseAlone(t *testing.T) {
	db := pgtest.URL(t)
	dir := sampleExport(t, 300, 2)
	code, _, errOut := run(t, "load", "--export", dir, "--key", "id", "--database-url", db, "--progress", "none")
	require.Equal(t, 0, code, errOut)
	before := dumpTables(t, db)
	require.Contains(t, before, "dynamodb.tenure_information")

	code, out, errOut := run(t, "demo", "--items", "200", "--database-url", db, "--log-level", "warn")
	require.Equal(t, 0, code, errOut)

	require.Equal(t, before, dumpTables(t, db), "the user's tables and bookkeeping are unchanged")
	name := demoDatabase(t, out)
	require.Contains(t, out, "checked the copy against a Scan of the table: all 200 items identical")
	require.Contains(t, out, "database "+name+" dropped")
	require.Zero(t, count(t, db, fmt.Sprintf(`SELECT count(*)::int FROM pg_database WHERE datname = '%s'`, name)),
		"the demo's database is dropped")
}

func TestDemoCmd_RefusesWhenItCannotCreateADatabase(t *testing.T) {
	code, _, _ := demoWithoutCreateDB(t)
	require.Equal(t, 1, code, "a refusal")
}

// demoWithoutCreateDB runs the demo as a role that may not create
// databases, and checks that it refused and touched nothing.
func demoWithoutCreateDB(t *testing.T) (code int, out, errOut string) {
	t.Helper()
	db := pgtest.URL(t)
	role := fmt.Sprintf("ddbsync_nocreatedb_%d", count(t, db, `SELECT (random()*1e9)::int`))
	execSQL(t, db, `CREATE ROLE `+role+` LOGIN NOCREATEDB`)
	t.Cleanup(func() { // t.Context is done by now
		conn, err := pgx.Connect(context.Background(), db)
		require.NoError(t, err)
		defer conn.Close(context.Background())
		_, err = conn.Exec(context.Background(), `DROP ROLE `+role)
		require.NoError(t, err)
	})
	cfg, err := pgx.ParseConfig(db)
	require.NoError(t, err)

	asRole := fmt.Sprintf("postgres://%s@%s:%d/%s", role, cfg.Host, cfg.Port, cfg.Database)
	if cfg.Host[0] == '/' { // a Unix socket: the throwaway cluster
		asRole = fmt.Sprintf("host=%s port=%d user=%s dbname=%s", cfg.Host, cfg.Port, role, cfg.Database)
	}
	before := dumpTables(t, db)
	code, out, errOut = run(t, "demo", "--items", "50", "--database-url", asRole)
	require.Contains(t, errOut, "the demo works only in a database it creates, and role "+role+" may not create one")
	require.Contains(t, errOut, "ALTER ROLE "+`"`+role+`"`+" CREATEDB, or unset DATABASE_URL")
	require.Equal(t, before, dumpTables(t, db))
	return code, out, errOut
}

// demoDatabase is the database the demo said it works in.
func demoDatabase(t *testing.T, out string) string {
	t.Helper()
	m := regexp.MustCompile(`PostgreSQL: database (ddbsync_demo_[0-9a-f]+), created for the demo`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	return m[1]
}

// dumpTables returns every row of every table in the dynamodb and ddbsync
// schemas as text, by table.
func dumpTables(t *testing.T, dbURL string) map[string]string {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dbURL)
	require.NoError(t, err)
	defer conn.Close(t.Context())
	rows, err := conn.Query(t.Context(), `SELECT table_schema || '.' || table_name FROM information_schema.tables
		WHERE table_schema IN ('dynamodb', 'ddbsync') ORDER BY 1`)
	require.NoError(t, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	dump := map[string]string{}
	for _, tbl := range tables {
		var s string
		require.NoError(t, conn.QueryRow(t.Context(),
			`SELECT coalesce(string_agg(t::text, E'\n' ORDER BY t::text), '') FROM `+tbl+` t`).Scan(&s))
		dump[tbl] = s
	}
	return dump
}
