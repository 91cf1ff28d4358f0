package cli_test

import (
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/pgtest"
)

func TestRoot_Version(t *testing.T) {
	t.Parallel()
	code, out, errOut := run(t, "--version")
	require.Equal(t, 0, code, errOut)
	require.True(t, strings.HasPrefix(out, "ddbsync "), out)
	require.Contains(t, out, runtime.Version())
}

func TestRoot_HelpShowsNoSentinelDefaults(t *testing.T) {
	t.Parallel()
	code, out, errOut := run(t, "diff", "--help")
	require.Equal(t, 0, code, errOut)
	require.NotContains(t, out, "(default -1)")
	require.Contains(t, out, "--lock-timeout duration")
}

func TestStatusCmd_JSONOfNoTablesIsAnEmptyList(t *testing.T) {
	t.Parallel()
	code, out, errOut := run(t, "status", "--json", "--database-url", pgtest.URL(t))
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "[]", strings.TrimSpace(out))
}
