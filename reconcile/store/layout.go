package store

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// DefaultSchema is the PostgreSQL schema data tables live in unless told otherwise.
const DefaultSchema = "dynamodb"

// The non-key columns of every data table.
const (
	ColItem       = "item"            // jsonb: the lossless DynamoDB JSON image
	ColDoc        = "doc"             // jsonb: the plain JSON image, in tables that have it ([Layout.Doc])
	ColOrigin     = "origin"          // an [Origin]
	ColOriginTime = "origin_time"     // the export time T, the change's ApproximateCreationDateTime, or an incremental change's write time
	ColShardID    = "shard_id"        // stream rows: the shard the change came from
	ColSequence   = "sequence_number" // stream rows: the change's sequence number
	ColSyncedAt   = "synced_at"       // when ddbsync wrote the row
	// ColItemDigest is the item's [Digest], stored, so a diff compares it
	// with the source's without reading an image. ddbsync's writers compute
	// it ([Encoder]); the table's digest triggers ([digestTriggersSQL])
	// compute it for anyone else's rows.
	ColItemDigest = "item_digest"
)

// Origin is where a row's image came from: the origin column.
type Origin string

// The origins of a row's image.
const (
	OriginExport Origin = "export" // a loaded export, at its export time
	OriginStream Origin = "stream" // a stream change
	// OriginScan is a row that `diff --repair` took from a live Scan.
	OriginScan Origin = "scan"
	// OriginVerify is a row that `follow --verify --on-mismatch repair`
	// took from a strongly consistent read of the item.
	OriginVerify Origin = "verify"
	// OriginIncremental is a row an incremental export applied, at the
	// change's write time (WriteTimestampMicros).
	OriginIncremental Origin = "incremental"
)

// createdOrigins are the origins a data table's CHECK accepts when it is
// created; [AllowOrigin] widens it to another one the first time a row of
// that origin is written.
var createdOrigins = []Origin{OriginExport, OriginStream, OriginIncremental}

// originCheck is the data table's origin CHECK accepting origins: the one
// place its definition is written.
func originCheck(origins []Origin) string {
	lits := make([]string, len(origins))
	for i, o := range origins {
		lits[i] = "'" + string(o) + "'" // our own constants: no quote inside
	}
	return "CHECK (origin IN (" + strings.Join(lits, ", ") + "))"
}

var reservedColumns = []string{ColItem, ColDoc, ColOrigin, ColOriginTime, ColShardID, ColSequence, ColSyncedAt, ColItemDigest}

// MaxIdentLen is PostgreSQL's NAMEDATALEN - 1.
const MaxIdentLen = 63

// Layout is where and how one DynamoDB table is kept in PostgreSQL.
type Layout struct {
	Table      string // the DynamoDB table name
	Schema     string // the PostgreSQL schema
	Name       string // the PostgreSQL table name
	Key        KeySchema
	KeyColumns []string // one per key attribute, hash first
	// Doc is whether the data table has the doc column: the item again as
	// plain JSON. It is opt-in (load --doc): every row written twice costs
	// about twice the load time and storage, and item answers the same
	// queries. A table's copy has it or not; [HasDoc] tells which.
	Doc bool
}

// NewLayout names the data table of a DynamoDB table: schema (default
// [DefaultSchema]) and the table name in snake_case; key columns are the key
// attribute names in snake_case. The key must be typed.
func NewLayout(table, schema string, key KeySchema) (Layout, error) {
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
	if len(l.Name) > MaxIdentLen {
		return Layout{}, fmt.Errorf("table %s: PostgreSQL name %q is longer than %d bytes", table, l.Name, MaxIdentLen)
	}
	for _, a := range key.Attributes() {
		col := SnakeCase(a.Name)
		if slices.Contains(reservedColumns, col) || slices.Contains(l.KeyColumns, col) {
			return Layout{}, fmt.Errorf("table %s: key attribute %q would be column %q, which ddbsync already uses", table, a.Name, col)
		}
		if len(col) > MaxIdentLen {
			return Layout{}, fmt.Errorf("table %s: key column %q is longer than %d bytes", table, col, MaxIdentLen)
		}
		l.KeyColumns = append(l.KeyColumns, col)
	}
	return l, nil
}

// Ident is the data table's quoted name.
func (l Layout) Ident() pgx.Identifier { return pgx.Identifier{l.Schema, l.Name} }

// Columns lists the columns a writer fills, in the order of an [Encoder]
// of [RowColumns]: doc only when the table has it.
func (l Layout) Columns() []string {
	cols := append(slices.Clone(l.KeyColumns), ColItem)
	if l.Doc {
		cols = append(cols, ColDoc)
	}
	return append(cols, ColOrigin, ColOriginTime, ColShardID, ColSequence, ColItemDigest)
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

// QuotedKeyColumns are the key columns, quoted.
func (l Layout) QuotedKeyColumns() []string { return quoteAll(l.KeyColumns) }

func quoteAll(cols []string) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = pgx.Identifier{c}.Sanitize()
	}
	return out
}

// createTableSQL creates a data table named ident with this layout, without
// its primary key (a bulk load adds it at the end, which is faster).
func (l Layout) createTableSQL(ident pgx.Identifier) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE %s (%s", ident.Sanitize(), l.keyColumnDefs())
	b.WriteString(`item jsonb NOT NULL, `)
	if l.Doc {
		b.WriteString(`doc jsonb NOT NULL, `)
	}
	b.WriteString(`origin text NOT NULL ` + originCheck(createdOrigins) + `, ` +
		`origin_time timestamptz, shard_id text, sequence_number numeric, synced_at timestamptz NOT NULL DEFAULT now(), ` +
		ColItemDigest + ` uuid)`)
	return b.String()
}

// keyColumnDefs defines the key columns, each followed by ", ".
func (l Layout) keyColumnDefs() string {
	var b strings.Builder
	for i, a := range l.Key.Attributes() {
		fmt.Fprintf(&b, "%s %s NOT NULL, ", pgx.Identifier{l.KeyColumns[i]}.Sanitize(), pgType(ddbjson.ScalarType(a.Type)))
	}
	return b.String()
}

// PrimaryKeySQL adds the primary key constraint to table ident of this layout.
func (l Layout) PrimaryKeySQL(ident pgx.Identifier, constraint string) string {
	cols := l.QuotedKeyColumns()
	return fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s PRIMARY KEY (%s)",
		ident.Sanitize(), pgx.Identifier{constraint}.Sanitize(), strings.Join(cols, ", "))
}

// UpsertSQL writes the rows of table from, which has the data table's
// [Layout.Columns], into the data table: a new key is inserted, an existing
// row replaced whole (never merged: removed attributes must disappear).
// Stream apply and diff repair both write through it.
func (l Layout) UpsertSQL(from pgx.Identifier) string {
	quoted := quoteAll(l.Columns())
	var set []string
	for _, c := range quoted[len(l.KeyColumns):] {
		set = append(set, c+" = EXCLUDED."+c)
	}
	set = append(set, pgx.Identifier{ColSyncedAt}.Sanitize()+" = now()")
	return fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s ON CONFLICT (%s) DO UPDATE SET %s",
		l.Ident().Sanitize(), strings.Join(quoted, ", "), strings.Join(quoted, ", "), from.Sanitize(),
		strings.Join(l.QuotedKeyColumns(), ", "), strings.Join(set, ", "))
}

// StageTable is the temporary table stream apply stages a page's new
// images in, before [Layout.UpsertSQL] writes them. It lives as long as
// its connection, and is named from a hash of the data table, its key and
// its columns, so two followed tables (or a table whose key or columns
// changed) never share one on a pooled connection, however long their names.
func (l Layout) StageTable() pgx.Identifier {
	h := fnv.New64a()
	h.Write([]byte(l.Schema + "\x00" + l.Name + "\x00" + l.Key.String()))
	if l.Doc {
		h.Write([]byte("\x00doc"))
	}
	return pgx.Identifier{"pg_temp", fmt.Sprintf("ddbsync_stage_%016x", h.Sum64())}
}

// CreateStageSQL creates [Layout.StageTable] unless the connection has it:
// ON COMMIT DELETE ROWS empties it at the end of every transaction.
func (l Layout) CreateStageSQL() string {
	return fmt.Sprintf("CREATE TEMP TABLE IF NOT EXISTS %s (%s) ON COMMIT DELETE ROWS",
		l.StageTable().Sanitize(), l.stageColumns())
}

// stageColumns defines a staging table's columns as the data table's, for
// rows on their way into it: the same defaults, storage and compression,
// but no constraints, indexes or generated expressions (the data table
// checks and computes those as the rows arrive). The compression matters:
// an item over the 2 kB TOAST threshold is compressed in the stage, and the
// data table keeps it as it comes; with the server's default, pglz, a
// tenure item costs twice the server time to stage that lz4 does, and the
// copy would hold pglz items where a load writes lz4 ones. Each option is
// named, rather than INCLUDING COMPRESSION, so that the statement also
// runs on a server older than PostgreSQL 14, which has no such option.
func (l Layout) stageColumns() string {
	return "LIKE " + l.Ident().Sanitize() + " INCLUDING ALL EXCLUDING COMMENTS EXCLUDING CONSTRAINTS" +
		" EXCLUDING GENERATED EXCLUDING IDENTITY EXCLUDING INDEXES EXCLUDING STATISTICS"
}

// DeleteSQL deletes the row whose key columns are $1, $2.
func (l Layout) DeleteSQL() string {
	var where []string
	for i, c := range l.QuotedKeyColumns() {
		where = append(where, fmt.Sprintf("%s = $%d", c, i+1))
	}
	return fmt.Sprintf("DELETE FROM %s WHERE %s", l.Ident().Sanitize(), strings.Join(where, " AND "))
}

// Provenance says where a row's image came from.
type Provenance struct {
	Origin   Origin
	Time     time.Time // export time, or ApproximateCreationDateTime
	ShardID  string    // stream only
	Sequence string    // stream only
	// File and Line are where an export's item is: the data file's index
	// in the manifest, and the line in it (a diff's [DigestColumns]).
	File, Line int
}
