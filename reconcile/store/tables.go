package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// Tables is ddbsync.tables: one row per DynamoDB table served, with where
// its copy lives, its key and the export it was last loaded from.
var Tables tablesAccessor

type tablesAccessor struct{}

// KeySchema returns the key of table's last load, "" when it has none.
func (tablesAccessor) KeySchema(ctx context.Context, q Querier, table string) (string, error) {
	var spec string
	err := q.QueryRow(ctx, `SELECT key_schema FROM ddbsync.tables WHERE table_name = $1`, table).Scan(&spec)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return spec, err
}

// Occupant tells whether relation schema.name exists, and whether
// ddbsync.tables records it as some table's copy.
func (tablesAccessor) Occupant(ctx context.Context, q Querier, schema, name string) (exists, ours bool, err error) {
	err = q.QueryRow(ctx, `SELECT
		EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = $2),
		EXISTS (SELECT 1 FROM ddbsync.tables WHERE pg_schema = $1 AND pg_table = $2)`, schema, name).Scan(&exists, &ours)
	return exists, ours, err
}

// OtherHolder returns the DynamoDB table other than table whose copy is
// schema.name, "" when there is none.
func (tablesAccessor) OtherHolder(ctx context.Context, q Querier, schema, name, table string) (string, error) {
	var other string
	err := q.QueryRow(ctx, `SELECT table_name FROM ddbsync.tables WHERE pg_schema = $1 AND pg_table = $2 AND table_name <> $3`,
		schema, name, table).Scan(&other)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return other, err
}

// Published is a table's published copy, as ddbsync.tables records it.
type Published struct {
	Schema, Name string
	ExportArn    string
	KeySchema    string
	ExportTime   time.Time // zero when unknown
	LoadedAt     time.Time
	Items        int64
	Exists       bool // the relation is still there
	// ExportType is what ExportTime is: a full export's instant
	// (FULL_EXPORT), or the end of the last incremental export applied
	// onto the copy (INCREMENTAL_EXPORT).
	ExportType string
}

// Get returns table's published copy, nil when it has none.
func (tablesAccessor) Get(ctx context.Context, q Querier, table string) (*Published, error) {
	var c Published
	var arn *string
	var exportTime, loadedAt *time.Time
	var items *int64
	err := q.QueryRow(ctx, `SELECT pg_schema, pg_table, export_arn, key_schema, export_time, export_type, loaded_at, item_count,
			EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = pg_schema AND tablename = pg_table)
		FROM ddbsync.tables WHERE table_name = $1`, table).
		Scan(&c.Schema, &c.Name, &arn, &c.KeySchema, &exportTime, &c.ExportType, &loadedAt, &items, &c.Exists)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if arn != nil {
		c.ExportArn = *arn
	}
	if exportTime != nil {
		c.ExportTime = *exportTime
	}
	if loadedAt != nil {
		c.LoadedAt = *loadedAt
	}
	if items != nil {
		c.Items = *items
	}
	return &c, nil
}

// Relation finds the relation holding table's published copy: its oid
// (0 when there is none), schema, name and comment.
func (tablesAccessor) Relation(ctx context.Context, q Querier, table string) (oid uint32, schema, name string, comment *string, err error) {
	err = q.QueryRow(ctx, `SELECT c.oid, n.nspname, c.relname, obj_description(c.oid, 'pg_class')
		FROM ddbsync.tables t JOIN pg_namespace n ON n.nspname = t.pg_schema
		JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.pg_table AND c.relkind IN ('r', 'p')
		WHERE t.table_name = $1`, table).Scan(&oid, &schema, &name, &comment)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, "", "", nil, nil
	}
	return oid, schema, name, comment, err
}

// Publication is a load being published as a table's copy.
type Publication struct {
	Layout     Layout
	LoadID     int64
	ExportArn  string
	ExportTime *time.Time
	Items      int64
}

// RecordPublished records p as its table's copy.
func (tablesAccessor) RecordPublished(ctx context.Context, q Querier, p Publication) error {
	l := p.Layout
	_, err := q.Exec(ctx, `INSERT INTO ddbsync.tables (table_name, pg_schema, pg_table, key_schema, load_id, export_arn, export_time, item_count, loaded_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
		ON CONFLICT (table_name) DO UPDATE SET pg_schema = $2, pg_table = $3, key_schema = $4, load_id = $5,
			export_arn = $6, export_time = $7, export_type = DEFAULT, item_count = $8, loaded_at = now()`,
		l.Table, l.Schema, l.Name, l.Key.String(), p.LoadID, p.ExportArn, p.ExportTime, p.Items)
	return err
}
