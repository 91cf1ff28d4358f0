package reconcile

import "github.com/ddbsync/ddbsync/reconcile/store"

// The data table layout and the table locks are defined in [store]; these
// names let load, follow, diff and their callers name them here.

// DefaultSchema is the PostgreSQL schema data tables live in unless told otherwise.
const DefaultSchema = store.DefaultSchema

// Layout is where and how one DynamoDB table is kept in PostgreSQL.
type Layout = store.Layout

// Provenance says where a row's image came from.
type Provenance = store.Provenance

// NewLayout names the data table of a DynamoDB table; see [store.NewLayout].
func NewLayout(table, schema string, key KeySchema) (Layout, error) {
	return store.NewLayout(table, schema, key)
}

// KeySchema is a DynamoDB table's primary key; see [store.KeySchema].
type KeySchema = store.KeySchema

// KeyAttribute is one attribute of a primary key; see [store.KeyAttribute].
type KeyAttribute = store.KeyAttribute

// ParseKeySchema parses a key as the --key flag takes it; see
// [store.ParseKeySchema].
func ParseKeySchema(spec string) (KeySchema, error) { return store.ParseKeySchema(spec) }

// The origins of a row's image.
const (
	OriginExport = store.OriginExport
	OriginStream = store.OriginStream
	OriginScan   = store.OriginScan
	OriginVerify = store.OriginVerify
	// OriginIncremental is a row an incremental export applied.
	OriginIncremental = store.OriginIncremental
)

// ErrBusy is a table that another ddbsync process is loading, following or
// diffing, still so after the lock timeout. The error is a [*BusyError].
var ErrBusy = store.ErrBusy

// BusyError says which process holds a table, and how long we waited.
type BusyError = store.BusyError

// DefaultLockTimeout is how long load, follow and diff wait for another
// ddbsync process to let go of a table before they refuse with [ErrBusy].
const DefaultLockTimeout = store.DefaultLockTimeout
