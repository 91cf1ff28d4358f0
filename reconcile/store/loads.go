package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
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

// MarkPublished marks load id published by worker by.
func (loadsAccessor) MarkPublished(ctx context.Context, q Querier, id int64, by string) error {
	_, err := q.Exec(ctx, `UPDATE ddbsync.loads SET state = $2, finished_at = now(), published_by = nullif($3, '') WHERE load_id = $1`,
		id, LoadPublished, by)
	return err
}

// LockState locks load id's row for the rest of transaction tx and returns
// its state and the worker that published it, if one did. Publishing
// workers take it so that exactly one of them publishes.
func (loadsAccessor) LockState(ctx context.Context, tx pgx.Tx, id int64) (LoadState, string, error) {
	var state LoadState
	var by string
	err := tx.QueryRow(ctx, `SELECT state, coalesce(published_by, '') FROM ddbsync.loads WHERE load_id = $1 FOR UPDATE`,
		id).Scan(&state, &by)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "", fmt.Errorf("load %d is not recorded", id)
	}
	return state, by, err
}

// State returns load id's state and the worker that published it.
func (loadsAccessor) State(ctx context.Context, q Querier, id int64) (LoadState, string, error) {
	var state LoadState
	var by string
	err := q.QueryRow(ctx, `SELECT state, coalesce(published_by, '') FROM ddbsync.loads WHERE load_id = $1`, id).Scan(&state, &by)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "", fmt.Errorf("load %d is not recorded", id)
	}
	return state, by, err
}

// PublishedBy returns the worker that published table's copy, "" when
// it is unknown (published before workers were recorded, or by no load).
func (loadsAccessor) PublishedBy(ctx context.Context, q Querier, table string) (string, error) {
	var by string
	err := q.QueryRow(ctx, `SELECT coalesce(l.published_by, '') FROM ddbsync.tables t JOIN ddbsync.loads l USING (load_id)
		WHERE t.table_name = $1`, table).Scan(&by)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return by, err
}

// Progress is an unfinished load's progress, for status.
type Progress struct {
	LoadID     int64
	ExportArn  string
	FilesDone  int64
	FilesTotal int64
	StartedAt  time.Time
	Workers    []WorkerProgress
}

// WorkerProgress is one load process's share of a load: the files it
// copied, and those it is copying now.
type WorkerProgress struct {
	Worker    string `json:"worker"`
	FilesDone int64  `json:"files_done"`
	ItemsDone int64  `json:"items_done"`
	Copying   int64  `json:"copying"`
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
	p.Workers, err = loadWorkers(ctx, q, p.LoadID)
	return &p, err
}

// workerAppPrefix starts the application_name of a session copying a data
// file, followed by the worker's name; status finds the files being
// copied, and by whom, from the sessions holding their file locks.
const workerAppPrefix = "ddbsync load "

// loadWorkers returns each worker's share of load id: the files recorded
// as copied by it, and the file locks its sessions hold now. A worker
// that died holds no lock: the database released it with the session.
func loadWorkers(ctx context.Context, q Querier, id int64) ([]WorkerProgress, error) {
	rows, err := q.Query(ctx, `WITH done AS (
			SELECT coalesce(worker, '') AS worker, count(*) AS files, sum(item_count) AS items
			FROM ddbsync.load_files WHERE load_id = $1 GROUP BY 1
		), copying AS (
			SELECT substr(a.application_name, length($3) + 1) AS worker, count(*) AS files
			FROM pg_locks k JOIN pg_stat_activity a ON a.pid = k.pid
			WHERE k.locktype = 'advisory' AND k.objsubid = 2 AND k.granted AND k.classid::bigint = $2
				AND k.database = (SELECT oid FROM pg_database WHERE datname = current_database())
				AND starts_with(a.application_name, $3)
			GROUP BY 1
		)
		SELECT worker, coalesce(d.files, 0), coalesce(d.items, 0), coalesce(c.files, 0)
		FROM done d FULL JOIN copying c USING (worker) ORDER BY worker`, id, fileLockLoadKey(id), workerAppPrefix)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (WorkerProgress, error) {
		var w WorkerProgress
		return w, r.Scan(&w.Worker, &w.FilesDone, &w.ItemsDone, &w.Copying)
	})
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
	// Worker is the load process that copied it (host:pid).
	Worker string
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
	tag, err := q.Exec(ctx, `INSERT INTO ddbsync.load_files (load_id, file_name, item_count, md5, bytes, worker)
		VALUES ($1, $2, $3, $4, 0, nullif($5, ''))
		ON CONFLICT DO NOTHING`, id, f.Name, f.Items, f.MD5, f.Worker)
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

// LockFile takes, for the rest of transaction tx, the lock of file name of
// load id, which says that the transaction is copying it, under worker's
// name. Without wait it reports false at once when another session holds
// it; with wait it waits for that session to commit or to die (the
// database releases a dead session's locks). The lock only spares a
// worker the wait for a file another one is copying: the claim row
// ([loadFilesAccessor.Claim]) is what keeps a file from being copied twice.
func (loadFilesAccessor) LockFile(ctx context.Context, tx pgx.Tx, id int64, name, worker string, wait bool) (bool, error) {
	if _, err := tx.Exec(ctx, "SELECT set_config('application_name', $1, true)", workerAppPrefix+worker); err != nil {
		return false, err
	}
	k1, k2 := int32(uint32(fileLockLoadKey(id))), fileLockNameKey(name)
	if wait {
		_, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1::int4, $2::int4)", k1, k2)
		return err == nil, err
	}
	var ok bool
	err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock($1::int4, $2::int4)", k1, k2).Scan(&ok)
	return ok, err
}

// fileLockLoadKey is a file lock's first key, the load id's low 32 bits,
// as pg_locks shows it (classid).
func fileLockLoadKey(id int64) int64 { return id & 0xffffffff }

// fileLockNameKey is a file lock's second key. Two names of a load with
// the same hash only make one worker wait for the other's file.
func fileLockNameKey(name string) int32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return int32(h.Sum32())
}
