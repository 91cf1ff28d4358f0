package cli

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/stream"
)

func TestClassify_HintsKeepTheExitStatus(t *testing.T) {
	tests := []struct {
		name   string
		rs     refusals
		err    error
		status int
		hint   string
	}{
		{"a failure with a hint stays a failure", diffRefusals,
			fmt.Errorf("%w: the copy must catch up first", reconcile.ErrNotCaughtUp), exitFailure,
			"run ddbsync follow --table Flag --until-caught-up first"},
		{"a refusal names the table of its error", followRefusals,
			&reconcile.TableError{Table: "Named", Err: reconcile.ErrNotLoaded}, exitFinding,
			"load it first: ddbsync load --export SRC --table Named"},
		{"an acceptable gap offers --accept-gap", followRefusals,
			&stream.GapError{Table: "G", Acceptable: true}, exitFinding, "take a new export and load it: ddbsync export --table G --s3 s3://BUCKET/PREFIX --load, then follow again; or, to go on knowingly, rerun with --accept-gap"},
		{"a gap names a new export", followRefusals,
			&stream.GapError{Table: "G"}, exitFinding, "take a new export and load it: ddbsync export --table G"},
		{"the schema moved names the copy's schema", loadRefusals,
			&reconcile.SchemaMovedError{Table: "T", CopySchema: "a", Copy: `"a"."t"`, Target: `"b"."t"`}, exitFinding,
			"load with --schema a to reload it where it is, or pass --move-schema"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			status := exitCode(&stderr, nil, tc.rs.classify(tc.err, "Flag"))
			require.Equal(t, tc.status, status)
			require.Contains(t, stderr.String(), "\nddbsync: "+tc.hint)
		})
	}
}
