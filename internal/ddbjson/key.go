package ddbjson

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ScalarType is the type of a key attribute: DynamoDB allows only S, N and B.
type ScalarType string

// The key attribute types.
const (
	TypeS ScalarType = "S"
	TypeN ScalarType = "N"
	TypeB ScalarType = "B"
)

// KeyAttribute is one attribute of a table's primary key.
type KeyAttribute struct {
	Name string
	Type ScalarType
}

// KeySchema is a table's primary key: a hash key and an optional range key
// (Range.Name is empty when the table has none).
type KeySchema struct {
	Hash  KeyAttribute
	Range KeyAttribute
}

// ErrMissingKey is an item that lacks a key attribute or holds it with the
// wrong type.
var ErrMissingKey = errors.New("item has no valid key")

// Attributes returns the key attributes, hash first.
func (k KeySchema) Attributes() []KeyAttribute {
	if k.Range.Name == "" {
		return []KeyAttribute{k.Hash}
	}
	return []KeyAttribute{k.Hash, k.Range}
}

// String formats the schema as --key accepts it: "id:S" or "pk:S,sk:N".
func (k KeySchema) String() string {
	var parts []string
	for _, a := range k.Attributes() {
		parts = append(parts, a.Name+":"+string(a.Type))
	}
	return strings.Join(parts, ",")
}

// Typed reports whether every key attribute has a type.
func (k KeySchema) Typed() bool {
	for _, a := range k.Attributes() {
		if a.Type == "" {
			return false
		}
	}
	return true
}

// ParseKeySchema parses "HASH[,RANGE]", each NAME or NAME:TYPE with TYPE one
// of S, N, B. Types left out are returned empty, for the caller to fill in.
func ParseKeySchema(spec string) (KeySchema, error) {
	parts := strings.Split(spec, ",")
	if spec == "" || len(parts) > 2 {
		return KeySchema{}, fmt.Errorf("key %q: want HASH or HASH,RANGE (each NAME or NAME:S|N|B)", spec)
	}
	var attrs [2]KeyAttribute
	for i, p := range parts {
		name, typ, _ := strings.Cut(strings.TrimSpace(p), ":")
		if name == "" {
			return KeySchema{}, fmt.Errorf("key %q: empty attribute name", spec)
		}
		switch ScalarType(typ) {
		case "", TypeS, TypeN, TypeB:
		default:
			return KeySchema{}, fmt.Errorf("key %q: type %q of %s is not S, N or B", spec, typ, name)
		}
		attrs[i] = KeyAttribute{Name: name, Type: ScalarType(typ)}
	}
	if attrs[0].Name == attrs[1].Name {
		return KeySchema{}, fmt.Errorf("key %q: hash and range key are the same attribute", spec)
	}
	return KeySchema{Hash: attrs[0], Range: attrs[1]}, nil
}

// KeyOf returns the key attributes of item, checking that each is present
// with the schema's type. Missing types in the schema accept any scalar type.
func (k KeySchema) KeyOf(item Item) (Item, error) {
	key := make(Item, 2)
	for _, a := range k.Attributes() {
		v, ok := item[a.Name]
		if !ok {
			return nil, fmt.Errorf("%w: key attribute %q is missing", ErrMissingKey, a.Name)
		}
		t := TypeOf(v)
		if t != TypeS && t != TypeN && t != TypeB {
			return nil, fmt.Errorf("%w: key attribute %q has type %s (keys are S, N or B)", ErrMissingKey, a.Name, t)
		}
		if a.Type != "" && t != a.Type {
			return nil, fmt.Errorf("%w: key attribute %q has type %s, want %s", ErrMissingKey, a.Name, t, a.Type)
		}
		if isEmptyKey(v) {
			return nil, fmt.Errorf("%w: key attribute %q is empty", ErrMissingKey, a.Name)
		}
		key[a.Name] = v
	}
	return key, nil
}

func isEmptyKey(v types.AttributeValue) bool {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return v.Value == ""
	case *types.AttributeValueMemberB:
		return len(v.Value) == 0
	}
	return false
}

// TypeOf returns the type tag of v: "S", "N", "B", "BOOL", "NULL", "M", "L",
// "SS", "NS" or "BS".
func TypeOf(v types.AttributeValue) ScalarType {
	switch v.(type) {
	case *types.AttributeValueMemberS:
		return TypeS
	case *types.AttributeValueMemberN:
		return TypeN
	case *types.AttributeValueMemberB:
		return TypeB
	case *types.AttributeValueMemberBOOL:
		return "BOOL"
	case *types.AttributeValueMemberNULL:
		return "NULL"
	case *types.AttributeValueMemberM:
		return "M"
	case *types.AttributeValueMemberL:
		return "L"
	case *types.AttributeValueMemberSS:
		return "SS"
	case *types.AttributeValueMemberNS:
		return "NS"
	case *types.AttributeValueMemberBS:
		return "BS"
	}
	return "?"
}
