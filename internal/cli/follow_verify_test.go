package cli_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/cli"
	"github.com/ddbsync/ddbsync/internal/tenure"
)

// followStoppedByVerify follows a loaded table whose copy has a row added
// behind ddbsync's back, verifying with --on-mismatch stop, and checks
// what status then shows. The follow runs on the wall clock: the
// comparison waits for W to pass the read plus a one-second window, and W
// trails now by the caught-up rule's span and propagation margin (2 s and
// 5 s, which the command line does not change): about ten seconds.
func followStoppedByVerify(t *testing.T) (int, string) {
	t.Helper()
	emu, db := loadedEmulatedTable(t)
	// A row DynamoDB never had (the stream's replay rewrites the others).
	execSQL(t, db, `INSERT INTO dynamodb.tenure_information (id, item, origin, origin_time)
		SELECT 'ghost', jsonb_set(item, '{id,S}', '"ghost"'), origin, origin_time FROM dynamodb.tenure_information LIMIT 1`)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a follow that never stops is a failure
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := cli.RunContext(ctx, []string{"follow", "--table", tenure.TableName, "--database-url", db, "--endpoint-url", emu.URL(),
		"--poll-interval", "10ms", "--discover-interval", "100ms", "--verify", "6000/min", "--verify-window", "1s", "--on-mismatch", "stop"},
		strings.NewReader(""), &stdout, &stderr)
	require.NoError(t, ctx.Err(), "the follow did not stop on the mismatch")
	errOut := stderr.String()
	require.Contains(t, errOut, "strongly consistent read of DynamoDB")
	require.Contains(t, errOut, "ddbsync.verifications")
	require.Contains(t, errOut, "--on-mismatch log", "the CLI says what to do")

	scode, out, serr := run(t, "status", "--table", tenure.TableName, "--database-url", db)
	require.Equal(t, 0, scode, serr)
	require.Regexp(t, `verify +\d+ keys checked, 1 mismatches, \d+ in flight; last check `, out)
	require.Contains(t, out, "(see ddbsync.verifications)")
	return code, errOut
}

func TestFollowCmd_VerifySettingsAreChecked(t *testing.T) {
	t.Parallel()
	for name, args := range map[string][]string{
		"rate without a unit": {"--verify", "60"},
		"unknown unit":        {"--verify", "60/day"},
		"negative rate":       {"--verify", "-1/min"},
		"unknown action":      {"--verify", "60/min", "--on-mismatch", "panic"},
		"negative rcu":        {"--verify", "60/min", "--verify-rcu", "-1"},
	} {
		t.Run(name, func(t *testing.T) {
			code, _, errOut := run(t, append([]string{"follow", "--table", tenure.TableName, "--database-url", "postgres://nobody@127.0.0.1:1/x"}, args...)...)
			require.Equal(t, 2, code, errOut)
			require.NotContains(t, errOut, "connecting", "refused before connecting")
		})
	}
	for name, text := range map[string]string{
		"bad rate":       "tables:\n  - name: A\n    verify: fast\n",
		"bad action":     "tables:\n  - name: A\n    on_mismatch: panic\n",
		"negative rcu":   "tables:\n  - name: A\n    verify_rcu: -2\n",
		"unknown option": "tables:\n  - name: A\n    verify_keys: 3\n",
	} {
		t.Run("config "+name, func(t *testing.T) {
			code, _, errOut := run(t, "status", "--config", writeConfig(t, text))
			require.Equal(t, 2, code, errOut)
			require.Contains(t, errOut, "config ")
		})
	}
}
