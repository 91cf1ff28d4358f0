package store

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"
	"slices"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// A diff compares an item's digest, not the item: md5 of the text
// PostgreSQL prints for the item as jsonb (item::text). jsonb keeps one
// form of a value (keys sorted, duplicates and whitespace gone, escapes
// decoded), and its text output is a function of that form, so two items
// equal as jsonb have the same text and the same digest. [Digest] computes
// in Go, from the bytes a writer sends PostgreSQL for the item column,
// exactly the text PostgreSQL would print, and hashes it: the source's
// digests are computed as they are read, and the copy's by its writers,
// into [ColItemDigest].

// DigestSQL is the SQL expression of the digest of item, an expression
// of type jsonb (a data table's item column), as a uuid (16 bytes,
// compared and hashed fast): the same value as [Digest] of the item.
func DigestSQL(item string) string { return "md5((" + item + ")::text)::uuid" }

// The digest triggers of a data table, and the function they run
// (migration 00013 creates it: NEW.item_digest := md5(NEW.item::text)::uuid).
const (
	digestFunction      = "ddbsync.item_digest()"
	digestInsertTrigger = "item_digest_on_insert"
	digestUpdateTrigger = "item_digest_on_update"
)

// digestTriggersSQL gives table ident its digest triggers: a row that comes
// without its digest (an analyst's INSERT or COPY), or whose item an UPDATE
// changes and leaves the digest as it was, gets it computed by PostgreSQL,
// so nobody's write leaves [ColItemDigest] disagreeing with item and a diff
// blind to it. ddbsync's writers send the digest ([Encoder]): for them the
// triggers' WHEN is false and costs next to nothing. (The column used to be
// generated: PostgreSQL printed and hashed each item, twice in an upsert,
// which was about half the server's time of stream apply.) Migration 00013
// gives existing tables the same triggers, so that a reload, which keeps a
// table's triggers only where the new table has the same, swaps tables.
func digestTriggersSQL(ident pgx.Identifier) []string {
	t := ident.Sanitize()
	return []string{
		"CREATE TRIGGER " + digestInsertTrigger + " BEFORE INSERT ON " + t +
			" FOR EACH ROW WHEN (NEW.item_digest IS NULL) EXECUTE FUNCTION " + digestFunction,
		"CREATE TRIGGER " + digestUpdateTrigger + " BEFORE UPDATE OF item, item_digest ON " + t +
			" FOR EACH ROW WHEN (NEW.item_digest IS NULL OR NEW.item_digest = OLD.item_digest) EXECUTE FUNCTION " + digestFunction,
	}
}

// Digest is the digest of the item the lossless encoding writes for item
// ([ddbjson.AppendItem]), as PostgreSQL computes it with [DigestSQL].
// scratch is reused from call to call and may be nil.
func Digest(item map[string]types.AttributeValue, scratch *DigestScratch) ([16]byte, error) {
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
// \u00xx with lowercase hex), all else as UTF-8. It reads its input once:
// an object's members are printed as they come, then copied out in order.
type jsonbFormatter struct {
	src []byte
	pos int
	out []byte // the text printed so far, with the members of unfinished objects
	tmp []byte // an object's text, put in order, before it replaces its members in out
	// keys are the decoded keys of the unfinished objects' members.
	keys []byte
	// members are the unfinished objects' members, a stack: each object
	// uses the tail it appended.
	members []member
}

// member is an object member: its decoded key (keys[k0:k1]) and its
// printed text, key and value (out[v0:v1]).
type member struct{ k0, k1, v0, v1 int }

func (f *jsonbFormatter) format(dst, doc []byte) ([]byte, error) {
	if !utf8.Valid(doc) {
		return dst, fmt.Errorf("printing JSON as jsonb: invalid UTF-8")
	}
	f.src, f.pos = doc, 0
	f.out, f.keys, f.members = dst, f.keys[:0], f.members[:0]
	f.space()
	if err := f.value(0); err != nil {
		return f.out, err
	}
	f.space()
	if f.pos != len(f.src) {
		return f.out, f.errorf("data after the document")
	}
	out := f.out
	f.out, f.src = nil, nil
	return out, nil
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

// value prints the value at f.pos into f.out and moves past it.
func (f *jsonbFormatter) value(depth int) error {
	if depth > maxJSONBDepth {
		return f.errorf("nested too deep")
	}
	if f.pos >= len(f.src) {
		return f.errorf("unexpected end")
	}
	switch c := f.src[f.pos]; c {
	case '{':
		return f.object(depth)
	case '[':
		f.pos++
		f.out = append(f.out, '[')
		f.space()
		if f.pos < len(f.src) && f.src[f.pos] == ']' {
			f.pos++
			f.out = append(f.out, ']')
			return nil
		}
		for {
			if err := f.value(depth + 1); err != nil {
				return err
			}
			f.space()
			if f.pos >= len(f.src) {
				return f.errorf("unexpected end in an array")
			}
			switch f.src[f.pos] {
			case ',':
				f.pos++
				f.space()
				f.out = append(f.out, ',', ' ')
			case ']':
				f.pos++
				f.out = append(f.out, ']')
				return nil
			default:
				return f.errorf("want , or ] in an array")
			}
		}
	case '"':
		return f.printString()
	case 't', 'f', 'n':
		for _, lit := range [...]string{"true", "false", "null"} {
			if len(f.src)-f.pos >= len(lit) && string(f.src[f.pos:f.pos+len(lit)]) == lit {
				f.pos += len(lit)
				f.out = append(f.out, lit...)
				return nil
			}
		}
		return f.errorf("invalid literal")
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return f.errorf("%w", errJSONBNumber)
		}
		return f.errorf("unexpected %q", c)
	}
}

// printString prints the string at f.pos: as it is when it has no escape
// (no character of it needs one in jsonb's text either), else decoded and
// escaped again.
func (f *jsonbFormatter) printString() error {
	end := f.pos + 1
	for end < len(f.src) && f.src[end] != '"' && f.src[end] != '\\' && f.src[end] >= 0x20 {
		end++
	}
	if end < len(f.src) && f.src[end] == '"' {
		f.out = append(f.out, f.src[f.pos:end+1]...)
		f.pos = end + 1
		return nil
	}
	start := len(f.keys)
	var err error
	if f.keys, err = f.str(f.keys); err != nil {
		return err
	}
	f.out = appendJSONBString(f.out, f.keys[start:])
	f.keys = f.keys[:start]
	return nil
}

// object prints the object at f.pos with its keys in jsonb's order. A key
// given twice keeps its last value, as jsonb does.
func (f *jsonbFormatter) object(depth int) error {
	f.pos++ // '{'
	base, keyBase, outBase := len(f.members), len(f.keys), len(f.out)
	defer func() { f.members, f.keys = f.members[:base], f.keys[:keyBase] }()
	f.out = append(f.out, '{')
	f.space()
	if f.pos < len(f.src) && f.src[f.pos] == '}' {
		f.pos++
		f.out = append(f.out, '}')
		return nil
	}
	// Members are printed as they come, each with its key; most objects
	// (every attribute value's {"S": …}, and many maps) are in jsonb's order
	// already and are done then. Others are put in order after.
	for {
		if f.pos >= len(f.src) || f.src[f.pos] != '"' {
			return f.errorf("want a key")
		}
		k0 := len(f.keys)
		var err error
		if f.keys, err = f.str(f.keys); err != nil {
			return err
		}
		f.space()
		if f.pos >= len(f.src) || f.src[f.pos] != ':' {
			return f.errorf("want :")
		}
		f.pos++
		f.space()
		if len(f.members) > base {
			f.out = append(f.out, ',', ' ')
		}
		m0 := len(f.out)
		f.out = appendJSONBString(f.out, f.keys[k0:])
		f.out = append(f.out, ':', ' ')
		if err := f.value(depth + 1); err != nil {
			return err
		}
		f.members = append(f.members, member{k0, len(f.keys), m0, len(f.out)})
		f.space()
		if f.pos >= len(f.src) {
			return f.errorf("unexpected end in an object")
		}
		if f.src[f.pos] == '}' {
			f.pos++
			break
		}
		if f.src[f.pos] != ',' {
			return f.errorf("want , or } in an object")
		}
		f.pos++
		f.space()
	}
	ms, keys := f.members[base:], f.keys
	less := func(a, b member) bool {
		if la, lb := a.k1-a.k0, b.k1-b.k0; la != lb {
			return la < lb
		}
		return bytes.Compare(keys[a.k0:a.k1], keys[b.k0:b.k1]) < 0
	}
	ordered := true
	for i := 1; i < len(ms) && ordered; i++ {
		ordered = less(ms[i-1], ms[i]) // strictly: no key twice either
	}
	if ordered {
		f.out = append(f.out, '}')
		return nil
	}
	if len(ms) <= 64 {
		// Insertion sort: stable, and the fastest for an item's few attributes.
		for i := 1; i < len(ms); i++ {
			for j := i; j > 0 && less(ms[j], ms[j-1]); j-- {
				ms[j], ms[j-1] = ms[j-1], ms[j]
			}
		}
	} else {
		slices.SortStableFunc(ms, func(a, b member) int {
			switch {
			case less(a, b):
				return -1
			case less(b, a):
				return 1
			}
			return 0
		})
	}
	// The members are in f.out in the order given: put the object together
	// in f.tmp, then in their place. (Objects inside are done.)
	f.tmp = append(f.tmp[:0], '{')
	first := true
	for i, m := range ms {
		// Of equal keys the last one given wins (the sort is stable).
		if i+1 < len(ms) && bytes.Equal(keys[m.k0:m.k1], keys[ms[i+1].k0:ms[i+1].k1]) {
			continue
		}
		if !first {
			f.tmp = append(f.tmp, ',', ' ')
		}
		first = false
		f.tmp = append(f.tmp, f.out[m.v0:m.v1]...)
	}
	f.tmp = append(f.tmp, '}')
	f.out = append(f.out[:outBase], f.tmp...)
	return nil
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
