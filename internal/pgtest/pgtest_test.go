package pgtest_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestNew_GivesEachTestItsOwnMigratedDatabase(t *testing.T) {
	t.Parallel()
	a, b := pgtest.New(t), pgtest.New(t)
	var nameA, nameB string
	var versions int
	require.NoError(t, a.QueryRow(t.Context(), "SELECT current_database()").Scan(&nameA))
	require.NoError(t, b.QueryRow(t.Context(), "SELECT current_database()").Scan(&nameB))
	require.NotEqual(t, nameA, nameB)
	require.NoError(t, b.QueryRow(t.Context(), "SELECT count(*) FROM ddbsync.goose_db_version WHERE version_id > 0").Scan(&versions))
	require.Positive(t, versions)
	_, err := a.Exec(t.Context(), "CREATE TABLE mine (x int)")
	require.NoError(t, err)
	_, err = b.Exec(t.Context(), "SELECT * FROM mine")
	require.Error(t, err, "a table made in one test's database shows in another's")
}

func TestNew_ManyAtOnce(t *testing.T) {
	t.Parallel()
	for i := range 4 {
		t.Run("", func(t *testing.T) {
			t.Parallel()
			pool := pgtest.New(t)
			require.NoError(t, pool.Ping(t.Context()), "database %d", i)
		})
	}
}
