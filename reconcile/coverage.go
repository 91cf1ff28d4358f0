package reconcile

import (
	"context"
	"fmt"
	"time"

	"github.com/ddbsync/ddbsync/reconcile/store"
)

// Coverage is how far a table's copy reaches, as the bookkeeping records
// it: what an incremental export applied onto it must start before, and
// where `heal` and `sync` ask the next one to start.
type Coverage struct {
	LoadedTable
	// Exact tells that ExportTime, T, is the end of an incremental export
	// applied onto the copy: its window is cut by DynamoDB's own write
	// timestamps. Otherwise T is a full export's instant, which AWS
	// documents as fuzzy by about a minute ([FullExportFuzz]).
	Exact bool
	// Watermark is the follow's W (or, for a table `sync` keeps, the end
	// of its last export); nil when none was published since T.
	Watermark *time.Time
}

// ReadCoverage reads table's coverage. A table never loaded is a
// [*TableError] matching [ErrNotLoaded].
func ReadCoverage(ctx context.Context, q store.Querier, table string) (Coverage, error) {
	lt, err := ReadLoadedTable(ctx, q, table)
	if err != nil {
		return Coverage{}, err
	}
	pub, err := store.Tables.Get(ctx, q, table)
	if err != nil {
		return Coverage{}, err
	}
	if pub == nil {
		return Coverage{}, &TableError{Table: table, Err: fmt.Errorf("%w: %s", ErrNotLoaded, table)}
	}
	w, err := store.Streams.Watermark(ctx, q, table)
	if err != nil {
		return Coverage{}, err
	}
	return Coverage{LoadedTable: lt, Exact: pub.ExportType == string(store.ExportIncremental), Watermark: w}, nil
}

// AsOf is the copy's instant: the later of T and W.
func (c Coverage) AsOf() time.Time {
	if c.Watermark != nil && c.Watermark.After(c.ExportTime) {
		return *c.Watermark
	}
	return c.ExportTime
}

// Complete is the instant before which the copy provably holds every
// write, where an incremental export applied onto it may start at the
// latest: T (a full export's instant, or an incremental export's end), or
// W − skew when that is later (stream times are rounded down to the second
// and come from another clock than write timestamps; skew is the replay
// margin, 5 minutes by default).
func (c Coverage) Complete(skew time.Duration) time.Time {
	t := c.ExportTime
	if c.Watermark != nil && c.Watermark.Add(-skew).After(t) {
		t = c.Watermark.Add(-skew)
	}
	return t
}

// FullExportFuzz is how far a full export's instant is from the writes it
// holds: AWS guarantees every write committed up to a minute before it and
// none from more than a minute after it. Rows loaded from a full export (or
// repaired from an export or a scan) carry that instant, not their write's
// time, so an incremental export that starts more than this before it is
// refused: an item created between the two instants and deleted later in
// the window is in no line of the export (AWS leaves out items created and
// deleted inside the window), and would stay in the copy.
const FullExportFuzz = time.Minute
