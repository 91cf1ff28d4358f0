package store

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// This file is the one place a key schema is turned from or into the
// codec's: callers outside store use [KeySchema] and its methods.

// KeyAttribute is one attribute of a DynamoDB table's primary key.
type KeyAttribute struct {
	Name string
	// Type is the attribute's DynamoDB type: "S", "N" or "B" ("" when not
	// known, which [NewLayout] refuses).
	Type string
}

// KeySchema is a DynamoDB table's primary key: a hash key and an optional
// range key (Range.Name is empty when the table has none).
type KeySchema struct {
	Hash  KeyAttribute
	Range KeyAttribute
}

// ParseKeySchema parses "HASH[,RANGE]", each NAME or NAME:TYPE with TYPE one
// of S, N, B, as the --key flag takes it. Types left out are returned empty,
// for the caller to fill in.
func ParseKeySchema(spec string) (KeySchema, error) {
	k, err := ddbjson.ParseKeySchema(spec)
	if err != nil {
		return KeySchema{}, err
	}
	return keySchemaOf(k), nil
}

// String formats the schema as [ParseKeySchema] reads it: "id:S" or
// "pk:S,sk:N".
func (k KeySchema) String() string { return k.ddb().String() }

// Attributes returns the key attributes, hash first.
func (k KeySchema) Attributes() []KeyAttribute {
	if k.Range.Name == "" {
		return []KeyAttribute{k.Hash}
	}
	return []KeyAttribute{k.Hash, k.Range}
}

// Typed reports whether every key attribute has a type.
func (k KeySchema) Typed() bool { return k.ddb().Typed() }

// KeyOf returns the key attributes of item, checking that each is present
// with the schema's type (an untyped attribute accepts S, N or B); its
// errors match ddbjson's ErrMissingKey.
func (k KeySchema) KeyOf(item map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	return k.ddb().KeyOf(item)
}

// ddb is k in the codec's terms.
func (k KeySchema) ddb() ddbjson.KeySchema {
	return ddbjson.KeySchema{
		Hash:  ddbjson.KeyAttribute{Name: k.Hash.Name, Type: ddbjson.ScalarType(k.Hash.Type)},
		Range: ddbjson.KeyAttribute{Name: k.Range.Name, Type: ddbjson.ScalarType(k.Range.Type)},
	}
}

// keySchemaOf is the public form of a codec key schema.
func keySchemaOf(k ddbjson.KeySchema) KeySchema {
	return KeySchema{
		Hash:  KeyAttribute{Name: k.Hash.Name, Type: string(k.Hash.Type)},
		Range: KeyAttribute{Name: k.Range.Name, Type: string(k.Range.Type)},
	}
}
