package store

import (
	"bytes"
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
	// ImageColumns are a diff's source rows that keep the image: the key
	// columns, the key attributes in DynamoDB JSON ([ColSourceKey]), the
	// item's [Digest] and the lossless item. A diff keeps images for a scan
	// (which cannot be read twice) and for the export rows found to differ.
	ImageColumns
	// DigestColumns are a diff's export rows: the key columns, the key
	// attributes, the item's [Digest], where the image is in the export
	// (the data file's index in the manifest, the line: the provenance's
	// File and Line), and the lossless item, NULL but for the items an
	// encoder was told to keep ([Encoder.KeepImagesNotIn]). The comparison
	// needs only the digest; the images of the few rows that differ are
	// kept as they are read, or read again from where they are.
	DigestColumns
)

// The columns of a diff's source rows besides the key columns.
const (
	ColSourceKey    = "source_key"    // text: the key attributes, lossless DynamoDB JSON
	ColSourceDigest = "source_digest" // uuid: the item's [Digest]
	ColSourceFile   = "source_file"   // int: the export data file's index in the manifest
	ColSourceLine   = "source_line"   // int: the item's line in that file
)

// Columns lists the columns of set for layout l, in encoding order.
func (s ColumnSet) Columns(l Layout) []string {
	switch s {
	case ImageColumns:
		return append(slices.Clone(l.KeyColumns), ColSourceKey, ColSourceDigest, ColItem)
	case DigestColumns:
		return append(slices.Clone(l.KeyColumns), ColSourceKey, ColSourceDigest, ColSourceFile, ColSourceLine, ColItem)
	}
	return l.Columns()
}

// Encoder turns items into the values of rows of one [ColumnSet]. Its
// buffers are reused from row to row: the values it returns are valid until
// the next call, which is what pgx's CopyFrom needs (it encodes each row
// before asking for the next). The item column's value is a []byte, or the
// image's own string when [Encoder.EncodeImage] takes it as it came.
type Encoder struct {
	layout  Layout
	set     ColumnSet
	itemIdx int
	vals    []any
	item    []byte
	doc     []byte
	key     []byte
	digest  DigestScratch
	line    lineScanner
	// known are the digests whose images a row of [DigestColumns] leaves
	// out (nil: all of them).
	known DigestSet
}

// NewEncoder returns an encoder of set's columns of layout l.
func NewEncoder(l Layout, set ColumnSet) *Encoder {
	cols := set.Columns(l)
	return &Encoder{layout: l, set: set, vals: make([]any, len(cols)), itemIdx: slices.Index(cols, ColItem)}
}

// KeepImagesNotIn makes the encoder's rows of [DigestColumns] keep the
// image of every item whose digest known certainly lacks: a diff passes
// the copy's digests, so that the rows that differ from the copy carry
// their images and need no second read of the export. Call it before the
// first row.
func (e *Encoder) KeepImagesNotIn(known DigestSet) { e.known = known }

// keepImage says whether a row of [DigestColumns] keeps the image of the
// item with digest sum.
func (e *Encoder) keepImage(sum [16]byte) bool { return e.known != nil && !e.known.MayContain(sum) }

// Columns are the encoder's columns, in the order of its values.
func (e *Encoder) Columns() []string { return e.set.Columns(e.layout) }

// ItemIndex is the index of the lossless item among the values (-1: the
// set has no item column).
func (e *Encoder) ItemIndex() int { return e.itemIdx }

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
	if e.set == ImageColumns || e.set == DigestColumns {
		return e.sourceRow(key, p)
	}
	e.vals[n] = e.item
	n++
	if e.layout.Doc {
		if e.doc, err = ddbjson.AppendPlain(e.doc[:0], item); err != nil {
			return nil, err
		}
		e.vals[n] = e.doc
		n++
	}
	return e.rowTail(n, e.item, p)
}

// CopyRow returns a copy of a row an encoder returned that shares none of
// the encoder's buffers (the item's and doc's bytes), for a caller that
// keeps rows past the encoder's next call.
func CopyRow(vals []any) []any {
	row := slices.Clone(vals)
	for i, v := range row {
		if b, ok := v.([]byte); ok {
			row[i] = bytes.Clone(b)
		}
	}
	return row
}

// rowTail fills a data table row's provenance columns, from value n on,
// and its digest, of item (the item column's value).
func (e *Encoder) rowTail(n int, item []byte, p Provenance) ([]any, error) {
	sum, err := e.digest.Sum(item)
	if err != nil {
		return nil, fmt.Errorf("the item's digest: %w", err)
	}
	e.vals[n+4] = pgtype.UUID{Bytes: sum, Valid: true}
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

// sourceRow fills the values of a diff's source row past the key columns,
// e.item holding the item's encoding.
func (e *Encoder) sourceRow(key ddbjson.Item, p Provenance) ([]any, error) {
	n := len(e.layout.KeyColumns)
	var err error
	if e.key, err = ddbjson.AppendItem(e.key[:0], key); err != nil {
		return nil, err
	}
	sum, err := e.digest.Sum(e.item)
	if err != nil {
		return nil, err
	}
	e.vals[n] = string(e.key)
	e.vals[n+1] = pgtype.UUID{Bytes: sum, Valid: true}
	if e.set == ImageColumns {
		e.vals[n+2] = e.item
		return e.vals, nil
	}
	e.vals[n+2] = int32(p.File)
	e.vals[n+3] = int32(p.Line)
	e.vals[n+4] = nil
	if e.keepImage(sum) {
		e.vals[n+4] = e.item
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
