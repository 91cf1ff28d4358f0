package emulator

import (
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// applyUpdate returns a new item: old (nil if absent, then starting from the
// key) with actions applied, plus the top-level attribute names touched.
// old itself is not modified.
func applyUpdate(old, key ddbjson.Item, actions []updateAction) (ddbjson.Item, []string, error) {
	base := old
	if base == nil {
		base = key
	}
	item := cloneItem(base)
	var touched []string
	for _, a := range actions {
		if !slices.Contains(touched, a.path[0].name) {
			touched = append(touched, a.path[0].name)
		}
		if _, isKey := key[a.path[0].name]; isKey {
			return nil, nil, errValidation("One or more parameter values were invalid: Cannot update attribute %s. This attribute is part of the key", a.path[0].name)
		}
		var err error
		switch a.verb {
		case "SET":
			var v types.AttributeValue
			if v, err = a.val.eval(old); err == nil {
				err = setPath(item, a.path, v)
			}
		case "REMOVE":
			removePath(item, a.path)
		case "ADD":
			err = addAction(item, a.path, a.val.val)
		case "DELETE":
			err = deleteAction(item, a.path, a.val.val)
		}
		if err != nil {
			return nil, nil, errValidation("Invalid UpdateExpression: %v", err)
		}
	}
	return item, touched, nil
}

func cloneItem(item ddbjson.Item) ddbjson.Item {
	out := make(ddbjson.Item, len(item))
	for k, v := range item {
		out[k] = cloneValue(v)
	}
	return out
}

func cloneValue(v types.AttributeValue) types.AttributeValue {
	switch v := v.(type) {
	case *types.AttributeValueMemberM:
		return &types.AttributeValueMemberM{Value: cloneItem(v.Value)}
	case *types.AttributeValueMemberL:
		l := make([]types.AttributeValue, len(v.Value))
		for i, e := range v.Value {
			l[i] = cloneValue(e)
		}
		return &types.AttributeValueMemberL{Value: l}
	}
	return v // scalars and sets are never modified in place
}

func getPath(item ddbjson.Item, path []pathElem) types.AttributeValue {
	var cur types.AttributeValue = &types.AttributeValueMemberM{Value: item}
	for _, e := range path {
		switch c := cur.(type) {
		case *types.AttributeValueMemberM:
			if e.name == "" {
				return nil
			}
			cur = c.Value[e.name]
		case *types.AttributeValueMemberL:
			if e.name != "" || e.index >= len(c.Value) {
				return nil
			}
			cur = c.Value[e.index]
		default:
			return nil
		}
		if cur == nil {
			return nil
		}
	}
	return cur
}

// parentOf returns the container holding the last element of path.
func parentOf(item ddbjson.Item, path []pathElem) (types.AttributeValue, error) {
	if len(path) == 1 {
		return &types.AttributeValueMemberM{Value: item}, nil
	}
	p := getPath(item, path[:len(path)-1])
	if p == nil {
		return nil, fmt.Errorf("the document path provided in the update expression is invalid for update")
	}
	return p, nil
}

func setPath(item ddbjson.Item, path []pathElem, v types.AttributeValue) error {
	parent, err := parentOf(item, path)
	if err != nil {
		return err
	}
	last := path[len(path)-1]
	switch c := parent.(type) {
	case *types.AttributeValueMemberM:
		if last.name == "" {
			return fmt.Errorf("the document path provided in the update expression is invalid for update")
		}
		c.Value[last.name] = v
	case *types.AttributeValueMemberL:
		if last.name != "" {
			return fmt.Errorf("the document path provided in the update expression is invalid for update")
		}
		if last.index >= len(c.Value) {
			c.Value = append(c.Value, v)
		} else {
			c.Value[last.index] = v
		}
	default:
		return fmt.Errorf("the document path provided in the update expression is invalid for update")
	}
	return nil
}

func removePath(item ddbjson.Item, path []pathElem) {
	parent, err := parentOf(item, path)
	if err != nil {
		return
	}
	last := path[len(path)-1]
	switch c := parent.(type) {
	case *types.AttributeValueMemberM:
		delete(c.Value, last.name)
	case *types.AttributeValueMemberL:
		if last.name == "" && last.index < len(c.Value) {
			c.Value = slices.Delete(c.Value, last.index, last.index+1)
		}
	}
}

func addAction(item ddbjson.Item, path []pathElem, v types.AttributeValue) error {
	cur := getPath(item, path)
	if cur == nil {
		return setPath(item, path, v)
	}
	switch c := cur.(type) {
	case *types.AttributeValueMemberN:
		sum, err := addNumbers(c, v, false)
		if err != nil {
			return err
		}
		return setPath(item, path, sum)
	case *types.AttributeValueMemberSS:
		add, ok := v.(*types.AttributeValueMemberSS)
		if !ok {
			return fmt.Errorf("incorrect operand type for operator or function; operator: ADD")
		}
		return setPath(item, path, &types.AttributeValueMemberSS{Value: union(c.Value, add.Value)})
	case *types.AttributeValueMemberNS:
		add, ok := v.(*types.AttributeValueMemberNS)
		if !ok {
			return fmt.Errorf("incorrect operand type for operator or function; operator: ADD")
		}
		return setPath(item, path, &types.AttributeValueMemberNS{Value: union(c.Value, add.Value)})
	}
	return fmt.Errorf("incorrect operand type for operator or function; operator: ADD")
}

func deleteAction(item ddbjson.Item, path []pathElem, v types.AttributeValue) error {
	cur := getPath(item, path)
	if cur == nil {
		return nil
	}
	var rest []string
	switch c := cur.(type) {
	case *types.AttributeValueMemberSS:
		del, ok := v.(*types.AttributeValueMemberSS)
		if !ok {
			return fmt.Errorf("incorrect operand type for operator or function; operator: DELETE")
		}
		rest = minus(c.Value, del.Value)
		if len(rest) > 0 {
			return setPath(item, path, &types.AttributeValueMemberSS{Value: rest})
		}
	case *types.AttributeValueMemberNS:
		del, ok := v.(*types.AttributeValueMemberNS)
		if !ok {
			return fmt.Errorf("incorrect operand type for operator or function; operator: DELETE")
		}
		rest = minus(c.Value, del.Value)
		if len(rest) > 0 {
			return setPath(item, path, &types.AttributeValueMemberNS{Value: rest})
		}
	default:
		return fmt.Errorf("incorrect operand type for operator or function; operator: DELETE")
	}
	removePath(item, path)
	return nil
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func minus(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}
