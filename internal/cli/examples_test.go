package cli_test

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The example configuration in the repository must stay valid.
func TestConfig_ExampleFileIsValid(t *testing.T) {
	t.Parallel()
	code, _, errOut := run(t, "status", "--config", "../../examples/ddbsync.yaml", "--database-url", "")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "pass --database-url", "the file parsed; only the database is missing")
}
