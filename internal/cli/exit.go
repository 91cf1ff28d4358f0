package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/views"
	"github.com/ddbsync/ddbsync/snapshot"
	"github.com/ddbsync/ddbsync/stream"
)

// Exit statuses, as diff(1) uses them. The README's exit status table
// lists, for every command, which conditions give which status, and
// TestExitStatuses_MatchTheREADME holds the two together.
const (
	exitOK      = 0
	exitFinding = 1 // a finding, or a refusal the user must act on
	exitFailure = 2 // usage, configuration, I/O or database failure; interrupted
)

// errInterrupted marks an error a command returned because it was stopped
// (SIGINT, SIGTERM); a command that says so itself wraps it.
var errInterrupted = errors.New("interrupted")

// usageError is a mistake in the command line or configuration.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// exitError is an error its command has classified: the one place that
// decides an exit status is the command that knows what the error means.
type exitError struct {
	status int
	err    error
	hint   string // what to do, when the error does not say it
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// refusals lists the conditions a command refuses to act on (exit 1), with
// what the user can do about each; everything else it returns is a
// failure (exit 2). An entry marked failure keeps exit 2 and only adds its
// hint. The library errors describe the problem; the hints here are the
// one place that names commands and flags.
type refusals []refusal

type refusal struct {
	err     error
	hint    hint
	failure bool // a failure (exit 2) with a hint, not a refusal
}

// hint says what to do about err; table is the DynamoDB table the error is
// about (from the error, else the command's --table, else "T").
type hint func(err error, table string) string

// say is a hint that needs nothing from the error.
func say(s string) hint { return func(error, string) string { return s } }

// failure attaches h to a condition that stays a failure (exit 2).
func failure(err error, h hint) refusal { return refusal{err: err, hint: h, failure: true} }

// newExport is what recovers a copy the stream can no longer complete,
// when heal cannot.
func newExport(table string) string {
	return fmt.Sprintf("take a new export and load it: ddbsync export --table %s --s3 s3://BUCKET/PREFIX --load", table)
}

// healCmd is what recovers a copy the stream can no longer complete,
// without a full export, when point-in-time recovery covers the gap.
func healCmd(table string) string {
	return fmt.Sprintf("ddbsync heal --table %s --s3 s3://BUCKET/PREFIX", table)
}

var (
	gapHint hint = func(err error, table string) string {
		h := "fill the gap with incremental exports: " + healCmd(table) + ", then follow again (point-in-time recovery " +
			"must reach back to the gap; otherwise " + newExport(table) + ")"
		if gap, ok := errors.AsType[*stream.GapError](err); ok && gap.Acceptable {
			h += "; or, to go on knowingly, rerun with --accept-gap and then run ddbsync diff"
		}
		return h
	}
	viewTypeHint hint = func(_ error, table string) string {
		return "enable the table's stream with NEW_AND_OLD_IMAGES or NEW_IMAGE (changing it creates a new stream), then " +
			healCmd(table) + " and follow again (or " + newExport(table) + ")"
	}
	healPITRHint hint = func(_ error, table string) string {
		return fmt.Sprintf("enable it: aws dynamodb update-continuous-backups --table-name %s "+
			"--point-in-time-recovery-specification PointInTimeRecoveryEnabled=true; it covers changes from then on only, so "+
			"%s now (heal and sync work for later gaps)", table, newExport(table))
	}
	beyondPITRHint hint = func(_ error, table string) string {
		return "only a full export can restore this copy: " + newExport(table)
	}
	windowHint hint = func(err error, table string) string {
		if e, ok := errors.AsType[*reconcile.WindowError](err); ok {
			at := "at or before " + fmtUTC(e.Complete)
			if e.Undated != nil {
				at = fmt.Sprintf("between %s and %s", fmtUTC(e.Undated.Add(-reconcile.FullExportFuzz)), fmtUTC(e.Complete))
			}
			return fmt.Sprintf("export a window that starts %s (ExportFromTime), or let ddbsync ask for the right ones: %s", at, healCmd(table))
		}
		return "let ddbsync ask for the right incremental exports: " + healCmd(table)
	}
	corruptIncrementalHint hint = func(_ error, table string) string {
		return "the export AWS wrote is damaged; run heal again with another --s3 prefix (the same one finds the same export " +
			"for 8 hours): " + healCmd(table)
	}
	incrementalNotLoadedHint hint = func(_ error, table string) string {
		return "load a full export first: ddbsync export --table " + table + " --s3 s3://BUCKET/PREFIX --load"
	}
	notLoadedHint hint = func(_ error, table string) string {
		return "load it first: ddbsync load --export SRC --table " + table
	}
	schemaMovedHint hint = func(err error, _ string) string {
		if e, ok := errors.AsType[*reconcile.SchemaMovedError](err); ok {
			return fmt.Sprintf("load with --schema %s to reload it where it is, or pass --move-schema to move it "+
				"(with the views, indexes and grants built on it) to %s", e.CopySchema, e.Target)
		}
		return "load with --schema <the schema it is in>, or pass --move-schema to move it"
	}
	pitrHint hint = func(_ error, table string) string {
		return fmt.Sprintf("enable it: aws dynamodb update-continuous-backups --table-name %s "+
			"--point-in-time-recovery-specification PointInTimeRecoveryEnabled=true; then export again", table)
	}
	mismatchHint hint = func(_ error, table string) string {
		return fmt.Sprintf("the mismatches are in ddbsync.verifications; run ddbsync follow --table %s again with "+
			"--on-mismatch log (or repair), and repair the copy with ddbsync diff --table %s --against scan --repair while it runs",
			table, table)
	}
	notCaughtUpHint hint = func(_ error, table string) string {
		return fmt.Sprintf("run ddbsync follow --table %s --until-caught-up first, then diff again "+
			"(a scan diff needs ddbsync follow --table %s running while it scans)", table, table)
	}
)

// badExport: the export cannot be used as it is. A key the export holds
// twice is corrupt under the key schema given, so it comes first.
var badExport = refusals{
	{err: reconcile.ErrDuplicateKey, hint: say("is --key right?")},
	{err: snapshot.ErrUnsupported, hint: say("export with ExportFormat DYNAMODB_JSON, as ddbsync export, heal and sync do")},
	{err: snapshot.ErrChecksum}, {err: snapshot.ErrCount},
	{err: snapshot.ErrMissingFile}, {err: snapshot.ErrOutsideExport}, {err: snapshot.ErrCorrupt},
}

// busy: another ddbsync process holds the table longer than --lock-timeout.
var busy = refusals{{err: reconcile.ErrBusy, hint: say("wait for it to finish (or stop it), or wait longer with --lock-timeout")}}

var notLoaded = refusals{{err: reconcile.ErrNotLoaded, hint: notLoadedHint}}

// The refusals of each command. A condition missing from a command's list
// is a failure there: diff exits 1 when it finds inconsistencies, so a
// damaged export it cannot read is a failure of the diff, not a refusal.
var (
	loadRefusals = join(badExport, busy, refusals{
		{err: reconcile.ErrNotLoaded, hint: incrementalNotLoadedHint},
		{err: reconcile.ErrWindowNotCovered, hint: windowHint},
		{err: reconcile.ErrTableNotOurs, hint: say("drop or rename that table, or load into another schema with --schema")},
		{err: reconcile.ErrSchemaMoved, hint: schemaMovedHint},
		failure(reconcile.ErrTableTaken, say("load one of them into another schema with --schema to keep them apart")),
		failure(reconcile.ErrUnfinishedLoad, say("start afresh: run the load again with --restart")),
	})
	exportRefusals = join(loadRefusals, refusals{
		{err: snapshot.ErrPITRDisabled, hint: pitrHint}, {err: snapshot.ErrExportFailed},
	})
	followRefusals = join(notLoaded, busy, refusals{
		{err: stream.ErrViewType, hint: viewTypeHint},
		{err: reconcile.ErrStreamChanged, hint: gapHint},
		{err: stream.ErrGap, hint: gapHint},
		{err: reconcile.ErrInconsistent, hint: mismatchHint}, // --verify with --on-mismatch stop
		{err: reconcile.ErrHistoryUnknown, hint: say("load the table again with --history: its history then starts at the new export's time")},
	})
	diffRefusals = join(notLoaded, busy, refusals{
		{err: reconcile.ErrInconsistent},
		failure(reconcile.ErrNotCaughtUp, notCaughtUpHint),
	})
	// healRefusals: what heal and sync refuse; an export AWS wrote that
	// fails its checks is a refusal too, with its own hint.
	healRefusals = join(refusals{
		{err: reconcile.ErrNotLoaded, hint: incrementalNotLoadedHint},
		{err: snapshot.ErrPITRDisabled, hint: healPITRHint},
		{err: reconcile.ErrBeyondPITR, hint: beyondPITRHint},
		{err: snapshot.ErrExportFailed, hint: say("AWS's failure code above says why; fix it and run the command again")},
		{err: snapshot.ErrChecksum, hint: corruptIncrementalHint}, {err: snapshot.ErrCount, hint: corruptIncrementalHint},
		{err: snapshot.ErrMissingFile, hint: corruptIncrementalHint}, {err: snapshot.ErrCorrupt, hint: corruptIncrementalHint},
		{err: snapshot.ErrOutsideExport, hint: corruptIncrementalHint}, {err: snapshot.ErrUnsupported, hint: corruptIncrementalHint},
	}, busy)
	viewsRefusals = join(notLoaded, refusals{{err: views.ErrDependents, hint: say("drop the views named, run ddbsync views " +
		"again, and create them again; or write the typed views to another --schema")}})
	syncRefusals   = healRefusals
	statusRefusals = notLoaded
	demoRefusals   = refusals{{err: errDemoNeedsItsOwnDatabase}}
)

func join(lists ...refusals) refusals {
	var all refusals
	for _, l := range lists {
		all = append(all, l...)
	}
	return all
}

// classify gives err its exit status, and its hint; table is the
// command's --table, for hints whose error does not name the table.
func (rs refusals) classify(err error, table string) error {
	if err == nil {
		return nil
	}
	var done *exitError
	if errors.As(err, &done) {
		return err
	}
	if errors.As(err, new(usageError)) {
		return &exitError{status: exitFailure, err: err}
	}
	for _, r := range rs {
		if !errors.Is(err, r.err) {
			continue
		}
		e := &exitError{status: exitFinding, err: err}
		if r.failure {
			e.status = exitFailure
		}
		if r.hint != nil {
			e.hint = r.hint(err, tableOf(err, table))
		}
		return e
	}
	return &exitError{status: exitFailure, err: err}
}

// runE makes a command's RunE whose errors are classified by rs.
func (rs refusals) runE(run func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		err := run(cmd, args)
		if err != nil && errors.Is(err, context.Canceled) && cmd.Context().Err() != nil {
			if !errors.Is(err, errInterrupted) {
				err = fmt.Errorf("%w: %w", errInterrupted, err)
			}
			return &exitError{status: exitFailure, err: err}
		}
		table := ""
		if f := cmd.Flags().Lookup("table"); f != nil {
			table = f.Value.String()
		}
		return rs.classify(err, table)
	}
}

// tableOf is the table err is about: the one it names, else the
// command's --table, else "T".
func tableOf(err error, flag string) string {
	if e, ok := errors.AsType[*reconcile.TableError](err); ok && e.Table != "" {
		return e.Table
	}
	if e, ok := errors.AsType[*stream.GapError](err); ok && e.Table != "" {
		return e.Table
	}
	if e, ok := errors.AsType[*reconcile.SchemaMovedError](err); ok && e.Table != "" {
		return e.Table
	}
	if e, ok := errors.AsType[*reconcile.WindowError](err); ok && e.Table != "" {
		return e.Table
	}
	if e, ok := errors.AsType[*reconcile.PITRGapError](err); ok && e.Table != "" {
		return e.Table
	}
	if flag != "" {
		return flag
	}
	return "T"
}

// exitCode prints err once and returns the exit status. An error no
// command classified came from parsing the command line.
func exitCode(stderr io.Writer, cmd *cobra.Command, err error) int {
	if err == nil {
		return exitOK
	}
	var e *exitError
	if !errors.As(err, &e) {
		path := "ddbsync"
		if cmd != nil {
			path = cmd.CommandPath()
		}
		e = &exitError{status: exitFailure, err: err, hint: fmt.Sprintf("run '%s --help' for usage", path)}
	}
	msg := strings.TrimRight(e.Error(), "\n")
	fmt.Fprintf(stderr, "ddbsync: %s\n", msg)
	if e.hint != "" {
		fmt.Fprintf(stderr, "ddbsync: %s\n", e.hint)
	}
	return e.status
}
