package ddbjson

import (
	"bytes"
	"unicode/utf8"
)

// Verbatim items. Decoding an item into AttributeValues and encoding it again
// is most of the work of storing it, for an export line as for a stream
// image. Most items need neither: their DynamoDB JSON, as AWS writes it, is
// already the item's lossless form as jsonb holds it (jsonb orders keys and
// drops whitespace itself). A [VerbatimScanner] tells such an item apart, so
// its bytes can be stored as they are; any other item goes the long way,
// through the decoder, which also gives the refusals their words.
//
// A verbatim item is an object of attributes, each an object with one type
// tag: S (a string), N (a string [CheckNumber] accepts), BOOL, NULL (true),
// M (an object of attributes) or L (an array of attribute values); strings
// without any escape or control character, valid UTF-8, no attribute named
// twice in an object, at most maxVerbatimDepth levels; whitespace anywhere
// JSON allows it. Everything the decoder changes on its way to
// [AppendItem] (set order, escapes, U+0000, base64, invalid UTF-8) is
// outside these, so the bytes mean the same jsonb as the encoder's own. A
// test holds the two paths together.

// maxVerbatimDepth bounds the nesting a scanner follows (the decoder allows
// more; deeper items go its way).
const maxVerbatimDepth = 32

// VerbatimScanner checks verbatim items and notes up to two top-level attributes
// by name (a table's key attributes). It is reused from item to item.
type VerbatimScanner struct {
	src []byte
	pos int
	// names are the attribute names of the objects being scanned, for the
	// duplicate check: a stack of [start, end) spans into src.
	names [][2]int
	want  [2]string
	found [2]VerbatimAttr
}

// VerbatimAttr is a noted top-level attribute: its type tag (0: absent, or
// neither S nor N) and the content of its string value.
type VerbatimAttr struct {
	Tag   byte
	Value []byte
}

// Item checks the verbatim item that starts at src[pos] (after any
// whitespace) and returns the offset just past it; ok is false if it is not
// verbatim. The top-level attributes named in want ("" for none) are noted,
// for [VerbatimScanner.Attr].
func (s *VerbatimScanner) Item(src []byte, pos int, want [2]string) (end int, ok bool) {
	s.src, s.pos, s.names, s.want, s.found = src, pos, s.names[:0], want, [2]VerbatimAttr{}
	s.Space()
	start := s.pos
	if !s.object(0, true) {
		return 0, false
	}
	if !utf8.Valid(src[start:s.pos]) {
		return 0, false
	}
	return s.pos, true
}

// Attr is the noted attribute want[i] of the last item scanned; its Value
// shares that item's bytes.
func (s *VerbatimScanner) Attr(i int) VerbatimAttr { return s.found[i] }

// Space skips whitespace.
func (s *VerbatimScanner) Space() {
	for s.pos < len(s.src) {
		switch s.src[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// Pos is where the scanner stands.
func (s *VerbatimScanner) Pos() int { return s.pos }

// Reset makes the scanner read src from pos on, as with [VerbatimScanner.Byte]
// and [VerbatimScanner.Literal], before or after an item.
func (s *VerbatimScanner) Reset(src []byte, pos int) { s.src, s.pos = src, pos }

// Byte consumes c if it comes next.
func (s *VerbatimScanner) Byte(c byte) bool {
	if s.pos < len(s.src) && s.src[s.pos] == c {
		s.pos++
		return true
	}
	return false
}

// Literal consumes lit if it comes next.
func (s *VerbatimScanner) Literal(lit string) bool {
	if len(s.src)-s.pos >= len(lit) && string(s.src[s.pos:s.pos+len(lit)]) == lit {
		s.pos += len(lit)
		return true
	}
	return false
}

// str scans a string without escapes and returns the span of its content.
func (s *VerbatimScanner) str() (int, int, bool) {
	if !s.Byte('"') {
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

// strStop are the bytes that end a verbatim string: its closing quote, or
// what a verbatim item does not hold (an escape, a control character).
var strStop = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// object scans an object of attributes; top is the item itself, whose
// wanted attributes are noted.
func (s *VerbatimScanner) object(depth int, top bool) bool {
	if depth > maxVerbatimDepth || !s.Byte('{') {
		return false
	}
	base := len(s.names)
	defer func() { s.names = s.names[:base] }()
	s.Space()
	if s.Byte('}') {
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
		s.Space()
		if !s.Byte(':') {
			return false
		}
		s.Space()
		noted := -1
		if top {
			for i, w := range s.want {
				if w != "" && string(name) == w {
					noted = i
				}
			}
		}
		if !s.value(depth+1, noted) {
			return false
		}
		s.Space()
		if s.Byte('}') {
			return true
		}
		if !s.Byte(',') {
			return false
		}
		s.Space()
	}
}

// value scans an attribute value, noting it as wanted attribute noted (-1:
// not one).
func (s *VerbatimScanner) value(depth, noted int) bool {
	if depth > maxVerbatimDepth || !s.Byte('{') {
		return false
	}
	s.Space()
	t0, t1, ok := s.str()
	if !ok {
		return false
	}
	s.Space()
	if !s.Byte(':') {
		return false
	}
	s.Space()
	switch string(s.src[t0:t1]) {
	case "S", "N":
		v0, v1, ok := s.str()
		if !ok {
			return false
		}
		tag := s.src[t0]
		if tag == 'N' && CheckNumber(string(s.src[v0:v1])) != nil {
			return false
		}
		if noted >= 0 {
			s.found[noted] = VerbatimAttr{Tag: tag, Value: s.src[v0:v1]}
		}
	case "BOOL":
		if !s.Literal("true") && !s.Literal("false") {
			return false
		}
	case "NULL":
		if !s.Literal("true") {
			return false
		}
	case "M":
		if !s.object(depth, false) {
			return false
		}
	case "L":
		if !s.Byte('[') {
			return false
		}
		s.Space()
		if !s.Byte(']') {
			for {
				if !s.value(depth+1, -1) {
					return false
				}
				s.Space()
				if s.Byte(']') {
					break
				}
				if !s.Byte(',') {
					return false
				}
				s.Space()
			}
		}
	default:
		return false
	}
	s.Space()
	return s.Byte('}')
}
