package ddbjson

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// AppendItem appends the lossless DynamoDB JSON of item to dst: attributes
// in name order, set elements in canonical order, strings containing U+0000
// escaped as described in the package documentation. The output is valid
// input for PostgreSQL jsonb and for [DecodeItem], and two items that
// DynamoDB considers equal encode to the same bytes.
func AppendItem(dst []byte, item Item) ([]byte, error) {
	return lossless.appendMap(dst, item, 0)
}

// EncodeItem is [AppendItem] into a new slice.
func EncodeItem(item Item) ([]byte, error) { return AppendItem(nil, item) }

// AppendWire appends item as DynamoDB JSON the way AWS sends it on the wire:
// like [AppendItem], except that U+0000 stays a "\u0000" escape inside the
// string instead of the S0/SS0 form PostgreSQL needs. For servers speaking
// the DynamoDB protocol, such as the test emulator.
func AppendWire(dst []byte, item Item) ([]byte, error) {
	return wire.appendMap(dst, item, 0)
}

// encoding is one of the two DynamoDB JSON encodings: lossless (stored in
// PostgreSQL) or wire (what AWS sends). They differ only in U+0000.
type encoding struct{ wire bool }

var (
	lossless = encoding{}
	wire     = encoding{wire: true}
)

// plainNul is U+0000 in the plain form: U+FFFD, since jsonb cannot hold it.
const plainNul = `\ufffd`

// nul is how a string escapes U+0000: the wire keeps it; the lossless form
// escapes such strings before they reach appendString.
func (e encoding) nul() string {
	if e.wire {
		return `\u0000`
	}
	return plainNul
}

func (e encoding) appendMap(dst []byte, m map[string]types.AttributeValue, depth int) ([]byte, error) {
	if depth > maxDepth {
		return dst, fmt.Errorf("nesting deeper than %d levels", maxDepth)
	}
	dst = append(dst, '{')
	for i, name := range sortedKeys(m) {
		if !e.wire && containsNul(name) {
			return dst, fmt.Errorf("%w: %q", ErrNulInName, name)
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, name, e.nul())
		dst = append(dst, ':')
		var err error
		if dst, err = e.appendValue(dst, m[name], depth+1); err != nil {
			return dst, fmt.Errorf("attribute %s: %w", name, err)
		}
	}
	return append(dst, '}'), nil
}

func (e encoding) appendValue(dst []byte, v types.AttributeValue, depth int) ([]byte, error) {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		if !e.wire && containsNul(v.Value) {
			dst = append(dst, `{"S0":`...)
			dst = appendBase64(dst, []byte(v.Value))
			return append(dst, '}'), nil
		}
		dst = append(dst, `{"S":`...)
		dst = appendString(dst, v.Value, e.nul())
	case *types.AttributeValueMemberN:
		if err := CheckNumber(v.Value); err != nil {
			return dst, err
		}
		dst = append(dst, `{"N":`...)
		dst = appendString(dst, v.Value, e.nul())
	case *types.AttributeValueMemberB:
		dst = append(dst, `{"B":`...)
		dst = appendBase64(dst, v.Value)
	case *types.AttributeValueMemberBOOL:
		if v.Value {
			dst = append(dst, `{"BOOL":true`...)
		} else {
			dst = append(dst, `{"BOOL":false`...)
		}
	case *types.AttributeValueMemberNULL:
		dst = append(dst, `{"NULL":true`...)
	case *types.AttributeValueMemberSS:
		if len(v.Value) == 0 {
			return dst, fmt.Errorf("a set must not be empty")
		}
		ss := sortedStrings(v.Value)
		escape := !e.wire && slices.ContainsFunc(ss, containsNul)
		if escape {
			dst = append(dst, `{"SS0":[`...)
		} else {
			dst = append(dst, `{"SS":[`...)
		}
		for i, s := range ss {
			if i > 0 {
				dst = append(dst, ',')
			}
			if escape {
				dst = appendBase64(dst, []byte(s))
			} else {
				dst = appendString(dst, s, e.nul())
			}
		}
		dst = append(dst, ']')
	case *types.AttributeValueMemberNS:
		if len(v.Value) == 0 {
			return dst, fmt.Errorf("a set must not be empty")
		}
		ns, err := sortedNumbers(v.Value)
		if err != nil {
			return dst, err
		}
		dst = append(dst, `{"NS":[`...)
		for i, s := range ns {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, s, e.nul())
		}
		dst = append(dst, ']')
	case *types.AttributeValueMemberBS:
		if len(v.Value) == 0 {
			return dst, fmt.Errorf("a set must not be empty")
		}
		dst = append(dst, `{"BS":[`...)
		for i, b := range sortedBinary(v.Value) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendBase64(dst, b)
		}
		dst = append(dst, ']')
	case *types.AttributeValueMemberM:
		dst = append(dst, `{"M":`...)
		var err error
		if dst, err = e.appendMap(dst, v.Value, depth); err != nil {
			return dst, err
		}
	case *types.AttributeValueMemberL:
		if depth > maxDepth {
			return dst, fmt.Errorf("nesting deeper than %d levels", maxDepth)
		}
		dst = append(dst, `{"L":[`...)
		for i, el := range v.Value {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = e.appendValue(dst, el, depth+1); err != nil {
				return dst, fmt.Errorf("[%d]: %w", i, err)
			}
		}
		dst = append(dst, ']')
	case nil:
		return dst, fmt.Errorf("nil AttributeValue")
	default:
		return dst, fmt.Errorf("%w %T", ErrUnknownType, v)
	}
	return append(dst, '}'), nil
}

func sortedKeys(m map[string]types.AttributeValue) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func sortedStrings(ss []string) []string {
	if slices.IsSorted(ss) {
		return ss
	}
	out := slices.Clone(ss)
	slices.Sort(out)
	return out
}

// sortedNumbers orders a number set by the canonical text of its elements, so
// that {"1.0","2"} and {"2","1"} encode alike once DynamoDB has normalized
// them; the element text itself is kept as given.
func sortedNumbers(ns []string) ([]string, error) {
	type pair struct{ norm, orig string }
	ps := make([]pair, len(ns))
	for i, s := range ns {
		n, err := NormalizeNumber(s)
		if err != nil {
			return nil, err
		}
		ps[i] = pair{n, s}
	}
	// Equal values in different spellings ("1" and "1.0": a duplicate that
	// DynamoDB itself would refuse) are ordered by their text, so that the
	// input order never shows in the output.
	slices.SortFunc(ps, func(a, b pair) int {
		if c := strings.Compare(a.norm, b.norm); c != 0 {
			return c
		}
		return strings.Compare(a.orig, b.orig)
	})
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.orig
	}
	return out, nil
}

func sortedBinary(bs [][]byte) [][]byte {
	if slices.IsSortedFunc(bs, bytes.Compare) {
		return bs
	}
	out := slices.Clone(bs)
	slices.SortFunc(out, bytes.Compare)
	return out
}

func appendBase64(dst, b []byte) []byte {
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, writing U+0000 as nul. Invalid
// UTF-8 is replaced by U+FFFD, as encoding/json does; the decoders never
// produce it.
func appendString(dst []byte, s string, nul string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case 0:
				dst = append(dst, nul...)
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
