package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/snapshot"
	"github.com/ddbsync/ddbsync/stream"
)

// Exit statuses, as diff(1) uses them.
const (
	exitOK      = 0
	exitFinding = 1 // a finding or refusal the user must act on
	exitFailure = 2 // usage, configuration, I/O or database failure
)

// usageError is a mistake in the command line or configuration.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// refusals are conditions the user must act on rather than retry: exit 1.
var refusals = []error{
	snapshot.ErrUnsupported, snapshot.ErrChecksum, snapshot.ErrCount,
	snapshot.ErrMissingFile, snapshot.ErrOutsideExport, snapshot.ErrCorrupt, snapshot.ErrPITRDisabled, snapshot.ErrExportFailed,
	stream.ErrGap, stream.ErrViewType, reconcile.ErrStreamChanged, reconcile.ErrNotLoaded, reconcile.ErrTableNotOurs, reconcile.ErrBusy,
	reconcile.ErrInconsistent,
}

func exitCode(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "ddbsync: %v\n", err)
	if errors.Is(err, context.Canceled) {
		return exitFailure
	}
	for _, r := range refusals {
		if errors.Is(err, r) {
			return exitFinding
		}
	}
	return exitFailure
}
