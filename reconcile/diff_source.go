package reconcile

import (
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// diffColumns are the columns a diff fills in its scratch table: the data
// table's, less the plain doc (the comparison uses the lossless item only;
// a repair makes the docs of the rows it writes) and the stream columns.
func diffColumns(l Layout) []string {
	return append(append([]string(nil), l.KeyColumns...), ColItem, ColOrigin, ColOriginTime)
}

// imageEncoder makes scratch table rows in [diffColumns] order. Like
// [rowEncoder], its buffers are reused from row to row.
type imageEncoder struct {
	keys rowEncoder
	vals []any
	item []byte
}

func newImageEncoder(l Layout) *imageEncoder {
	return &imageEncoder{keys: rowEncoder{layout: l}, vals: make([]any, len(diffColumns(l)))}
}

func (e *imageEncoder) encode(item ddbjson.Item, p Provenance) ([]any, error) {
	key, err := e.keys.layout.Key.KeyOf(item)
	if err != nil {
		return nil, err
	}
	n := len(e.keys.layout.KeyColumns)
	if err := e.keys.keyValues(key, e.vals[:n]); err != nil {
		return nil, err
	}
	if e.item, err = ddbjson.AppendItem(e.item[:0], item); err != nil {
		return nil, err
	}
	e.vals[n] = e.item
	e.vals[n+1] = p.Origin
	e.vals[n+2] = nullTime(p.Time)
	return e.vals, nil
}

// repairRows is a pgx.CopyFromSource of full data table rows (doc
// included) made from the source images a query returns, one at a time.
type repairRows struct {
	rows pgx.Rows
	enc  *rowEncoder
	prov Provenance
	vals []any
	err  error
}

func (s *repairRows) Next() bool {
	if !s.rows.Next() {
		return false
	}
	var raw []byte
	if s.err = s.rows.Scan(&raw); s.err != nil {
		return false
	}
	item, err := ddbjson.DecodeItem(raw)
	if err != nil {
		s.err = fmt.Errorf("decoding a source image: %w", err)
		return false
	}
	s.vals, s.err = s.enc.encode(item, s.prov)
	return s.err == nil
}

func (s *repairRows) Values() ([]any, error) { return s.vals, nil }

func (s *repairRows) Err() error {
	if s.err != nil {
		return s.err
	}
	return s.rows.Err()
}
