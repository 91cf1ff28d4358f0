package ddbjson

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// AppendPlain appends the plain JSON form of item to dst: maps as objects,
// lists and sets as arrays (sets in canonical order), numbers as JSON numbers
// with every digit kept, binary as base64 strings, NULL as null. It is meant
// for analysts' queries; [AppendItem] is the lossless form. Like
// [AppendItem], it refuses attribute names containing U+0000 ([ErrNulInName])
// and nesting deeper than the decoders accept.
func AppendPlain(dst []byte, item Item) ([]byte, error) {
	return appendPlainMap(dst, item, 0)
}

// The depth limit and the name check are those of [AppendItem]: without the
// limit a map that contains itself would overflow the stack.
func appendPlainMap(dst []byte, m map[string]types.AttributeValue, depth int) ([]byte, error) {
	if depth > maxDepth {
		return dst, fmt.Errorf("nesting deeper than %d levels", maxDepth)
	}
	dst = append(dst, '{')
	for i, name := range sortedKeys(m) {
		if containsNul(name) {
			return dst, fmt.Errorf("%w: %q", ErrNulInName, name)
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, name, plainNul)
		dst = append(dst, ':')
		var err error
		if dst, err = appendPlainValue(dst, m[name], depth+1); err != nil {
			return dst, fmt.Errorf("attribute %s: %w", name, err)
		}
	}
	return append(dst, '}'), nil
}

func appendPlainValue(dst []byte, v types.AttributeValue, depth int) ([]byte, error) {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return appendString(dst, v.Value, plainNul), nil
	case *types.AttributeValueMemberN:
		n, err := parseDecimal(v.Value)
		if err != nil {
			return dst, err
		}
		return n.appendTo(dst), nil
	case *types.AttributeValueMemberB:
		return appendBase64(dst, v.Value), nil
	case *types.AttributeValueMemberBOOL:
		if v.Value {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case *types.AttributeValueMemberNULL:
		return append(dst, "null"...), nil
	case *types.AttributeValueMemberSS:
		dst = append(dst, '[')
		for i, s := range sortedStrings(v.Value) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, s, plainNul)
		}
		return append(dst, ']'), nil
	case *types.AttributeValueMemberNS:
		ns, err := sortedNumbers(v.Value)
		if err != nil {
			return dst, err
		}
		dst = append(dst, '[')
		for i, s := range ns {
			if i > 0 {
				dst = append(dst, ',')
			}
			n, _ := parseDecimal(s) // checked by sortedNumbers
			dst = n.appendTo(dst)
		}
		return append(dst, ']'), nil
	case *types.AttributeValueMemberBS:
		dst = append(dst, '[')
		for i, b := range sortedBinary(v.Value) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendBase64(dst, b)
		}
		return append(dst, ']'), nil
	case *types.AttributeValueMemberM:
		return appendPlainMap(dst, v.Value, depth)
	case *types.AttributeValueMemberL:
		if depth > maxDepth {
			return dst, fmt.Errorf("nesting deeper than %d levels", maxDepth)
		}
		dst = append(dst, '[')
		for i, e := range v.Value {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendPlainValue(dst, e, depth+1); err != nil {
				return dst, fmt.Errorf("[%d]: %w", i, err)
			}
		}
		return append(dst, ']'), nil
	case nil:
		return dst, fmt.Errorf("nil AttributeValue")
	default:
		return dst, fmt.Errorf("%w %T", ErrUnknownType, v)
	}
}
