package snapshot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
// and repeated ones. A member whose value is null is left out.
func lineMembers(line []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	members := make(map[string]json.RawMessage, 4)
	seen := make(map[string]bool, 4)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := tok.(string)
		switch name {
		case memberMetadata, memberKeys, memberNew, memberOld:
		default:
			return nil, fmt.Errorf("unexpected member %q in an incremental export line (want %s)", name, wantMembers)
		}
		if seen[name] {
			return nil, fmt.Errorf("duplicate member %q", name)
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if !bytes.Equal(raw, []byte("null")) {
			members[name] = raw
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the incremental export line")
	}
	return members, nil
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
