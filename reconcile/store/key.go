package store

import "github.com/ddbsync/ddbsync/internal/ddbjson"

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
