package snapshot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// An incremental export line, as public readers of real exports and AWS's
// examples show it (AWS's own format page was not available to check):
//
//	{"Metadata":{"WriteTimestampMicros":{"N":"1695097218123456"}},
//	 "Keys":{"pk":{"S":"a"}},"OldImage":{...},"NewImage":{...}}
//
// NewImage is absent when the item was deleted; OldImage is absent when the
// item did not exist at the start of the window, and always with
// NEW_IMAGE. WriteTimestampMicros is an AttributeValue N in every reader
// seen, but one third-party description shows a bare JSON number; both are
// read. An image given as null is read as absent. Any other top-level
// member is an error (a full export's {"Item":...} line among them);
// unknown members inside Metadata are ignored.
const (
	memberMetadata = "Metadata"
	memberKeys     = "Keys"
	memberNew      = "NewImage"
	memberOld      = "OldImage"
	memberWriteTS  = "WriteTimestampMicros"
)

// decodeChange decodes one line of an incremental export of view view.
func decodeChange(line []byte, view ViewType) (Change, error) {
	members, err := lineMembers(line)
	if err != nil {
		return Change{}, err
	}
	var c Change
	meta, ok := members[memberMetadata]
	if !ok {
		return Change{}, fmt.Errorf("no %q (want %s)", memberMetadata, wantMembers)
	}
	if c.WriteTime, err = writeTime(meta); err != nil {
		return Change{}, err
	}
	raw, ok := members[memberKeys]
	if !ok {
		return Change{}, fmt.Errorf("no %q (want %s)", memberKeys, wantMembers)
	}
	if c.Keys, err = image(memberKeys, raw); err != nil {
		return Change{}, err
	}
	if len(c.Keys) == 0 {
		return Change{}, fmt.Errorf("%s is empty", memberKeys)
	}
	for name, v := range c.Keys {
		if t := ddbjson.TypeOf(v); t != ddbjson.TypeS && t != ddbjson.TypeN && t != ddbjson.TypeB {
			return Change{}, fmt.Errorf("%s: attribute %q has type %s (key attributes are S, N or B)", memberKeys, name, t)
		}
	}
	if raw, ok := members[memberNew]; ok {
		if c.NewImage, err = image(memberNew, raw); err != nil {
			return Change{}, err
		}
	}
	if raw, ok := members[memberOld]; ok {
		if c.OldImage, err = image(memberOld, raw); err != nil {
			return Change{}, err
		}
	}
	if c.OldImage != nil && view == ViewNewImage {
		return Change{}, fmt.Errorf("%s in an export whose outputView is %s", memberOld, ViewNewImage)
	}
	for _, img := range []struct {
		name string
		item map[string]types.AttributeValue
	}{{memberNew, c.NewImage}, {memberOld, c.OldImage}} {
		if img.item == nil {
			continue
		}
		for name, k := range c.Keys {
			if _, ok := img.item[name]; !ok {
				return Change{}, fmt.Errorf("%s lacks key attribute %q", img.name, name)
			}
			if !sameKeyValue(k, img.item[name]) {
				return Change{}, fmt.Errorf("%s's key attribute %q differs from the one in %s", img.name, name, memberKeys)
			}
		}
	}
	return c, nil
}

var wantMembers = strings.Join([]string{memberMetadata, memberKeys, memberNew, memberOld}, ", ")

// lineMembers splits a line into its top-level members, refusing unknown
// and repeated ones. A member whose value is null is left out. It only
// finds where each member's value starts and ends, a byte loop over
// strings and brackets; the values themselves are checked by the decoding
// of each member ([image], [writeTime]), so that the images are parsed
// once, by ddbjson, rather than once more by encoding/json.
func lineMembers(line []byte) (map[string]json.RawMessage, error) {
	i := skipSpace(line, 0)
	if i == len(line) || line[i] != '{' {
		return nil, errors.New("not a JSON object")
	}
	members := make(map[string]json.RawMessage, 4)
	seen := make(map[string]bool, 4)
	i = skipSpace(line, i+1)
	if i < len(line) && line[i] == '}' {
		i++
	} else {
		for {
			if i == len(line) || line[i] != '"' {
				return nil, errors.New("want a member name")
			}
			end, err := skipString(line, i)
			if err != nil {
				return nil, err
			}
			name, err := memberName(line[i:end])
			if err != nil {
				return nil, err
			}
			switch name {
			case memberMetadata, memberKeys, memberNew, memberOld:
			default:
				return nil, fmt.Errorf("unexpected member %q in an incremental export line (want %s)", name, wantMembers)
			}
			if seen[name] {
				return nil, fmt.Errorf("duplicate member %q", name)
			}
			seen[name] = true
			i = skipSpace(line, end)
			if i == len(line) || line[i] != ':' {
				return nil, fmt.Errorf("%s: want ':'", name)
			}
			i = skipSpace(line, i+1)
			end, err = skipValue(line, i)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			if raw := line[i:end]; !bytes.Equal(raw, []byte("null")) {
				members[name] = raw
			}
			i = skipSpace(line, end)
			if i < len(line) && line[i] == ',' {
				i = skipSpace(line, i+1)
				continue
			}
			if i == len(line) || line[i] != '}' {
				return nil, errors.New("want ',' or '}' after a member")
			}
			i++
			break
		}
	}
	if skipSpace(line, i) != len(line) {
		return nil, errors.New("unexpected data after the incremental export line")
	}
	return members, nil
}

var errLineEnd = errors.New("unexpected end of the line")

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// skipString returns the end of the JSON string that starts at b[i].
func skipString(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, errLineEnd
}

// skipValue returns the end of the JSON value that starts at b[i]: a
// string, an object or array (to its matching bracket), or a literal.
func skipValue(b []byte, i int) (int, error) {
	if i == len(b) {
		return 0, errLineEnd
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				end, err := skipString(b, i)
				if err != nil {
					return 0, err
				}
				i = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1, nil
				}
			}
		}
		return 0, errLineEnd
	}
	j := i
	for j < len(b) && !endsLiteral(b[j]) {
		j++
	}
	if j == i {
		return 0, fmt.Errorf("unexpected %q", b[i])
	}
	return j, nil
}

func endsLiteral(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\r', '\n':
		return true
	}
	return false
}

// memberName decodes a member name (a JSON string, quotes included).
func memberName(raw []byte) (string, error) {
	if !bytes.ContainsRune(raw, '\\') {
		return string(raw[1 : len(raw)-1]), nil
	}
	var name string
	if err := json.Unmarshal(raw, &name); err != nil {
		return "", err
	}
	return name, nil
}

// image decodes a member holding an item (Keys, NewImage, OldImage).
func image(member string, raw json.RawMessage) (map[string]types.AttributeValue, error) {
	item, err := ddbjson.DecodeItem(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", member, err)
	}
	return item, nil
}

// writeTime reads Metadata.WriteTimestampMicros: {"N":"<digits>"}, or a
// bare JSON integer.
func writeTime(meta json.RawMessage) (time.Time, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(meta, &m); err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", memberMetadata, err)
	}
	raw, ok := m[memberWriteTS]
	if !ok || bytes.Equal(raw, []byte("null")) {
		return time.Time{}, fmt.Errorf("%s has no %s", memberMetadata, memberWriteTS)
	}
	what := memberMetadata + "." + memberWriteTS
	digits := string(raw)
	if len(raw) > 0 && raw[0] == '{' {
		var n map[string]json.RawMessage
		if err := json.Unmarshal(raw, &n); err != nil {
			return time.Time{}, fmt.Errorf("%s: %w", what, err)
		}
		v, ok := n["N"]
		if !ok || len(n) != 1 {
			return time.Time{}, fmt.Errorf("%s is %s, want a number ({\"N\":\"<microseconds>\"})", what, raw)
		}
		if err := json.Unmarshal(v, &digits); err != nil {
			return time.Time{}, fmt.Errorf("%s: N is %s, want a string of digits", what, v)
		}
	}
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return time.Time{}, fmt.Errorf("%s is %q, want microseconds since the epoch (digits only)", what, digits)
	}
	us, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %s is out of range", what, digits)
	}
	return time.UnixMicro(us).UTC(), nil
}

// sameKeyValue compares two key attribute values (S, N or B). DynamoDB
// writes numbers normalized, so N compares as text.
func sameKeyValue(a, b types.AttributeValue) bool {
	switch a := a.(type) {
	case *types.AttributeValueMemberS:
		b, ok := b.(*types.AttributeValueMemberS)
		return ok && a.Value == b.Value
	case *types.AttributeValueMemberN:
		b, ok := b.(*types.AttributeValueMemberN)
		return ok && a.Value == b.Value
	case *types.AttributeValueMemberB:
		b, ok := b.(*types.AttributeValueMemberB)
		return ok && bytes.Equal(a.Value, b.Value)
	}
	return false
}
