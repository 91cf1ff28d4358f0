package cli

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/snapshot"
	"github.com/ddbsync/ddbsync/stream"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

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
			&stream.GapError{Table: "G", Acceptable: true}, exitFinding, "fill the gap with incremental exports: ddbsync heal --table G " +
				"--s3 s3://BUCKET/PREFIX, then follow again (point-in-time recovery must reach back to the gap; otherwise take a new " +
				"export and load it: ddbsync export --table G --s3 s3://BUCKET/PREFIX --load); or, to go on knowingly, rerun with --accept-gap"},
		{"a gap names heal, and a new export", followRefusals,
			&stream.GapError{Table: "G"}, exitFinding, "fill the gap with incremental exports: ddbsync heal --table G"},
		{"a replaced stream names heal", followRefusals,
			&reconcile.TableError{Table: "S", Err: fmt.Errorf("%w: %w", reconcile.ErrStreamChanged, stream.ErrGap)}, exitFinding,
			"fill the gap with incremental exports: ddbsync heal --table S"},
		{"an incremental export that leaves a gap says where it must start", loadRefusals,
			&reconcile.WindowError{Table: "W", From: t0.Add(time.Hour), To: t0.Add(2 * time.Hour), Complete: t0}, exitFinding,
			"export a window that starts at or before 2026-11-01T12:00:00.000Z (ExportFromTime), or let ddbsync ask for the right ones: ddbsync heal --table W"},
		{"an incremental export that starts too early says where it must start", loadRefusals,
			&reconcile.WindowError{Table: "W", From: t0.Add(-time.Hour), To: t0.Add(time.Hour), Complete: t0, Undated: &t0}, exitFinding,
			"export a window that starts between 2026-11-01T11:59:00.000Z and 2026-11-01T12:00:00.000Z"},
		{"an incremental export onto no copy asks for a full load", loadRefusals,
			&reconcile.TableError{Table: "N", Err: reconcile.ErrNotLoaded}, exitFinding, "load a full export first: ddbsync export --table N"},
		{"a gap older than PITR needs a full export", healRefusals,
			&reconcile.PITRGapError{Table: "P", From: t0, Earliest: t0.Add(time.Hour)}, exitFinding,
			"only a full export can restore this copy: take a new export and load it: ddbsync export --table P"},
		{"heal without PITR: enable it, then a full export", healRefusals,
			fmt.Errorf("table P: %w", snapshot.ErrPITRDisabled), exitFinding,
			"enable it: aws dynamodb update-continuous-backups --table-name Flag"},
		{"a damaged incremental export AWS wrote: another prefix", syncRefusals,
			&snapshot.FileError{File: "x", Err: snapshot.ErrChecksum}, exitFinding, "the export AWS wrote is damaged; run heal again with another --s3 prefix"},
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
