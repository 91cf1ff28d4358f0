package store

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// ColumnSet is which of a data table's columns an [Encoder] fills.
type ColumnSet int

const (
	// RowColumns are a data table row's: [Layout.Columns].
	RowColumns ColumnSet = iota
	// ImageColumns are a diff's source rows: the key columns, the lossless
	// item and the origin and its time. The comparison uses the item only
	// (a repair makes the docs of the rows it writes), so the plain doc and
	// the stream columns are left out.
	ImageColumns
)

// Columns lists the columns of set for layout l, in encoding order.
func (s ColumnSet) Columns(l Layout) []string {
	if s == ImageColumns {
		return append(slices.Clone(l.KeyColumns), ColItem, ColOrigin, ColOriginTime)
	}
	return l.Columns()
}

// Encoder turns items into the values of rows of one [ColumnSet]. Its
// buffers are reused from row to row: the values it returns are valid until
// the next call, which is what pgx's CopyFrom needs (it encodes each row
// before asking for the next).
type Encoder struct {
	layout Layout
	set    ColumnSet
	vals   []any
	item   []byte
	doc    []byte
}

// NewEncoder returns an encoder of set's columns of layout l.
func NewEncoder(l Layout, set ColumnSet) *Encoder {
	return &Encoder{layout: l, set: set, vals: make([]any, len(set.Columns(l)))}
}

// Columns are the encoder's columns, in the order of its values.
func (e *Encoder) Columns() []string { return e.set.Columns(e.layout) }

// ItemIndex is the index of the lossless item among the values.
func (e *Encoder) ItemIndex() int { return len(e.layout.KeyColumns) }

// Encode returns the row for item with provenance p.
func (e *Encoder) Encode(item map[string]types.AttributeValue, p Provenance) ([]any, error) {
	key, err := e.layout.Key.KeyOf(item)
	if err != nil {
		return nil, err
	}
	n := len(e.layout.KeyColumns)
	if err := e.layout.KeyValues(key, e.vals[:n]); err != nil {
		return nil, err
	}
	if e.item, err = ddbjson.AppendItem(e.item[:0], item); err != nil {
		return nil, err
	}
	e.vals[n] = e.item
	if e.set == ImageColumns {
		e.vals[n+1] = string(p.Origin)
		e.vals[n+2] = NullTime(p.Time)
		return e.vals, nil
	}
	n++
	if e.layout.Doc {
		if e.doc, err = ddbjson.AppendPlain(e.doc[:0], item); err != nil {
			return nil, err
		}
		e.vals[n] = e.doc
		n++
	}
	e.vals[n] = string(p.Origin)
	e.vals[n+1] = NullTime(p.Time)
	e.vals[n+2] = nullString(p.ShardID)
	e.vals[n+3] = nil
	if p.Sequence != "" {
		var seq pgtype.Numeric
		if err := seq.Scan(p.Sequence); err != nil {
			return nil, fmt.Errorf("sequence number %q: %w", p.Sequence, err)
		}
		e.vals[n+3] = seq
	}
	return e.vals, nil
}

// KeyValues fills dst with the PostgreSQL values of key's attributes, in
// key column order.
func (l Layout) KeyValues(key map[string]types.AttributeValue, dst []any) error {
	for i, a := range l.Key.Attributes() {
		v, err := keyValue(key[a.Name])
		if err != nil {
			return fmt.Errorf("key attribute %s: %w", a.Name, err)
		}
		dst[i] = v
	}
	return nil
}

// keyValue converts one key attribute to the Go value of its column.
func keyValue(v types.AttributeValue) (any, error) {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		if strings.IndexByte(v.Value, 0) >= 0 {
			return nil, fmt.Errorf("contains U+0000, which PostgreSQL text cannot hold")
		}
		return v.Value, nil
	case *types.AttributeValueMemberN:
		var n pgtype.Numeric
		norm, err := ddbjson.NormalizeNumber(v.Value)
		if err != nil {
			return nil, err
		}
		if err := n.Scan(norm); err != nil {
			return nil, err
		}
		return n, nil
	case *types.AttributeValueMemberB:
		return v.Value, nil
	}
	return nil, fmt.Errorf("type %s is not a key type", ddbjson.TypeOf(v))
}

// NullTime is t, or SQL NULL for the zero time.
func NullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}
