package store

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Items is an iterator over items, as a data file reader, a query of
// images or a Scan returns them.
type Items interface {
	Next() bool
	Item() map[string]types.AttributeValue
	Err() error
}

// CopySource is a pgx.CopyFromSource over items: each is encoded by an
// [Encoder] with one provenance. It is the only way rows get from Go into
// PostgreSQL in bulk (loads, diff sources, repairs, scans).
type CopySource struct {
	items Items
	enc   *Encoder
	prov  Provenance
	// OnEncodeError, when set, turns an item the encoder refuses into the
	// error the source reports (say, with the file and line it came from).
	OnEncodeError func(error) error
	// OnRow, when set, sees each row's values as they are encoded.
	OnRow func(vals []any)

	vals []any
	err  error
}

// NewCopySource copies items through enc, all with provenance prov.
func NewCopySource(items Items, enc *Encoder, prov Provenance) *CopySource {
	return &CopySource{items: items, enc: enc, prov: prov}
}

// Lined is [Items] that know the line of their current item in its file
// (an export's data file): a [CopySource] gives it to the encoder as the
// provenance's Line.
type Lined interface {
	Items
	Line() int
}

// Lines are [Items] read from an export's lines, undecoded: a
// [CopySource] gives the encoder the line itself ([Encoder.EncodeLine])
// and has it decoded only when the encoder needs the item. Item is then
// not called: Decode decodes the current line, its error is the source's.
type Lines interface {
	Items
	Raw() []byte
	Decode() (map[string]types.AttributeValue, error)
}

// Next encodes the next item.
func (s *CopySource) Next() bool {
	if s.err != nil || !s.items.Next() {
		return false
	}
	if l, ok := s.items.(Lined); ok {
		s.prov.Line = l.Line()
	}
	if lines, ok := s.items.(Lines); ok {
		var done bool
		s.vals, done, s.err = s.enc.EncodeLine(lines.Raw(), s.prov)
		if s.err == nil && !done {
			var item map[string]types.AttributeValue
			if item, s.err = lines.Decode(); s.err != nil {
				return false // the reader's refusal, with its file and line
			}
			s.vals, s.err = s.enc.Encode(item, s.prov)
		}
	} else {
		s.vals, s.err = s.enc.Encode(s.items.Item(), s.prov)
	}
	if s.err != nil {
		if s.OnEncodeError != nil {
			s.err = s.OnEncodeError(s.err)
		}
		return false
	}
	if s.OnRow != nil {
		s.OnRow(s.vals)
	}
	return true
}

// Values returns the current row.
func (s *CopySource) Values() ([]any, error) { return s.vals, nil }

// Err is the first error of the encoder or the items. pgx reports a
// source's error as the server's COPY failure, as text; this one keeps
// its type.
func (s *CopySource) Err() error {
	if s.err != nil {
		return s.err
	}
	return s.items.Err()
}
