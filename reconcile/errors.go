package reconcile

import (
	"errors"
	"fmt"
)

// The conditions callers of load, follow and diff branch on, matched with
// errors.Is. They are defined here, in one place, so that a caller (the
// command line's exit statuses) names them without caring which part found
// them. The errors describe the problem; what to do about it is the
// caller's to say.
var (
	// ErrTableNotOurs is a data table name taken by a table ddbsync does
	// not manage; a load returns it.
	ErrTableNotOurs = errors.New("table exists and is not managed by ddbsync")
	// ErrSchemaMoved is a load into another schema than the one holding
	// the table's published copy, without asking to move it; a load
	// returns it as a [*SchemaMovedError].
	ErrSchemaMoved = errors.New("the table's copy is in another schema")
	// ErrDuplicateKey is an export that holds the same key twice under the
	// load's key schema: the export is corrupt, or the key schema is not the
	// table's. A load returns it wrapped with [snapshot.ErrCorrupt].
	ErrDuplicateKey = errors.New("the export holds the same key twice")
	// ErrTableTaken is a load whose data table already holds another
	// DynamoDB table's copy.
	ErrTableTaken = errors.New("the data table holds another DynamoDB table's copy")
	// ErrUnfinishedLoad is an unfinished load of the same export whose
	// recorded files this export does not match, so it cannot be resumed.
	ErrUnfinishedLoad = errors.New("the table's unfinished load cannot be resumed")

	// ErrNotLoaded is a table that has no loaded copy to follow or diff;
	// it comes as a [*TableError].
	ErrNotLoaded = errors.New("table has not been loaded")
	// ErrStreamChanged is a table whose stream is not the one followed so
	// far; a follow returns it as a [*TableError]. (Gaps are a
	// [*github.com/ddbsync/ddbsync/stream.GapError].)
	ErrStreamChanged = errors.New("the table's stream changed")

	// ErrInconsistent is a diff that found the copy differs from its source
	// of truth (missing, extra or different rows not explained by changes
	// in flight); the diff's summary says how.
	ErrInconsistent = errors.New("the PostgreSQL copy differs from the source")
	// ErrNotCaughtUp is a copy whose follow watermark W is earlier than the
	// source's instant: a diff cannot compare it yet.
	ErrNotCaughtUp = errors.New("the copy has not caught up with the source's instant")
	// ErrHistoryUnknown is history asked for on a copy that has changed
	// since its export: the versions in between were never recorded.
	ErrHistoryUnknown = errors.New("the copy's history since its export is unknown")
)

// TableError is a condition of one DynamoDB table, for callers that say
// what to do about it and need the table's name. It matches the sentinel
// its Err wraps ([ErrNotLoaded], [ErrStreamChanged], ...).
type TableError struct {
	Table string
	Err   error
}

func (e *TableError) Error() string { return e.Err.Error() }
func (e *TableError) Unwrap() error { return e.Err }

// SchemaMovedError is a load into another schema than the one holding the
// table's published copy; it matches [ErrSchemaMoved].
type SchemaMovedError struct {
	Table string
	// CopySchema and Copy are where the published copy is (Copy is the
	// quoted schema.name); Target is where this load would put it.
	CopySchema, Copy, Target string
}

func (e *SchemaMovedError) Error() string {
	return fmt.Sprintf("loading %s: %v: its copy is %s, this load is into %s; reloading it where it is, or moving it "+
		"(with the views, indexes and grants built on it), must be asked for", e.Table, ErrSchemaMoved, e.Copy, e.Target)
}

func (e *SchemaMovedError) Unwrap() error { return ErrSchemaMoved }
