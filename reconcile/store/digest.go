package store

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"
	"slices"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// A diff compares an item's digest, not the item: md5 of the text
// PostgreSQL prints for the item as jsonb (item::text). jsonb keeps one
// form of a value (keys sorted, duplicates and whitespace gone, escapes
// decoded), and its text output is a function of that form, so two items
// equal as jsonb have the same text and the same digest. [Digest] computes
// in Go, from the bytes a writer sends PostgreSQL for the item column,
// exactly the text PostgreSQL would print, and hashes it: the source's
// digests are computed as they are read, and only the copy's are computed
// by the server ([DigestSQL]).

// DigestSQL is the SQL expression of the digest of item, an expression
// of type jsonb (a data table's item column), as a uuid (16 bytes,
// compared and hashed fast): the same value as [Digest] of the item.
func DigestSQL(item string) string { return "md5((" + item + ")::text)::uuid" }

// Digest is the digest of the item the lossless encoding writes for item
// ([ddbjson.AppendItem]), as PostgreSQL computes it with [DigestSQL].
// scratch is reused from call to call and may be nil.
func Digest(item ddbjson.Item, scratch *DigestScratch) ([16]byte, error) {
	if scratch == nil {
		scratch = &DigestScratch{}
	}
	var err error
	if scratch.item, err = ddbjson.AppendItem(scratch.item[:0], item); err != nil {
		return [16]byte{}, err
	}
	return scratch.Sum(scratch.item)
}

// DigestScratch holds the buffers of [Digest] and [DigestScratch.Sum] for
// reuse; one goroutine at a time.
type DigestScratch struct {
	item, text []byte
	f          jsonbFormatter
}

// Sum is the digest of the JSON document doc as PostgreSQL computes it
// with md5(doc::jsonb::text).
func (s *DigestScratch) Sum(doc []byte) ([16]byte, error) {
	var err error
	if s.text, err = s.f.format(s.text[:0], doc); err != nil {
		return [16]byte{}, err
	}
	return md5.Sum(s.text), nil
}

// JSONBText appends to dst the text PostgreSQL prints for the JSON
// document doc as jsonb (doc::jsonb::text). Numbers are refused: no
// DynamoDB JSON holds one (numbers are strings there), and jsonb would
// print them as numeric does.
func JSONBText(dst, doc []byte) ([]byte, error) {
	var f jsonbFormatter
	return f.format(dst, doc)
}

// errJSONBNumber is a JSON number, which JSONBText does not print.
var errJSONBNumber = errors.New("a JSON number (DynamoDB JSON has none)")

// jsonbFormatter prints JSON as jsonb's output function does: object keys
// ordered by length, then bytewise (jsonb's order); ", " between members
// and elements and ": " after keys; strings with only '"', '\\', the
// control characters and nothing else escaped (\b \f \n \r \t, others as
// \u00xx with lowercase hex), all else as UTF-8.
type jsonbFormatter struct {
	src  []byte
	pos  int
	keys []byte // decoded keys of the objects being printed
	// members are the members of the objects being printed, a stack:
	// each object uses the tail it appended.
	members []member
}

// member is an object member: its decoded key (keys[k0:k1]) and its
// value's span in src.
type member struct{ k0, k1, v0, v1 int }

func (f *jsonbFormatter) format(dst, doc []byte) ([]byte, error) {
	f.src, f.pos = doc, 0
	f.keys, f.members = f.keys[:0], f.members[:0]
	f.space()
	dst, err := f.value(dst, 0)
	if err != nil {
		return dst, err
	}
	f.space()
	if f.pos != len(f.src) {
		return dst, f.errorf("data after the document")
	}
	return dst, nil
}

func (f *jsonbFormatter) errorf(format string, args ...any) error {
	return fmt.Errorf("printing JSON as jsonb: at byte %d: %w", f.pos, fmt.Errorf(format, args...))
}

func (f *jsonbFormatter) space() {
	for f.pos < len(f.src) {
		switch f.src[f.pos] {
		case ' ', '\t', '\n', '\r':
			f.pos++
		default:
			return
		}
	}
}

const maxJSONBDepth = 128

// value prints the value at f.pos and moves past it.
func (f *jsonbFormatter) value(dst []byte, depth int) ([]byte, error) {
	if depth > maxJSONBDepth {
		return dst, f.errorf("nested too deep")
	}
	if f.pos >= len(f.src) {
		return dst, f.errorf("unexpected end")
	}
	switch c := f.src[f.pos]; c {
	case '{':
		return f.object(dst, depth)
	case '[':
		f.pos++
		dst = append(dst, '[')
		f.space()
		if f.pos < len(f.src) && f.src[f.pos] == ']' {
			f.pos++
			return append(dst, ']'), nil
		}
		for {
			var err error
			if dst, err = f.value(dst, depth+1); err != nil {
				return dst, err
			}
			f.space()
			if f.pos >= len(f.src) {
				return dst, f.errorf("unexpected end in an array")
			}
			switch f.src[f.pos] {
			case ',':
				f.pos++
				f.space()
				dst = append(dst, ',', ' ')
			case ']':
				f.pos++
				return append(dst, ']'), nil
			default:
				return dst, f.errorf("want , or ] in an array")
			}
		}
	case '"':
		start := len(f.keys)
		var err error
		if f.keys, err = f.str(f.keys); err != nil {
			return dst, err
		}
		dst = appendJSONBString(dst, f.keys[start:])
		f.keys = f.keys[:start]
		return dst, nil
	case 't', 'f', 'n':
		for _, lit := range []string{"true", "false", "null"} {
			if bytes.HasPrefix(f.src[f.pos:], []byte(lit)) {
				f.pos += len(lit)
				return append(dst, lit...), nil
			}
		}
		return dst, f.errorf("invalid literal")
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return dst, f.errorf("%w", errJSONBNumber)
		}
		return dst, f.errorf("unexpected %q", c)
	}
}

// object prints the object at f.pos with its keys in jsonb's order. A key
// given twice keeps its last value, as jsonb does.
func (f *jsonbFormatter) object(dst []byte, depth int) ([]byte, error) {
	f.pos++ // '{'
	base := len(f.members)
	keyBase := len(f.keys)
	defer func() { f.members, f.keys = f.members[:base], f.keys[:keyBase] }()
	f.space()
	if f.pos < len(f.src) && f.src[f.pos] == '}' {
		f.pos++
		return append(dst, '{', '}'), nil
	}
	for {
		if f.pos >= len(f.src) || f.src[f.pos] != '"' {
			return dst, f.errorf("want a key")
		}
		k0 := len(f.keys)
		var err error
		if f.keys, err = f.str(f.keys); err != nil {
			return dst, err
		}
		f.space()
		if f.pos >= len(f.src) || f.src[f.pos] != ':' {
			return dst, f.errorf("want :")
		}
		f.pos++
		f.space()
		v0 := f.pos
		if err := f.skip(depth + 1); err != nil {
			return dst, err
		}
		f.members = append(f.members, member{k0, len(f.keys), v0, f.pos})
		f.space()
		if f.pos >= len(f.src) {
			return dst, f.errorf("unexpected end in an object")
		}
		if f.src[f.pos] == '}' {
			f.pos++
			break
		}
		if f.src[f.pos] != ',' {
			return dst, f.errorf("want , or } in an object")
		}
		f.pos++
		f.space()
	}
	n := len(f.members) - base
	slices.SortStableFunc(f.members[base:], func(a, b member) int {
		if la, lb := a.k1-a.k0, b.k1-b.k0; la != lb {
			return la - lb
		}
		return bytes.Compare(f.keys[a.k0:a.k1], f.keys[b.k0:b.k1])
	})
	end := f.pos
	dst = append(dst, '{')
	first := true
	for i := range n {
		// Printing a value appends to f.members and f.keys past this
		// object's, and may move them: index them afresh each time.
		m := f.members[base+i]
		key := f.keys[m.k0:m.k1]
		// Of equal keys the last one given wins (the sort is stable).
		if i+1 < n {
			next := f.members[base+i+1]
			if bytes.Equal(key, f.keys[next.k0:next.k1]) {
				continue
			}
		}
		if !first {
			dst = append(dst, ',', ' ')
		}
		first = false
		dst = appendJSONBString(dst, key)
		dst = append(dst, ':', ' ')
		f.pos = m.v0
		var err error
		if dst, err = f.value(dst, depth+1); err != nil {
			return dst, err
		}
	}
	f.pos = end
	return append(dst, '}'), nil
}

// skip moves past the value at f.pos, checking little of it: values are
// checked when they are printed.
func (f *jsonbFormatter) skip(depth int) error {
	open := 0
	for {
		if f.pos >= len(f.src) {
			return f.errorf("unexpected end")
		}
		switch c := f.src[f.pos]; c {
		case '"':
			f.pos++
			for f.pos < len(f.src) && f.src[f.pos] != '"' {
				if f.src[f.pos] == '\\' {
					f.pos++
				}
				f.pos++
			}
			if f.pos >= len(f.src) {
				return f.errorf("unterminated string")
			}
			f.pos++
		case '{', '[':
			if open++; depth+open > maxJSONBDepth {
				return f.errorf("nested too deep")
			}
			f.pos++
			continue
		case '}', ']':
			if open == 0 {
				return f.errorf("unexpected %q", c)
			}
			open--
			f.pos++
		default:
			if open == 0 { // a literal (or a number): to the next delimiter
				for f.pos < len(f.src) && !isJSONDelimiter(f.src[f.pos]) {
					f.pos++
				}
				return nil
			}
			f.pos++
			continue
		}
		if open == 0 {
			return nil
		}
	}
}

func isJSONDelimiter(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\r', '\n':
		return true
	}
	return false
}

// str decodes the JSON string at f.pos into dst and moves past it.
func (f *jsonbFormatter) str(dst []byte) ([]byte, error) {
	f.pos++ // '"'
	for {
		start := f.pos
		for f.pos < len(f.src) && f.src[f.pos] != '"' && f.src[f.pos] != '\\' && f.src[f.pos] >= 0x20 {
			f.pos++
		}
		dst = append(dst, f.src[start:f.pos]...)
		if f.pos >= len(f.src) {
			return dst, f.errorf("unterminated string")
		}
		switch c := f.src[f.pos]; {
		case c == '"':
			f.pos++
			if !utf8.Valid(dst) {
				return dst, f.errorf("invalid UTF-8")
			}
			return dst, nil
		case c < 0x20:
			return dst, f.errorf("control character in a string")
		}
		// a backslash escape
		if f.pos+1 >= len(f.src) {
			return dst, f.errorf("unterminated escape")
		}
		e := f.src[f.pos+1]
		f.pos += 2
		switch e {
		case '"', '\\', '/':
			dst = append(dst, e)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, err := f.hex4()
			if err != nil {
				return dst, err
			}
			if utf16.IsSurrogate(r) {
				if r >= 0xdc00 || f.pos+1 >= len(f.src) || f.src[f.pos] != '\\' || f.src[f.pos+1] != 'u' {
					return dst, f.errorf("a lone UTF-16 surrogate")
				}
				f.pos += 2
				r2, err := f.hex4()
				if err != nil {
					return dst, err
				}
				if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
					return dst, f.errorf("a lone UTF-16 surrogate")
				}
			}
			if r == 0 {
				return dst, f.errorf("\\u0000, which jsonb does not hold")
			}
			dst = utf8.AppendRune(dst, r)
		default:
			return dst, f.errorf("invalid escape \\%c", e)
		}
	}
}

func (f *jsonbFormatter) hex4() (rune, error) {
	if f.pos+4 > len(f.src) {
		return 0, f.errorf("short \\u escape")
	}
	var r rune
	for _, c := range f.src[f.pos : f.pos+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, f.errorf("invalid \\u escape")
		}
	}
	f.pos += 4
	return r, nil
}

// appendJSONBString appends the decoded string s as jsonb prints it
// (PostgreSQL's escape_json).
func appendJSONBString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i, c := range s {
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"
