package store

import (
	"slices"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// The fast path of an export line, and of a stream record's new image.
// Most items are verbatim ([ddbjson.VerbatimScanner]): their DynamoDB JSON is
// already the item's lossless form as jsonb holds it, so [Encoder.EncodeLine]
// and [Encoder.EncodeImage] take their bytes as they are, with the same
// [Digest] as the encoder's own; any other item goes the long way, through
// the decoder, which also gives the refusals their words. Taken as they
// are: {"Item": ITEM} lines (whitespace anywhere JSON allows it), ITEM
// verbatim, its key attributes of the layout's types (S or N), not empty;
// and the new images the stream's decoder found verbatim, with their
// records' keys.

// lineScanner checks a line or an image as described above and finds its
// item and key attributes. It is reused from item to item.
type lineScanner struct {
	verbatim ddbjson.VerbatimScanner
	src      []byte
	// keys are the key attributes' values (the string inside the quotes)
	// and their tags, hash first, as found in the item last scanned.
	keys    [2]ddbjson.VerbatimAttr
	keyName [2]string
}

// scan checks line and returns the item's span; ok is false for a line the
// fast path does not take.
func (s *lineScanner) scan(line []byte, key KeySchema) (item []byte, ok bool) {
	p := &s.verbatim
	p.Reset(line, 0)
	p.Space()
	if !p.Byte('{') {
		return nil, false
	}
	p.Space()
	if !p.Literal(`"Item"`) {
		return nil, false
	}
	p.Space()
	if !p.Byte(':') {
		return nil, false
	}
	p.Space()
	start := p.Pos()
	item, ok = s.item(line, start, key)
	if !ok {
		return nil, false
	}
	p.Space()
	if !p.Byte('}') {
		return nil, false
	}
	p.Space()
	if p.Pos() != len(line) {
		return nil, false
	}
	return item, true
}

// item checks the verbatim item at src[pos] and its key attributes, and
// returns its span.
func (s *lineScanner) item(src []byte, pos int, key KeySchema) ([]byte, bool) {
	s.src = src
	s.keyName = [2]string{key.Hash.Name, key.Range.Name}
	end, ok := s.verbatim.Item(src, pos, s.keyName)
	if !ok {
		return nil, false
	}
	for i, name := range s.keyName {
		s.keys[i] = s.verbatim.Attr(i)
		if name == "" {
			continue
		}
		want := key.Hash.Type
		if i == 1 {
			want = key.Range.Type
		}
		if k := s.keys[i]; k.Tag == 0 || string(k.Tag) != want || len(k.Value) == 0 {
			return nil, false // missing, of another type, or empty: the decoder's words
		}
	}
	return src[pos:end], true
}

// EncodeLine returns the row for the item of export line line, with
// provenance p, when the line is one the fast path takes (see above);
// otherwise ok is false, and the caller decodes the line and calls
// [Encoder.Encode]. The values are valid until the next call, and as long
// as line is: a row of [RowColumns] holds the line's own bytes. A table
// with doc, and [ImageColumns], always go the long way.
func (e *Encoder) EncodeLine(line []byte, p Provenance) (vals []any, ok bool, err error) {
	if (e.layout.Doc && e.set == RowColumns) || e.set == ImageColumns {
		return nil, false, nil
	}
	item, ok := e.line.scan(line, e.layout.Key)
	if !ok {
		return nil, false, nil
	}
	if !e.lineKeyValues() {
		return nil, false, nil
	}
	n := len(e.layout.KeyColumns)
	if e.set == DigestColumns {
		sum, err := e.digest.Sum(item)
		if err != nil {
			return nil, false, nil
		}
		e.key = e.lineKey(e.key[:0])
		e.vals[n] = string(e.key)
		e.vals[n+1] = pgtype.UUID{Bytes: sum, Valid: true}
		e.vals[n+2] = int32(p.File)
		e.vals[n+3] = int32(p.Line)
		// The line's item as it is: the same jsonb as the encoder's own.
		e.vals[n+4] = nil
		if e.keepImage(sum) {
			e.vals[n+4] = item
		}
		return e.vals, true, nil
	}
	e.vals[n] = item
	// Whatever the row's tail refuses, the long way refuses in its words.
	vals, err = e.rowTail(n+1, item, p)
	return vals, err == nil, nil
}

// EncodeImage returns the row of a stream record's new image that the
// stream's decoder found verbatim (stream.Change.NewImageText: DynamoDB
// JSON as GetRecords sent it, already the lossless form), keys being the
// record's key attributes (its Keys), for a row of [RowColumns]: the row
// holds the image as it is, not a copy, and the key columns come from keys,
// so the image is not scanned again. ok is false where this does not serve
// (a table with doc, another column set, keys not of the layout's key); the
// caller then decodes the image and calls [Encoder.Encode], which says
// what is wrong.
func (e *Encoder) EncodeImage(image string, keys map[string]types.AttributeValue, p Provenance) (vals []any, ok bool, err error) {
	if e.layout.Doc || e.set != RowColumns {
		return nil, false, nil
	}
	key, err := e.layout.Key.KeyOf(keys)
	if err != nil {
		return nil, false, nil
	}
	n := len(e.layout.KeyColumns)
	if err := e.layout.KeyValues(key, e.vals[:n]); err != nil {
		return nil, false, nil
	}
	e.vals[n] = image
	// The digest only reads the image: its bytes are lent, not copied.
	// Whatever the row's tail refuses, the long way refuses in its words.
	vals, err = e.rowTail(n+1, unsafe.Slice(unsafe.StringData(image), len(image)), p)
	return vals, err == nil, nil
}

// lineKeyValues fills the key columns from the item scanned last; false
// when a number does not fit (the decoder's path says why).
func (e *Encoder) lineKeyValues() bool {
	for i := range len(e.layout.KeyColumns) {
		k := e.line.keys[i]
		if k.Tag == 'S' {
			e.vals[i] = string(k.Value)
			continue
		}
		norm, err := ddbjson.NormalizeNumber(string(k.Value))
		if err != nil {
			return false
		}
		var num pgtype.Numeric
		if err := num.Scan(norm); err != nil {
			return false
		}
		e.vals[i] = num
	}
	return true
}

// lineKey appends the key attributes of the line scanned last as
// [ddbjson.AppendItem] writes them: names in order, no escapes needed.
func (e *Encoder) lineKey(dst []byte) []byte {
	s := &e.line
	idx := []int{0}
	if s.keyName[1] != "" {
		idx = append(idx, 1)
		if s.keyName[1] < s.keyName[0] {
			slices.Reverse(idx)
		}
	}
	dst = append(dst, '{')
	for j, i := range idx {
		if j > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, s.keyName[i]...)
		dst = append(dst, `":{"`...)
		dst = append(dst, s.keys[i].Tag)
		dst = append(dst, `":"`...)
		dst = append(dst, s.keys[i].Value...)
		dst = append(dst, `"}`...)
	}
	return append(dst, '}')
}
