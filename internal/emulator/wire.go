package emulator

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// The wire encoding is plain DynamoDB JSON as AWS sends it. It differs from
// ddbjson's lossless form only for strings holding U+0000, which go out as
// JSON "\u0000" here instead of ddbjson's base64 escape.

// appendWireItem appends item as a JSON object of AttributeValues.
func appendWireItem(dst []byte, item ddbjson.Item) []byte {
	dst = append(dst, '{')
	names := make([]string, 0, len(item))
	for k := range item {
		names = append(names, k)
	}
	slices.Sort(names)
	for i, name := range names {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, name)
		dst = append(dst, ':')
		dst = appendWireValue(dst, item[name])
	}
	return append(dst, '}')
}

func appendWireValue(dst []byte, v types.AttributeValue) []byte {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		dst = append(dst, `{"S":`...)
		dst = appendJSONString(dst, v.Value)
	case *types.AttributeValueMemberN:
		dst = append(dst, `{"N":`...)
		dst = appendJSONString(dst, v.Value)
	case *types.AttributeValueMemberB:
		dst = append(dst, `{"B":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, v.Value)
		dst = append(dst, '"')
	case *types.AttributeValueMemberBOOL:
		dst = append(dst, `{"BOOL":`...)
		dst = strconv.AppendBool(dst, v.Value)
	case *types.AttributeValueMemberNULL:
		dst = append(dst, `{"NULL":true`...)
	case *types.AttributeValueMemberSS:
		dst = appendStringSet(dst, `{"SS":[`, v.Value)
	case *types.AttributeValueMemberNS:
		dst = appendStringSet(dst, `{"NS":[`, v.Value)
	case *types.AttributeValueMemberBS:
		dst = append(dst, `{"BS":[`...)
		for i, b := range v.Value {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, '"')
			dst = base64.StdEncoding.AppendEncode(dst, b)
			dst = append(dst, '"')
		}
		dst = append(dst, ']')
	case *types.AttributeValueMemberM:
		dst = append(dst, `{"M":`...)
		dst = appendWireItem(dst, v.Value)
	case *types.AttributeValueMemberL:
		dst = append(dst, `{"L":[`...)
		for i, e := range v.Value {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendWireValue(dst, e)
		}
		dst = append(dst, ']')
	default:
		// Items are validated on the way in; this cannot happen.
		panic(fmt.Sprintf("emulator: unexpected AttributeValue %T", v))
	}
	return append(dst, '}')
}

func appendStringSet(dst []byte, open string, ss []string) []byte {
	dst = append(dst, open...)
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, s)
	}
	return append(dst, ']')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, escaping control characters
// (U+0000 included) and replacing invalid UTF-8 with U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
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
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// wireItem is an item in a response, encoded by appendWireItem.
type wireItem ddbjson.Item

func (w wireItem) MarshalJSON() ([]byte, error) {
	if w == nil {
		return []byte("null"), nil
	}
	return appendWireItem(nil, ddbjson.Item(w)), nil
}

// epoch is a timestamp on the JSON wire: epoch seconds, with milliseconds
// when there are any.
type epoch time.Time

func (e epoch) MarshalJSON() ([]byte, error) {
	t := time.Time(e)
	ms := t.UnixMilli()
	if ms%1000 == 0 {
		return strconv.AppendInt(nil, ms/1000, 10), nil
	}
	return []byte(strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64)), nil
}

func (e *epoch) UnmarshalJSON(b []byte) error {
	var f json.Number
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("timestamp %s: want epoch seconds", b)
	}
	v, err := f.Float64()
	if err != nil {
		return fmt.Errorf("timestamp %s: %w", b, err)
	}
	sec := int64(v)
	*e = epoch(time.Unix(sec, int64((v-float64(sec))*1e9)).UTC().Round(time.Millisecond))
	return nil
}

func epochPtr(t time.Time) *epoch {
	if t.IsZero() {
		return nil
	}
	e := epoch(t)
	return &e
}

// decodeItemField decodes a request member holding an item or key ({} or
// absent gives an empty item). Numbers come back normalized, as DynamoDB
// stores them.
func decodeItemField(raw json.RawMessage, what string) (ddbjson.Item, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return ddbjson.Item{}, nil
	}
	item, err := ddbjson.DecodeItem(raw)
	if err != nil {
		return nil, errValidation("%s: %v", what, err)
	}
	normalizeItem(item)
	return item, nil
}

// normalizeItem rewrites every number in item, in place, to the canonical
// text DynamoDB returns ("1.50" becomes "1.5").
func normalizeItem(item ddbjson.Item) {
	for k, v := range item {
		item[k] = normalizeValue(v)
	}
}

func normalizeValue(v types.AttributeValue) types.AttributeValue {
	switch v := v.(type) {
	case *types.AttributeValueMemberN:
		if n, err := ddbjson.NormalizeNumber(v.Value); err == nil {
			return &types.AttributeValueMemberN{Value: n}
		}
	case *types.AttributeValueMemberNS:
		out := make([]string, len(v.Value))
		for i, s := range v.Value {
			out[i], _ = ddbjson.NormalizeNumber(s)
		}
		return &types.AttributeValueMemberNS{Value: out}
	case *types.AttributeValueMemberM:
		normalizeItem(v.Value)
	case *types.AttributeValueMemberL:
		for i, e := range v.Value {
			v.Value[i] = normalizeValue(e)
		}
	}
	return v
}

// itemSize approximates DynamoDB's item size: attribute name bytes plus
// value bytes.
func itemSize(item ddbjson.Item) int64 {
	var n int64
	for k, v := range item {
		n += int64(len(k)) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int64 {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return int64(len(v.Value))
	case *types.AttributeValueMemberN:
		return int64(len(v.Value)/2 + 1)
	case *types.AttributeValueMemberB:
		return int64(len(v.Value))
	case *types.AttributeValueMemberSS:
		var n int64
		for _, s := range v.Value {
			n += int64(len(s))
		}
		return n
	case *types.AttributeValueMemberNS:
		var n int64
		for _, s := range v.Value {
			n += int64(len(s)/2 + 1)
		}
		return n
	case *types.AttributeValueMemberBS:
		var n int64
		for _, b := range v.Value {
			n += int64(len(b))
		}
		return n
	case *types.AttributeValueMemberM:
		return 3 + itemSize(v.Value)
	case *types.AttributeValueMemberL:
		n := int64(3)
		for _, e := range v.Value {
			n += 1 + valueSize(e)
		}
		return n
	}
	return 1
}
