package reconcile

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// DefaultSchema is the PostgreSQL schema data tables live in unless told otherwise.
const DefaultSchema = "dynamodb"

// The non-key columns of every data table.
const (
	ColItem       = "item"            // jsonb: the lossless DynamoDB JSON image
	ColDoc        = "doc"             // jsonb: the plain JSON image for analysts
	ColOrigin     = "origin"          // 'export' or 'stream'
	ColOriginTime = "origin_time"     // the export time T, or the change's ApproximateCreationDateTime
	ColShardID    = "shard_id"        // stream rows: the shard the change came from
	ColSequence   = "sequence_number" // stream rows: the change's sequence number
	ColSyncedAt   = "synced_at"       // when ddbsync wrote the row
)

// Origins of a row's image.
const (
	OriginExport = "export"
	OriginStream = "stream"
)

var reservedColumns = []string{ColItem, ColDoc, ColOrigin, ColOriginTime, ColShardID, ColSequence, ColSyncedAt}

// maxIdentLen is PostgreSQL's NAMEDATALEN - 1.
const maxIdentLen = 63

// Layout is where and how one DynamoDB table is kept in PostgreSQL.
type Layout struct {
	Table      string // the DynamoDB table name
	Schema     string // the PostgreSQL schema
	Name       string // the PostgreSQL table name
	Key        ddbjson.KeySchema
	KeyColumns []string // one per key attribute, hash first
}

// NewLayout names the data table of a DynamoDB table: schema (default
// [DefaultSchema]) and the table name in snake_case; key columns are the key
// attribute names in snake_case. The key must be typed.
func NewLayout(table, schema string, key ddbjson.KeySchema) (Layout, error) {
	if table == "" {
		return Layout{}, fmt.Errorf("no table name")
	}
	if !key.Typed() {
		return Layout{}, fmt.Errorf("table %s: key %s has attributes without a type", table, key)
	}
	if schema == "" {
		schema = DefaultSchema
	}
	l := Layout{Table: table, Schema: schema, Name: SnakeCase(table), Key: key}
	if len(l.Name) > maxIdentLen {
		return Layout{}, fmt.Errorf("table %s: PostgreSQL name %q is longer than %d bytes", table, l.Name, maxIdentLen)
	}
	for _, a := range key.Attributes() {
		col := SnakeCase(a.Name)
		if slices.Contains(reservedColumns, col) || slices.Contains(l.KeyColumns, col) {
			return Layout{}, fmt.Errorf("table %s: key attribute %q would be column %q, which ddbsync already uses", table, a.Name, col)
		}
		if len(col) > maxIdentLen {
			return Layout{}, fmt.Errorf("table %s: key column %q is longer than %d bytes", table, col, maxIdentLen)
		}
		l.KeyColumns = append(l.KeyColumns, col)
	}
	return l, nil
}

// Ident is the data table's quoted name.
func (l Layout) Ident() pgx.Identifier { return pgx.Identifier{l.Schema, l.Name} }

// Columns lists the columns a writer fills, in [rowEncoder] order.
func (l Layout) Columns() []string {
	return append(slices.Clone(l.KeyColumns), ColItem, ColDoc, ColOrigin, ColOriginTime, ColShardID, ColSequence)
}

func pgType(t ddbjson.ScalarType) string {
	switch t {
	case ddbjson.TypeN:
		return "numeric"
	case ddbjson.TypeB:
		return "bytea"
	}
	return "text"
}

// createTableSQL creates a data table named ident with this layout, without
// its primary key (a bulk load adds it at the end, which is faster).
func (l Layout) createTableSQL(ident pgx.Identifier) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE %s (", ident.Sanitize())
	for i, a := range l.Key.Attributes() {
		fmt.Fprintf(&b, "%s %s NOT NULL, ", pgx.Identifier{l.KeyColumns[i]}.Sanitize(), pgType(a.Type))
	}
	b.WriteString(`item jsonb NOT NULL, doc jsonb NOT NULL, origin text NOT NULL CHECK (origin IN ('export', 'stream')), ` +
		`origin_time timestamptz, shard_id text, sequence_number numeric, synced_at timestamptz NOT NULL DEFAULT now())`)
	return b.String()
}

func (l Layout) primaryKeySQL(ident pgx.Identifier, constraint string) string {
	cols := make([]string, len(l.KeyColumns))
	for i, c := range l.KeyColumns {
		cols[i] = pgx.Identifier{c}.Sanitize()
	}
	return fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s PRIMARY KEY (%s)",
		ident.Sanitize(), pgx.Identifier{constraint}.Sanitize(), strings.Join(cols, ", "))
}

// Provenance says where a row's image came from.
type Provenance struct {
	Origin   string    // OriginExport or OriginStream
	Time     time.Time // export time, or ApproximateCreationDateTime
	ShardID  string    // stream only
	Sequence string    // stream only
}

// rowEncoder turns items into data table rows. Its buffers are reused from
// row to row: the values it returns are valid until the next call, which is
// what pgx's CopyFrom needs (it encodes each row before asking for the next).
type rowEncoder struct {
	layout Layout
	vals   []any
	item   []byte
	doc    []byte
}

func newRowEncoder(l Layout) *rowEncoder {
	return &rowEncoder{layout: l, vals: make([]any, len(l.Columns()))}
}

// encode returns the row for item, in [Layout.Columns] order.
func (e *rowEncoder) encode(item ddbjson.Item, p Provenance) ([]any, error) {
	key, err := e.layout.Key.KeyOf(item)
	if err != nil {
		return nil, err
	}
	n := len(e.layout.KeyColumns)
	if err := e.keyValues(key, e.vals[:n]); err != nil {
		return nil, err
	}
	if e.item, err = ddbjson.AppendItem(e.item[:0], item); err != nil {
		return nil, err
	}
	if e.doc, err = ddbjson.AppendPlain(e.doc[:0], item); err != nil {
		return nil, err
	}
	e.vals[n] = e.item
	e.vals[n+1] = e.doc
	e.vals[n+2] = p.Origin
	e.vals[n+3] = nullTime(p.Time)
	e.vals[n+4] = nullString(p.ShardID)
	e.vals[n+5] = nil
	if p.Sequence != "" {
		var seq pgtype.Numeric
		if err := seq.Scan(p.Sequence); err != nil {
			return nil, fmt.Errorf("sequence number %q: %w", p.Sequence, err)
		}
		e.vals[n+5] = seq
	}
	return e.vals, nil
}

// keyValues fills dst with the PostgreSQL values of key's attributes.
func (e *rowEncoder) keyValues(key ddbjson.Item, dst []any) error {
	for i, a := range e.layout.Key.Attributes() {
		v, err := keyValue(key[a.Name])
		if err != nil {
			return fmt.Errorf("key attribute %s: %w", a.Name, err)
		}
		dst[i] = v
	}
	return nil
}

// keyValue converts one key attribute to the Go value of its column.
func keyValue(v types.AttributeValue) (any, error) {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		if strings.IndexByte(v.Value, 0) >= 0 {
			return nil, fmt.Errorf("contains U+0000, which PostgreSQL text cannot hold")
		}
		return v.Value, nil
	case *types.AttributeValueMemberN:
		var n pgtype.Numeric
		norm, err := ddbjson.NormalizeNumber(v.Value)
		if err != nil {
			return nil, err
		}
		if err := n.Scan(norm); err != nil {
			return nil, err
		}
		return n, nil
	case *types.AttributeValueMemberB:
		return v.Value, nil
	}
	return nil, fmt.Errorf("type %s is not a key type", ddbjson.TypeOf(v))
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}
