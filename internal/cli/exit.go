package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ddbsync/ddbsync/reconcile"
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
// failure (exit 2).
type refusals []refusal

type refusal struct {
	err  error
	hint string
}

// badExport: the export cannot be used as it is.
var badExport = refusals{
	{snapshot.ErrUnsupported, ""}, {snapshot.ErrChecksum, ""}, {snapshot.ErrCount, ""},
	{snapshot.ErrMissingFile, ""}, {snapshot.ErrOutsideExport, ""}, {snapshot.ErrCorrupt, ""},
}

// busy: another ddbsync process holds the table longer than --lock-timeout.
var busy = refusals{{reconcile.ErrBusy, "wait for it to finish (or stop it), or wait longer with --lock-timeout"}}

var notLoaded = refusals{{reconcile.ErrNotLoaded, ""}}

// The refusals of each command. A condition missing from a command's list
// is a failure there: diff exits 1 when it finds inconsistencies, so a
// damaged export it cannot read is a failure of the diff, not a refusal.
var (
	loadRefusals = join(badExport, busy, refusals{
		{reconcile.ErrTableNotOurs, ""}, {reconcile.ErrSchemaMoved, ""},
	})
	exportRefusals = join(loadRefusals, refusals{
		{snapshot.ErrPITRDisabled, ""}, {snapshot.ErrExportFailed, ""},
	})
	followRefusals = join(notLoaded, busy, refusals{
		{stream.ErrGap, ""}, {stream.ErrViewType, ""}, {reconcile.ErrStreamChanged, ""},
	})
	diffRefusals   = join(notLoaded, busy, refusals{{reconcile.ErrInconsistent, ""}})
	statusRefusals = notLoaded
	demoRefusals   = refusals{{errDemoNeedsItsOwnDatabase, ""}}
)

func join(lists ...refusals) refusals {
	var all refusals
	for _, l := range lists {
		all = append(all, l...)
	}
	return all
}

// classify gives err its exit status.
func (rs refusals) classify(err error) error {
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
		if errors.Is(err, r.err) {
			return &exitError{status: exitFinding, err: err, hint: r.hint}
		}
	}
	return &exitError{status: exitFailure, err: err}
}

// runE makes a command's RunE whose errors are classified by rs.
func (rs refusals) runE(run func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		err := run(cmd, args)
		if err != nil && errors.Is(err, context.Canceled) && cmd.Context().Err() != nil {
			if !strings.Contains(err.Error(), "interrupted") {
				err = fmt.Errorf("interrupted: %w", err)
			}
			return &exitError{status: exitFailure, err: err}
		}
		return rs.classify(err)
	}
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
