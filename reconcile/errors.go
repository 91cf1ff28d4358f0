package reconcile

import (
	"errors"
	"fmt"
)

// More conditions callers branch on, matched with errors.Is. The errors
// describe the problem; what to do about it is the caller's to say.
var (
	// ErrDuplicateKey is an export that holds the same key twice under the
	// load's key schema: the export is corrupt, or the key schema is not the
	// table's. [Load] returns it wrapped with [snapshot.ErrCorrupt].
	ErrDuplicateKey = errors.New("the export holds the same key twice")
	// ErrTableTaken is a load whose data table already holds another
	// DynamoDB table's copy; [Load] returns it.
	ErrTableTaken = errors.New("the data table holds another DynamoDB table's copy")
	// ErrUnfinishedLoad is an unfinished load of the same export whose
	// recorded files this export does not match, so it cannot be resumed;
	// [Load] returns it.
	ErrUnfinishedLoad = errors.New("the table's unfinished load cannot be resumed")
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
