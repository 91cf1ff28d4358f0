package migrations_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/migrations"
)

// TestUp_WidensTheOriginCheckOfExistingTables: a data table created before
// incremental exports existed accepts origin 'incremental' after the
// migration, and keeps accepting what it accepted ('scan' after a repair).
func TestUp_WidensTheOriginCheckOfExistingTables(t *testing.T) {
	pool := migratedTo(t, 4)
	_, err := pool.Exec(t.Context(), `CREATE SCHEMA dynamodb;
		CREATE TABLE dynamodb.tenure_information (id text NOT NULL, item jsonb NOT NULL, doc jsonb NOT NULL,
			origin text NOT NULL CHECK (origin IN ('export', 'stream')), origin_time timestamptz, shard_id text,
			sequence_number numeric, synced_at timestamptz NOT NULL DEFAULT now());
		ALTER TABLE dynamodb.tenure_information DROP CONSTRAINT tenure_information_origin_check,
			ADD CONSTRAINT tenure_information_origin_check CHECK (origin IN ('export', 'stream', 'scan')) NOT VALID;
		INSERT INTO ddbsync.tables (table_name, pg_schema, pg_table, key_schema) VALUES ('TenureInformation', 'dynamodb', 'tenure_information', 'id:S');
		INSERT INTO dynamodb.tenure_information VALUES ('a', '{}', '{}', 'scan', now(), NULL, NULL)`)
	require.NoError(t, err)

	require.NoError(t, migrations.Up(t.Context(), pool, nil))
	for _, origin := range []string{"export", "stream", "scan", "incremental"} {
		_, err = pool.Exec(t.Context(), `INSERT INTO dynamodb.tenure_information VALUES ($1, '{}', '{}', $1, now(), NULL, NULL)`, origin)
		require.NoError(t, err, origin)
	}
	_, err = pool.Exec(t.Context(), `INSERT INTO dynamodb.tenure_information VALUES ('x', '{}', '{}', 'bogus', now(), NULL, NULL)`)
	require.ErrorContains(t, err, "origin_check")
	var exportType string
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT export_type FROM ddbsync.tables`).Scan(&exportType))
	require.Equal(t, "FULL_EXPORT", exportType)
}
