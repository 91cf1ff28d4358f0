package migrations

// The unexported pieces the external tests reach.
var (
	CreateSchema  = createSchema
	SchemaLockKey = schemaLockKey
)
