package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Loads is ddbsync.loads: one row per load of an export. A load copies into
// its own table in the bookkeeping schema ([LoadTable]) until it is
// published.
var Loads loadsAccessor

type loadsAccessor struct{}

// LoadTable is the table load id copies into.
func LoadTable(id int64) pgx.Identifier {
	return pgx.Identifier{BookkeepingSchema, LoadTableName(id)}
}

// LoadTableName is the unqualified name of [LoadTable].
func LoadTableName(id int64) string { return fmt.Sprintf("load_%d", id) }

// Load is one row of ddbsync.loads.
type Load struct {
	ID         int64
	Table      string
	ExportArn  string
	ExportTime *time.Time
	Source     string
	Schema     string
	Name       string
	KeySchema  string
	FilesTotal int
	ItemsTotal int64
}

// Unfinished returns table's load in state [LoadLoading], nil if none.
func (loadsAccessor) Unfinished(ctx context.Context, q Querier, table string) (*Load, error) {
	l := Load{Table: table}
	err := q.QueryRow(ctx, `SELECT load_id, export_arn, key_schema, pg_schema, pg_table FROM ddbsync.loads
		WHERE table_name = $1 AND state = $2`, table, LoadLoading).Scan(&l.ID, &l.ExportArn, &l.KeySchema, &l.Schema, &l.Name)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &l, nil
}

// Begin records a new load l and creates its load table with layout
// layout. It returns the load id.
func (loadsAccessor) Begin(ctx context.Context, q Querier, l Load, layout Layout) (int64, error) {
	var id int64
	err := q.QueryRow(ctx, `INSERT INTO ddbsync.loads
		(table_name, export_arn, export_time, source, pg_schema, pg_table, key_schema, files_total, items_total)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING load_id`,
		l.Table, l.ExportArn, l.ExportTime, l.Source, l.Schema, l.Name, l.KeySchema, l.FilesTotal, l.ItemsTotal).Scan(&id)
	if err != nil {
		return 0, err
	}
	return id, CreateLoadTable(ctx, q, layout, LoadTable(id))
}

// Abandon drops load id's table and file records and marks it abandoned.
// Run it in a transaction.
func (loadsAccessor) Abandon(ctx context.Context, q Querier, id int64) error {
	if _, err := q.Exec(ctx, "DROP TABLE IF EXISTS "+LoadTable(id).Sanitize()); err != nil {
		return err
	}
	if _, err := q.Exec(ctx, `DELETE FROM ddbsync.load_files WHERE load_id = $1`, id); err != nil {
		return err
	}
	_, err := q.Exec(ctx, `UPDATE ddbsync.loads SET state = $2, finished_at = now() WHERE load_id = $1`, id, LoadAbandoned)
	return err
}

// MarkPublished marks load id published.
func (loadsAccessor) MarkPublished(ctx context.Context, q Querier, id int64) error {
	_, err := q.Exec(ctx, `UPDATE ddbsync.loads SET state = $2, finished_at = now() WHERE load_id = $1`, id, LoadPublished)
	return err
}

// Progress is an unfinished load's progress, for status.
type Progress struct {
	LoadID     int64
	ExportArn  string
	FilesDone  int64
	FilesTotal int64
	StartedAt  time.Time
}

// Progress returns table's unfinished load's progress, nil if none.
func (loadsAccessor) Progress(ctx context.Context, q Querier, table string) (*Progress, error) {
	var p Progress
	err := q.QueryRow(ctx, `SELECT l.load_id, l.export_arn, l.files_total, l.started_at,
			(SELECT count(*) FROM ddbsync.load_files f WHERE f.load_id = l.load_id)
		FROM ddbsync.loads l WHERE l.table_name = $1 AND l.state = $2`, table, LoadLoading).
		Scan(&p.LoadID, &p.ExportArn, &p.FilesTotal, &p.StartedAt, &p.FilesDone)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// LoadFiles is ddbsync.load_files: the data files a load has copied, each
// recorded in the same transaction as its rows.
var LoadFiles loadFilesAccessor

type loadFilesAccessor struct{}

// LoadFile is one data file a load copied.
type LoadFile struct {
	Name  string
	Items int64
	MD5   string
}

// List returns the files load id has copied.
func (loadFilesAccessor) List(ctx context.Context, q Querier, id int64) ([]LoadFile, error) {
	rows, err := q.Query(ctx, `SELECT file_name, item_count, md5 FROM ddbsync.load_files WHERE load_id = $1`, id)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (LoadFile, error) {
		var f LoadFile
		return f, r.Scan(&f.Name, &f.Items, &f.MD5)
	})
}

// Claim records file f of load id as being copied, in the transaction
// that copies it. It reports false when the file is already recorded: an
// earlier run loaded it.
func (loadFilesAccessor) Claim(ctx context.Context, q Querier, id int64, f LoadFile) (bool, error) {
	tag, err := q.Exec(ctx, `INSERT INTO ddbsync.load_files (load_id, file_name, item_count, md5, bytes) VALUES ($1, $2, $3, $4, 0)
		ON CONFLICT DO NOTHING`, id, f.Name, f.Items, f.MD5)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() > 0, nil
}

// Copied records what the copy of file name of load id read.
func (loadFilesAccessor) Copied(ctx context.Context, q Querier, id int64, name string, items, bytes int64) error {
	_, err := q.Exec(ctx, `UPDATE ddbsync.load_files SET item_count = $3, bytes = $4 WHERE load_id = $1 AND file_name = $2`,
		id, name, items, bytes)
	return err
}

// Totals returns the files load id copied and their items.
func (loadFilesAccessor) Totals(ctx context.Context, q Querier, id int64) (files, items int64, err error) {
	err = q.QueryRow(ctx, `SELECT count(*), coalesce(sum(item_count), 0) FROM ddbsync.load_files WHERE load_id = $1`,
		id).Scan(&files, &items)
	return files, items, err
}
