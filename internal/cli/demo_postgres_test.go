package cli

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// --keep prints connection strings: with the demo's database, and never
// with a password.
func TestDemoConnectionStrings(t *testing.T) {
	tests := []struct{ name, in, withDB, printed string }{
		{"URL", "postgres://ana:s3cret@db.example:5433/analytics?sslmode=require",
			"postgres://ana:s3cret@db.example:5433/ddbsync_demo_ab?sslmode=require",
			"postgres://ana@db.example:5433/analytics?sslmode=require"},
		{"URL, password parameter", "postgresql://ana@db/analytics?password=s3cret",
			"postgresql://ana@db/ddbsync_demo_ab?password=s3cret",
			"postgresql://ana@db/analytics"},
		{"keyword/value", "host=db user=ana password='s3 cret' dbname=analytics",
			"host=db user=ana password='s3 cret' dbname=analytics dbname=ddbsync_demo_ab",
			"host=db user=ana dbname=analytics"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.withDB, withDatabase(tc.in, "ddbsync_demo_ab"))
			cfg, err := pgx.ParseConfig(tc.withDB)
			require.NoError(t, err)
			require.Equal(t, "ddbsync_demo_ab", cfg.Database, "the last dbname wins")
			require.Equal(t, tc.printed, withoutPassword(tc.in))
		})
	}
}
