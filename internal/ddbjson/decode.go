package ddbjson

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Item is one DynamoDB item: attribute name to value.
type Item = map[string]types.AttributeValue

// maxDepth bounds recursion. DynamoDB allows 32 levels of nesting; a little
// headroom keeps us from rejecting anything DynamoDB accepts while still
// refusing pathological input before it exhausts the stack.
const maxDepth = 64

// Errors returned by the decoders, wrapped in a [*SyntaxError] that says where.
var (
	// ErrUnknownType is an AttributeValue whose type tag DynamoDB does not define.
	ErrUnknownType = errors.New("unknown AttributeValue type")
	// ErrNulInName is an attribute name containing U+0000, which PostgreSQL cannot store.
	ErrNulInName = errors.New("attribute name contains U+0000, which PostgreSQL cannot store")
)

// SyntaxError describes malformed DynamoDB JSON: the byte offset and the
// attribute path where decoding stopped.
type SyntaxError struct {
	Offset int
	Path   string
	Err    error
}

func (e *SyntaxError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("at byte %d: %v", e.Offset, e.Err)
	}
	return fmt.Sprintf("at byte %d (attribute %s): %v", e.Offset, e.Path, e.Err)
}

func (e *SyntaxError) Unwrap() error { return e.Err }

// DecodeItem decodes a JSON object of attribute name to AttributeValue, as in
// {"id":{"S":"x"},"n":{"N":"1"}}. It also accepts the reversible U+0000
// escapes that [AppendItem] writes.
//
// The item's strings share one copy of data (made by the call; data itself
// is not retained), so keeping any one of them keeps that copy alive.
func DecodeItem(data []byte) (Item, error) {
	d := newDecoder(data)
	defer d.release()
	d.skipSpace()
	item, err := d.item(0)
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.pos != len(d.data) {
		return nil, d.errorf("unexpected data after the item")
	}
	return item, nil
}

// DecodeExportLine decodes one line of a DYNAMODB_JSON full export data file:
// {"Item":{...}}. Unknown top-level members are an error, since a full export
// writes nothing else and anything else means the file is not what the
// manifest says it is. Like [DecodeItem], it copies line once and the
// item's strings share that copy.
func DecodeExportLine(line []byte) (Item, error) {
	d := newDecoder(line)
	defer d.release()
	d.skipSpace()
	if err := d.expect('{'); err != nil {
		return nil, err
	}
	var item Item
	first := true
	for {
		d.skipSpace()
		if d.peek() == '}' && first {
			d.pos++
			break
		}
		name, err := d.str()
		if err != nil {
			return nil, err
		}
		if err := d.colon(); err != nil {
			return nil, err
		}
		if name != "Item" {
			return nil, d.errorf("unexpected member %q in an export line (want {\"Item\":{...}})", name)
		}
		if item != nil {
			return nil, d.errorf("duplicate member \"Item\"")
		}
		if item, err = d.item(0); err != nil {
			return nil, err
		}
		first = false
		d.skipSpace()
		if d.peek() == ',' {
			d.pos++
			continue
		}
		if err := d.expect('}'); err != nil {
			return nil, err
		}
		break
	}
	d.skipSpace()
	if d.pos != len(d.data) {
		return nil, d.errorf("unexpected data after the export line")
	}
	if item == nil {
		return nil, d.errorf("export line has no \"Item\"")
	}
	return item, nil
}

type decoder struct {
	data []byte
	// text is data as a string, made once per call: strings without
	// escapes are slices of it, which saves an allocation per string (the
	// bulk of a decoder's work). The decoded item therefore keeps the input
	// text alive for as long as any of its strings is.
	text string
	pos  int
	// wire is DynamoDB JSON as AWS sends it ([DecodeGetRecords]), not the
	// lossless form: no S0/SS0 tags, and attribute names may hold U+0000
	// (as the SDK's decoder allows; storing one is refused later).
	wire bool
	path []pathElem
	// attrs is a stack of the members of the maps being decoded: a map is
	// made once its size is known, at that size, instead of growing.
	attrs []attr
	// elems is the same for the elements of the lists being decoded.
	elems []types.AttributeValue
	// Slabs for the commonest value types.
	sVals    slab[types.AttributeValueMemberS]
	nVals    slab[types.AttributeValueMemberN]
	boolVals slab[types.AttributeValueMemberBOOL]
	nullVals slab[types.AttributeValueMemberNULL]
	mVals    slab[types.AttributeValueMemberM]
	lVals    slab[types.AttributeValueMemberL]
	// verbatim tells the images a GetRecords response need not decode.
	verbatim VerbatimScanner
}

// pathElem is an attribute name, or a list index when index >= 0. (Names
// are kept apart from indices: a name may be empty or start with '['.)
type pathElem struct {
	name  string
	index int
}

type attr struct {
	name string
	v    types.AttributeValue
	pos  int // offset of the name, for the duplicate error
}

// decoders are reused so that their stacks (attrs, path) and value slabs
// need not grow anew for every line.
var decoders = sync.Pool{New: func() any { return new(decoder) }}

func newDecoder(data []byte) *decoder {
	return newTextDecoder(string(data))
}

// newTextDecoder decodes text itself, without copying it: data is text's
// own bytes, which the decoder only reads, and what it hands out are
// strings, slices of text.
func newTextDecoder(text string) *decoder {
	d := decoders.Get().(*decoder)
	d.data, d.text, d.pos = unsafe.Slice(unsafe.StringData(text), len(text)), text, 0
	return d
}

// release returns d to the pool, keeping no reference to the input or to
// values already handed out (slabs keep only their unused tails).
func (d *decoder) release() {
	clear(d.attrs)
	d.attrs = d.attrs[:0]
	clear(d.elems)
	d.elems = d.elems[:0]
	d.path = d.path[:0]
	d.data, d.text, d.wire = nil, "", false
	d.verbatim.Reset(nil, 0)
	decoders.Put(d)
}

// slabSize is how many AttributeValues of one type are allocated together.
// Values from one slab may belong to different items, which keeps at most
// one slab's worth of memory alive beyond an item's own values.
const slabSize = 32

// slab hands out pointers to elements of a shared array: one allocation
// per slabSize values instead of one per value.
type slab[T any] []T

func (s *slab[T]) alloc(v T) *T {
	if len(*s) == cap(*s) {
		*s = make([]T, 0, slabSize)
	}
	*s = append(*s, v)
	return &(*s)[len(*s)-1]
}

func (d *decoder) errorf(format string, args ...any) error {
	return d.wrap(fmt.Errorf(format, args...))
}

func (d *decoder) wrap(err error) error {
	var p strings.Builder
	for i, e := range d.path {
		switch {
		case e.index >= 0:
			p.WriteString("[" + strconv.Itoa(e.index) + "]")
		case i > 0:
			p.WriteString("." + e.name)
		default:
			p.WriteString(e.name)
		}
	}
	return &SyntaxError{Offset: d.pos, Path: p.String(), Err: err}
}

func (d *decoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) peek() byte {
	if d.pos < len(d.data) {
		return d.data[d.pos]
	}
	return 0
}

func (d *decoder) expect(c byte) error {
	d.skipSpace()
	if d.pos >= len(d.data) {
		return d.errorf("unexpected end of input, want %q", c)
	}
	if d.data[d.pos] != c {
		return d.errorf("unexpected %q, want %q", d.data[d.pos], c)
	}
	d.pos++
	return nil
}

func (d *decoder) colon() error { return d.expect(':') }

// item decodes {"name": AttributeValue, ...}.
func (d *decoder) item(depth int) (Item, error) {
	if depth > maxDepth {
		return nil, d.errorf("nesting deeper than %d levels", maxDepth)
	}
	if err := d.expect('{'); err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.peek() == '}' {
		d.pos++
		return make(Item), nil
	}
	base := len(d.attrs)
	for {
		d.skipSpace()
		namePos := d.pos
		name, err := d.str()
		if err != nil {
			return nil, err
		}
		if !d.wire && containsNul(name) {
			return nil, d.wrap(fmt.Errorf("%w: %q", ErrNulInName, name))
		}
		if err := d.colon(); err != nil {
			return nil, err
		}
		d.path = append(d.path, pathElem{name: name, index: -1})
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		d.path = d.path[:len(d.path)-1]
		d.attrs = append(d.attrs, attr{name, v, namePos})
		d.skipSpace()
		switch d.peek() {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return d.makeItem(base)
		default:
			return nil, d.errorf("want ',' or '}' after attribute %q", name)
		}
	}
}

// makeItem pops the members above base off d.attrs into a new map.
func (d *decoder) makeItem(base int) (Item, error) {
	attrs := d.attrs[base:]
	item := make(Item, len(attrs))
	for _, a := range attrs {
		item[a.name] = a.v
	}
	if len(item) != len(attrs) {
		// A name came twice: report its second place.
		seen := make(map[string]bool, len(attrs))
		for _, a := range attrs {
			if seen[a.name] {
				d.pos = a.pos
				return nil, d.errorf("duplicate attribute %q", a.name)
			}
			seen[a.name] = true
		}
	}
	clear(attrs)
	d.attrs = d.attrs[:base]
	return item, nil
}

// value decodes one AttributeValue: an object with exactly one type tag.
func (d *decoder) value(depth int) (types.AttributeValue, error) {
	if depth > maxDepth {
		return nil, d.errorf("nesting deeper than %d levels", maxDepth)
	}
	if err := d.expect('{'); err != nil {
		return nil, err
	}
	d.skipSpace()
	tagPos := d.pos
	tag, err := d.str()
	if err != nil {
		return nil, err
	}
	if err := d.colon(); err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.wire && (tag == "S0" || tag == "SS0") {
		d.pos = tagPos
		return nil, d.wrap(fmt.Errorf("%w %q", ErrUnknownType, tag))
	}
	var v types.AttributeValue
	switch tag {
	case "S":
		s, err := d.str()
		if err != nil {
			return nil, err
		}
		v = d.sVals.alloc(types.AttributeValueMemberS{Value: s})
	case "S0":
		s, err := d.escapedStr()
		if err != nil {
			return nil, err
		}
		v = d.sVals.alloc(types.AttributeValueMemberS{Value: s})
	case "N":
		s, err := d.str()
		if err != nil {
			return nil, err
		}
		if err := CheckNumber(s); err != nil {
			return nil, d.wrap(err)
		}
		v = d.nVals.alloc(types.AttributeValueMemberN{Value: s})
	case "B":
		b, err := d.base64Str()
		if err != nil {
			return nil, err
		}
		v = &types.AttributeValueMemberB{Value: b}
	case "BOOL":
		b, err := d.boolean()
		if err != nil {
			return nil, err
		}
		v = d.boolVals.alloc(types.AttributeValueMemberBOOL{Value: b})
	case "NULL":
		b, err := d.boolean()
		if err != nil {
			return nil, err
		}
		if !b {
			return nil, d.errorf("NULL must be true")
		}
		v = d.nullVals.alloc(types.AttributeValueMemberNULL{Value: true})
	case "SS", "SS0", "NS":
		ss, err := d.stringArray(tag == "SS0")
		if err != nil {
			return nil, err
		}
		if tag == "NS" {
			for _, s := range ss {
				if err := CheckNumber(s); err != nil {
					return nil, d.wrap(err)
				}
			}
			v = &types.AttributeValueMemberNS{Value: ss}
		} else {
			v = &types.AttributeValueMemberSS{Value: ss}
		}
	case "BS":
		bs, err := d.binaryArray()
		if err != nil {
			return nil, err
		}
		v = &types.AttributeValueMemberBS{Value: bs}
	case "M":
		m, err := d.item(depth)
		if err != nil {
			return nil, err
		}
		v = d.mVals.alloc(types.AttributeValueMemberM{Value: m})
	case "L":
		l, err := d.list(depth)
		if err != nil {
			return nil, err
		}
		v = d.lVals.alloc(types.AttributeValueMemberL{Value: l})
	default:
		d.pos = tagPos
		return nil, d.wrap(fmt.Errorf("%w %q", ErrUnknownType, tag))
	}
	d.skipSpace()
	if d.peek() != '}' {
		return nil, d.errorf("an AttributeValue must have exactly one type tag (found more after %q)", tag)
	}
	d.pos++
	return v, nil
}

func (d *decoder) list(depth int) ([]types.AttributeValue, error) {
	if err := d.expect('['); err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.peek() == ']' {
		d.pos++
		return []types.AttributeValue{}, nil
	}
	base := len(d.elems)
	for i := 0; ; i++ {
		d.path = append(d.path, pathElem{index: i})
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		d.path = d.path[:len(d.path)-1]
		d.elems = append(d.elems, v)
		d.skipSpace()
		switch d.peek() {
		case ',':
			d.pos++
		case ']':
			d.pos++
			l := slices.Clone(d.elems[base:])
			clear(d.elems[base:])
			d.elems = d.elems[:base]
			return l, nil
		default:
			return nil, d.errorf("want ',' or ']' in a list")
		}
	}
}

func (d *decoder) stringArray(b64 bool) ([]string, error) {
	if err := d.expect('['); err != nil {
		return nil, err
	}
	var out []string
	d.skipSpace()
	if d.peek() == ']' {
		return nil, d.errorf("a set must not be empty")
	}
	for {
		d.skipSpace()
		var s string
		if b64 {
			var err error
			if s, err = d.escapedStr(); err != nil {
				return nil, err
			}
		} else {
			var err error
			if s, err = d.str(); err != nil {
				return nil, err
			}
		}
		out = append(out, s)
		d.skipSpace()
		switch d.peek() {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return out, nil
		default:
			return nil, d.errorf("want ',' or ']' in a set")
		}
	}
}

func (d *decoder) binaryArray() ([][]byte, error) {
	if err := d.expect('['); err != nil {
		return nil, err
	}
	var out [][]byte
	d.skipSpace()
	if d.peek() == ']' {
		return nil, d.errorf("a set must not be empty")
	}
	for {
		d.skipSpace()
		b, err := d.base64Str()
		if err != nil {
			return nil, err
		}
		out = append(out, b)
		d.skipSpace()
		switch d.peek() {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return out, nil
		default:
			return nil, d.errorf("want ',' or ']' in a set")
		}
	}
}

func (d *decoder) base64Str() ([]byte, error) {
	start := d.pos
	s, err := d.str()
	if err != nil {
		return nil, err
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		d.pos = start
		return nil, d.errorf("invalid base64: %v", err)
	}
	return b, nil
}

// escapedStr decodes the base64 form of a string holding U+0000 (tags S0
// and SS0). The bytes must be UTF-8 like any DynamoDB string: the encoder
// writes other strings with invalid UTF-8 replaced, so accepting them here
// would break the round trip.
func (d *decoder) escapedStr() (string, error) {
	start := d.pos
	b, err := d.base64Str()
	if err != nil {
		return "", err
	}
	if !utf8.Valid(b) {
		d.pos = start
		return "", d.errorf("escaped string is not valid UTF-8")
	}
	return string(b), nil
}

func (d *decoder) boolean() (bool, error) {
	d.skipSpace()
	rest := d.data[d.pos:]
	switch {
	case len(rest) >= 4 && string(rest[:4]) == "true":
		d.pos += 4
		return true, nil
	case len(rest) >= 5 && string(rest[:5]) == "false":
		d.pos += 5
		return false, nil
	}
	return false, d.errorf("want true or false")
}

// str decodes a JSON string. Strings without escapes, the common case, are
// slices of d.text and cost no allocation.
func (d *decoder) str() (string, error) {
	d.skipSpace()
	if d.peek() != '"' {
		if d.pos >= len(d.data) {
			return "", d.errorf("unexpected end of input, want a string")
		}
		return "", d.errorf("unexpected %q, want a string", d.data[d.pos])
	}
	d.pos++
	start := d.pos
	ascii := true
	for i := start; i < len(d.data); i++ {
		c := d.data[i]
		switch {
		case c == '"':
			if !ascii && !utf8.Valid(d.data[start:i]) {
				return "", d.errorf("string is not valid UTF-8")
			}
			d.pos = i + 1
			return d.text[start:i], nil
		case c == '\\':
			return d.strSlow(start)
		case c < 0x20:
			d.pos = i
			return "", d.errorf("control character in a string")
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", d.errorf("unterminated string")
}

func (d *decoder) strSlow(start int) (string, error) {
	buf := make([]byte, 0, 64)
	i := start
	for i < len(d.data) {
		c := d.data[i]
		switch {
		case c == '"':
			if !utf8.Valid(buf) {
				return "", d.errorf("string is not valid UTF-8")
			}
			d.pos = i + 1
			return string(buf), nil
		case c < 0x20:
			d.pos = i
			return "", d.errorf("control character in a string")
		case c != '\\':
			buf = append(buf, c)
			i++
			continue
		}
		if i+1 >= len(d.data) {
			break
		}
		e := d.data[i+1]
		i += 2
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := hex4(d.data, i)
			if !ok {
				d.pos = i
				return "", d.errorf("invalid \\u escape")
			}
			i += 4
			if utf16.IsSurrogate(r) {
				r2, ok2 := rune(0), false
				if i+6 <= len(d.data) && d.data[i] == '\\' && d.data[i+1] == 'u' {
					r2, ok2 = hex4(d.data, i+2)
				}
				if dec := utf16.DecodeRune(r, r2); ok2 && dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					d.pos = i
					return "", d.errorf("unpaired UTF-16 surrogate in a \\u escape")
				}
			}
			buf = utf8.AppendRune(buf, r)
		default:
			d.pos = i - 1
			return "", d.errorf("invalid escape \\%c", e)
		}
	}
	return "", d.errorf("unterminated string")
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

func containsNul(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}

// CloneItem returns a copy of item that shares no memory with it: strings
// decoded from a GetRecords response are slices of it, which the reader
// reuses once its page is released (stream.Page.Release).
func CloneItem(item Item) Item {
	if item == nil {
		return nil
	}
	out := make(Item, len(item))
	for name, v := range item {
		out[strings.Clone(name)] = cloneValue(v)
	}
	return out
}

func cloneValue(v types.AttributeValue) types.AttributeValue {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return &types.AttributeValueMemberS{Value: strings.Clone(v.Value)}
	case *types.AttributeValueMemberN:
		return &types.AttributeValueMemberN{Value: strings.Clone(v.Value)}
	case *types.AttributeValueMemberB:
		return &types.AttributeValueMemberB{Value: bytes.Clone(v.Value)}
	case *types.AttributeValueMemberSS:
		return &types.AttributeValueMemberSS{Value: cloneStrings(v.Value)}
	case *types.AttributeValueMemberNS:
		return &types.AttributeValueMemberNS{Value: cloneStrings(v.Value)}
	case *types.AttributeValueMemberBS:
		bs := make([][]byte, len(v.Value))
		for i, b := range v.Value {
			bs[i] = bytes.Clone(b)
		}
		return &types.AttributeValueMemberBS{Value: bs}
	case *types.AttributeValueMemberL:
		l := make([]types.AttributeValue, len(v.Value))
		for i, e := range v.Value {
			l[i] = cloneValue(e)
		}
		return &types.AttributeValueMemberL{Value: l}
	case *types.AttributeValueMemberM:
		return &types.AttributeValueMemberM{Value: CloneItem(v.Value)}
	case *types.AttributeValueMemberBOOL:
		return &types.AttributeValueMemberBOOL{Value: v.Value}
	case *types.AttributeValueMemberNULL:
		return &types.AttributeValueMemberNULL{Value: v.Value}
	}
	return v // no strings of its own
}

func cloneStrings(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.Clone(s)
	}
	return out
}
