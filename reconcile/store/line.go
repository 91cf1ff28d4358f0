package store

import (
	"bytes"
	"slices"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// The fast path of an export line. Decoding a line into AttributeValues
// and encoding it again is most of a load's work in Go, and of a diff's.
// Most items need neither: their DynamoDB JSON, as the export writes it, is
// already the item's lossless form as jsonb holds it (jsonb orders keys
// and drops whitespace itself). [Encoder.EncodeLine] checks that a line is
// such an item and takes its bytes as they are; any other line goes the
// long way, through the decoder, which also gives the refusals their
// words.
//
// The lines taken as they are: {"Item": ITEM}, ITEM an object of
// attributes, each an object with one type tag, S (a string), N (a string
// [ddbjson.CheckNumber] accepts), BOOL, NULL (true), M (an object of
// attributes) or L (an array of attribute values); strings without any
// escape or control character, the line valid UTF-8, no attribute named
// twice in an object, at most maxLineDepth levels; whitespace anywhere
// JSON allows it; the key attributes of the layout's types (S or N), not
// empty. Everything the decoder changes on its way to [ddbjson.AppendItem]
// (set order, escapes, U+0000, base64, invalid UTF-8) is outside these, so
// the bytes mean the same jsonb as the encoder's own, and have the same
// [Digest]. A test holds the two paths together.

// maxLineDepth bounds the nesting the fast path follows (the decoder
// allows more; deeper items go its way).
const maxLineDepth = 32

// lineScanner checks a line as described above and finds its item and key
// attributes. It is reused from line to line.
type lineScanner struct {
	src []byte
	pos int
	// names are the attribute names of the objects being scanned, for the
	// duplicate check: a stack of [start, end) spans into src.
	names [][2]int
	// keys are the spans of the key attributes' values (the string inside
	// the quotes) and their tags, hash first.
	keys    [2][2]int
	keyTags [2]byte
	keyName [2]string
}

// scan checks line and returns the item's span; ok is false for a line the
// fast path does not take.
func (s *lineScanner) scan(line []byte, key KeySchema) (item []byte, ok bool) {
	if !utf8.Valid(line) {
		return nil, false
	}
	s.src, s.pos, s.names = line, 0, s.names[:0]
	s.keyName = [2]string{key.Hash.Name, key.Range.Name}
	s.keys, s.keyTags = [2][2]int{}, [2]byte{}
	s.space()
	if !s.byte('{') {
		return nil, false
	}
	s.space()
	if !s.literal(`"Item"`) {
		return nil, false
	}
	s.space()
	if !s.byte(':') {
		return nil, false
	}
	s.space()
	start := s.pos
	if !s.object(0, true) {
		return nil, false
	}
	end := s.pos
	s.space()
	if !s.byte('}') {
		return nil, false
	}
	s.space()
	if s.pos != len(s.src) {
		return nil, false
	}
	for i, name := range s.keyName {
		if name == "" {
			continue
		}
		want := key.Hash.Type
		if i == 1 {
			want = key.Range.Type
		}
		tag := s.keyTags[i]
		if tag == 0 || string(tag) != want || s.keys[i][0] == s.keys[i][1] {
			return nil, false // missing, of another type, or empty: the decoder's words
		}
	}
	return s.src[start:end], true
}

func (s *lineScanner) space() {
	for s.pos < len(s.src) {
		switch s.src[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *lineScanner) byte(c byte) bool {
	if s.pos < len(s.src) && s.src[s.pos] == c {
		s.pos++
		return true
	}
	return false
}

func (s *lineScanner) literal(lit string) bool {
	if len(s.src)-s.pos >= len(lit) && string(s.src[s.pos:s.pos+len(lit)]) == lit {
		s.pos += len(lit)
		return true
	}
	return false
}

// str scans a string without escapes and returns the span of its content.
func (s *lineScanner) str() (int, int, bool) {
	if !s.byte('"') {
		return 0, 0, false
	}
	start := s.pos
	for s.pos < len(s.src) && !strStop[s.src[s.pos]] {
		s.pos++
	}
	if s.pos < len(s.src) && s.src[s.pos] == '"' {
		s.pos++
		return start, s.pos - 1, true
	}
	return 0, 0, false // an escape, a control character, or the end
}

// strStop are the bytes that end a string the fast path takes: its
// closing quote, or what it does not take (an escape, a control character).
var strStop = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// object scans an object of attributes; top is the item itself, whose
// key attributes are noted.
func (s *lineScanner) object(depth int, top bool) bool {
	if depth > maxLineDepth || !s.byte('{') {
		return false
	}
	base := len(s.names)
	defer func() { s.names = s.names[:base] }()
	s.space()
	if s.byte('}') {
		return true
	}
	for {
		n0, n1, ok := s.str()
		if !ok {
			return false
		}
		name := s.src[n0:n1]
		for _, seen := range s.names[base:] {
			if bytes.Equal(s.src[seen[0]:seen[1]], name) {
				return false // named twice: the decoder refuses it
			}
		}
		s.names = append(s.names, [2]int{n0, n1})
		s.space()
		if !s.byte(':') {
			return false
		}
		s.space()
		keyIdx := -1
		if top {
			for i, k := range s.keyName {
				if k != "" && string(name) == k {
					keyIdx = i
				}
			}
		}
		if !s.value(depth+1, keyIdx) {
			return false
		}
		s.space()
		if s.byte('}') {
			return true
		}
		if !s.byte(',') {
			return false
		}
		s.space()
	}
}

// value scans an attribute value, noting it as key attribute keyIdx (-1:
// not a key attribute).
func (s *lineScanner) value(depth, keyIdx int) bool {
	if depth > maxLineDepth || !s.byte('{') {
		return false
	}
	s.space()
	t0, t1, ok := s.str()
	if !ok {
		return false
	}
	s.space()
	if !s.byte(':') {
		return false
	}
	s.space()
	switch string(s.src[t0:t1]) {
	case "S", "N":
		v0, v1, ok := s.str()
		if !ok {
			return false
		}
		tag := s.src[t0]
		if tag == 'N' && ddbjson.CheckNumber(string(s.src[v0:v1])) != nil {
			return false
		}
		if keyIdx >= 0 {
			s.keys[keyIdx], s.keyTags[keyIdx] = [2]int{v0, v1}, tag
		}
	case "BOOL":
		if !s.literal("true") && !s.literal("false") {
			return false
		}
	case "NULL":
		if !s.literal("true") {
			return false
		}
	case "M":
		if !s.object(depth, false) {
			return false
		}
	case "L":
		if !s.byte('[') {
			return false
		}
		s.space()
		if !s.byte(']') {
			for {
				if !s.value(depth+1, -1) {
					return false
				}
				s.space()
				if s.byte(']') {
					break
				}
				if !s.byte(',') {
					return false
				}
				s.space()
			}
		}
	default:
		return false
	}
	s.space()
	return s.byte('}')
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
	n := len(e.layout.KeyColumns)
	for i := range n {
		v := e.line.src[e.line.keys[i][0]:e.line.keys[i][1]]
		if e.line.keyTags[i] == 'S' {
			e.vals[i] = string(v)
			continue
		}
		norm, err := ddbjson.NormalizeNumber(string(v))
		if err != nil {
			return nil, false, nil
		}
		var num pgtype.Numeric
		if err := num.Scan(norm); err != nil {
			return nil, false, nil
		}
		e.vals[i] = num
	}
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
	return e.rowTail(n+1, p)
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
		dst = append(dst, s.keyTags[i])
		dst = append(dst, `":"`...)
		dst = append(dst, s.src[s.keys[i][0]:s.keys[i][1]]...)
		dst = append(dst, `"}`...)
	}
	return append(dst, '}')
}
