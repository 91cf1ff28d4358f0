package diff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
)

// AttrDiff is one attribute path whose value differs between the source's
// image and the copy's.
type AttrDiff struct {
	// Path names the attribute: top-level name, then ".name" for a map
	// member and "[i]" for a list element, e.g. householdMembers[1].fullName.
	Path string `json:"path"`
	// Source and Copy are the values in DynamoDB JSON ({"N":"12.5"}), or
	// JSON null where the attribute is absent on that side.
	Source json.RawMessage `json:"source"`
	Copy   json.RawMessage `json:"copy"`
}

var jsonNull = json.RawMessage("null")

// AttrDiffs lists every attribute path at which two item images differ,
// in path order
// (names sorted, list elements by index). Both are items in the lossless DynamoDB JSON of the item
// column. Maps and lists are descended into, so a changed member is named
// itself rather than its whole map; any other value (scalars, sets, NULL, a
// change of type) is compared whole. Set elements are stored sorted, so two
// images of one set compare equal.
func AttrDiffs(source, copy []byte) ([]AttrDiff, error) {
	var s, c map[string]json.RawMessage
	if err := json.Unmarshal(source, &s); err != nil {
		return nil, fmt.Errorf("decoding the source image: %w", err)
	}
	if err := json.Unmarshal(copy, &c); err != nil {
		return nil, fmt.Errorf("decoding the copy's image: %w", err)
	}
	var out []AttrDiff
	if err := diffMembers(&out, "", s, c); err != nil {
		return nil, err
	}
	return out, nil
}

func diffMembers(out *[]AttrDiff, prefix string, s, c map[string]json.RawMessage) error {
	names := make([]string, 0, len(s)+len(c))
	for n := range s {
		names = append(names, n)
	}
	for n := range c {
		if _, ok := s[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		p := n
		if prefix != "" {
			p = prefix + "." + n
		}
		if err := diffValue(out, p, s[n], c[n]); err != nil {
			return err
		}
	}
	return nil
}

// diffValue compares two DynamoDB JSON values ({"T": v}); nil is absent.
func diffValue(out *[]AttrDiff, path string, s, c json.RawMessage) error {
	if s == nil || c == nil {
		*out = append(*out, AttrDiff{Path: path, Source: compact(s), Copy: compact(c)})
		return nil
	}
	st, sv, err := typed(s)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	ct, cv, err := typed(c)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	switch {
	case st == "M" && ct == "M":
		var sm, cm map[string]json.RawMessage
		if err := json.Unmarshal(sv, &sm); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := json.Unmarshal(cv, &cm); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return diffMembers(out, path, sm, cm)
	case st == "L" && ct == "L":
		var sl, cl []json.RawMessage
		if err := json.Unmarshal(sv, &sl); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := json.Unmarshal(cv, &cl); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for i := range max(len(sl), len(cl)) {
			var a, b json.RawMessage
			if i < len(sl) {
				a = sl[i]
			}
			if i < len(cl) {
				b = cl[i]
			}
			if err := diffValue(out, fmt.Sprintf("%s[%d]", path, i), a, b); err != nil {
				return err
			}
		}
		return nil
	}
	equal, err := jsonEqual(s, c)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if !equal {
		*out = append(*out, AttrDiff{Path: path, Source: compact(s), Copy: compact(c)})
	}
	return nil
}

// typed splits {"T": v} into T and v.
func typed(raw json.RawMessage) (string, json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || len(m) != 1 {
		return "", nil, fmt.Errorf("not a DynamoDB JSON value: %.80s", raw)
	}
	for t, v := range m {
		return t, v, nil
	}
	return "", nil, nil
}

// jsonEqual compares two JSON texts as values. DynamoDB JSON keeps numbers
// in strings, so this is exact to the last digit.
func jsonEqual(a, b json.RawMessage) (bool, error) {
	if bytes.Equal(a, b) {
		return true, nil
	}
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, &y); err != nil {
		return false, err
	}
	return reflect.DeepEqual(x, y), nil
}

func compact(raw json.RawMessage) json.RawMessage {
	if raw == nil {
		return jsonNull
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}
