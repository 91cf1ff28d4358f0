package reconcile

import (
	"context"
	"fmt"
	"time"

	"github.com/ddbsync/ddbsync/reconcile/store"
)

// LoadedTable is a table's published copy, as ddbsync.tables records it:
// what follow and diff start from.
type LoadedTable struct {
	// Layout is the copy's data table, with doc when the table has it.
	Layout Layout
	// ExportTime is the time T of the export it was loaded from.
	ExportTime time.Time
}

// ReadLoadedTable reads table's published copy. A table never loaded is a
// [*TableError] matching [ErrNotLoaded].
func ReadLoadedTable(ctx context.Context, q store.Querier, table string) (LoadedTable, error) {
	pub, err := store.Tables.Get(ctx, q, table)
	if err != nil {
		return LoadedTable{}, err
	}
	if pub == nil {
		return LoadedTable{}, &TableError{Table: table, Err: fmt.Errorf("%w: %s", ErrNotLoaded, table)}
	}
	ks, err := ParseKeySchema(pub.KeySchema)
	if err != nil {
		return LoadedTable{}, err
	}
	l, err := NewLayout(table, pub.Schema, ks)
	if err != nil {
		return LoadedTable{}, err
	}
	l.Name = pub.Name
	// The copy's own columns say whether it has doc, whoever loaded it.
	if l.Doc, err = store.HasDoc(ctx, q, l.Ident()); err != nil {
		return LoadedTable{}, err
	}
	rec := LoadedTable{Layout: l, ExportTime: pub.ExportTime}
	if rec.ExportTime.IsZero() {
		return LoadedTable{}, fmt.Errorf("table %s: the loaded export records no export time, so there is no instant to replay from", table)
	}
	return rec, nil
}
