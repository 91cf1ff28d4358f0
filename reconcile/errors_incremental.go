package reconcile

import (
	"errors"
	"fmt"
	"time"
)

// The conditions of incremental exports, `heal` and `sync` (see errors.go).
var (
	// ErrWindowNotCovered is an incremental export whose window does not
	// fit the copy: it starts after the instant up to which the copy is
	// complete (the changes in between would be missing), or well before
	// the instant of rows loaded from a full export (an item created in
	// between and deleted later would stay). A load returns it as a
	// [*WindowError], and applies nothing.
	ErrWindowNotCovered = errors.New("the incremental export's window does not fit the copy")
	// ErrBeyondPITR is a gap in the copy that starts before the earliest
	// instant point-in-time recovery can export: no incremental export can
	// fill it. Heal and sync return it as a [*PITRGapError].
	ErrBeyondPITR = errors.New("the copy's gap starts before point-in-time recovery reaches")
)

// WindowError is an incremental export whose window does not fit the
// copy; it matches [ErrWindowNotCovered].
type WindowError struct {
	Table string
	// From and To are the export's window.
	From, To time.Time
	// Complete is the instant before which the copy holds every write
	// ([Coverage.Complete]); the window must start at or before it.
	Complete time.Time
	// Undated, when set, is the latest instant of the copy's rows that
	// carry an export's (or a scan's) instant rather than their write's
	// time; the window must not start more than [FullExportFuzz] before it.
	Undated *time.Time
}

func (e *WindowError) Error() string {
	if e.Undated != nil {
		return fmt.Sprintf("table %s: %v: the export's window is [%s, %s), but the copy holds rows as of %s, loaded from "+
			"an export (or repaired from one, or from a scan), which tell nothing of when their items were written; an item "+
			"created in [%s, %s) and deleted later in the window is in no line of the export, and would stay in the copy. "+
			"The window must start at or after %s; nothing was applied",
			e.Table, ErrWindowNotCovered, fmtInstant(e.From), fmtInstant(e.To), fmtInstant(*e.Undated),
			fmtInstant(e.From), fmtInstant(*e.Undated), fmtInstant(e.Undated.Add(-FullExportFuzz)))
	}
	return fmt.Sprintf("table %s: %v: the export's window is [%s, %s), but the copy holds every write only before %s, "+
		"so the writes in [%s, %s) are in neither; nothing was applied",
		e.Table, ErrWindowNotCovered, fmtInstant(e.From), fmtInstant(e.To), fmtInstant(e.Complete),
		fmtInstant(e.Complete), fmtInstant(e.From))
}

func (e *WindowError) Unwrap() error { return ErrWindowNotCovered }

// PITRGapError is a gap older than point-in-time recovery reaches; it
// matches [ErrBeyondPITR].
type PITRGapError struct {
	Table string
	// From is where the copy's gap starts; Earliest is the table's
	// EarliestRestorableDateTime.
	From, Earliest time.Time
}

func (e *PITRGapError) Error() string {
	return fmt.Sprintf("table %s: %v: the copy holds every write only before %s, and point-in-time recovery reaches back to %s: "+
		"the writes in [%s, %s) can be exported by no incremental export",
		e.Table, ErrBeyondPITR, fmtInstant(e.From), fmtInstant(e.Earliest), fmtInstant(e.From), fmtInstant(e.Earliest))
}

func (e *PITRGapError) Unwrap() error { return ErrBeyondPITR }

func fmtInstant(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
