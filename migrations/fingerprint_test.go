package migrations_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/migrations"
)

func TestFingerprint_IsStableHex(t *testing.T) {
	t.Parallel()
	fp := migrations.Fingerprint()
	require.Regexp(t, "^[0-9a-f]{64}$", fp)
	require.Equal(t, fp, migrations.Fingerprint())
}
