package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Applying an incremental export (ExportType INCREMENTAL_EXPORT) onto a
// published copy. Its changes are staged first, each data file in one
// transaction with its ddbsync.load_files row, into the load's own table
// ([LoadTable], unlogged: it is scratch); [ApplyIncremental] then writes
// them into the data table in one transaction, in which the caller also
// records the copy's new instant.

// The stage's columns besides the data table's. SnakeCase never makes a
// name that starts with an underscore, so no key column can take them.
const (
	colDeleted = "_deleted" // the change deletes its key; item then holds the key alone
	colOrd     = "_ord"     // the change's place in the export: file index << 32 | line
)

// StageColumns are the columns of an incremental export's stage, in the
// order of a [ChangeEncoder]'s values: the data table's [Layout.Columns],
// then whether the change is a deletion and its place in the export.
func (l Layout) StageColumns() []string { return append(l.Columns(), colDeleted, colOrd) }

// CreateIncrementalStage creates stage table ident for layout l: a load
// table ([CreateLoadTable]: the data table's columns, without a key),
// unlogged, plus [Layout.StageColumns]'s own two. A crash of the server empties an unlogged table: callers count
// its rows against their bookkeeping before applying it ([StagedRows]).
func CreateIncrementalStage(ctx context.Context, q Querier, l Layout, ident pgx.Identifier) error {
	if err := CreateLoadTable(ctx, q, l, ident); err != nil {
		return err
	}
	if _, err := q.Exec(ctx, "ALTER TABLE "+ident.Sanitize()+" SET UNLOGGED, ADD COLUMN "+
		pgx.Identifier{colDeleted}.Sanitize()+" boolean NOT NULL, ADD COLUMN "+pgx.Identifier{colOrd}.Sanitize()+" bigint NOT NULL"); err != nil {
		return fmt.Errorf("creating the stage table: %w", err)
	}
	return nil
}

// StagedRows counts the rows of stage table ident.
func StagedRows(ctx context.Context, q Querier, ident pgx.Identifier) (int64, error) {
	var n int64
	err := q.QueryRow(ctx, "SELECT count(*) FROM "+ident.Sanitize()).Scan(&n)
	return n, err
}

// RestartStage empties stage table ident and forgets the files load id
// recorded as staged, so that every file is staged again.
func RestartStage(ctx context.Context, q Querier, id int64, ident pgx.Identifier) error {
	if _, err := q.Exec(ctx, "TRUNCATE "+ident.Sanitize()); err != nil {
		return err
	}
	_, err := q.Exec(ctx, `DELETE FROM ddbsync.load_files WHERE load_id = $1`, id)
	return err
}

// ChangeEncoder turns the changes of an incremental export into stage rows
// ([Layout.StageColumns]). Like an [Encoder] it reuses its buffers: the
// values it returns are valid until the next call.
type ChangeEncoder struct {
	layout Layout
	enc    *Encoder
	vals   []any
}

// NewChangeEncoder returns an encoder of stage rows of layout l.
func NewChangeEncoder(l Layout) *ChangeEncoder {
	return &ChangeEncoder{layout: l, enc: NewEncoder(l, RowColumns), vals: make([]any, 0, len(l.StageColumns()))}
}

// Columns are the encoder's columns, in the order of its values.
func (e *ChangeEncoder) Columns() []string { return e.layout.StageColumns() }

// Encode returns the stage row of one change: keys are the item's primary
// key (they must be exactly the layout's key attributes), newImage the item
// after the change (nil when the change deleted it: the row's item is then
// the key alone), writeTime its WriteTimestampMicros (the row's
// origin_time) and ord its place in the export, which breaks ties between
// two changes of one key with the same write time.
func (e *ChangeEncoder) Encode(keys, newImage map[string]types.AttributeValue, writeTime time.Time, ord int64) ([]any, error) {
	key, err := e.layout.Key.KeyOf(keys)
	if err != nil {
		return nil, fmt.Errorf("the line's Keys: %w", err)
	}
	if len(keys) != len(key) {
		names := make([]string, 0, len(keys))
		for n := range keys {
			names = append(names, n)
		}
		return nil, fmt.Errorf("the line's Keys has attributes %s, but the copy's key is %s: is the export of another table?",
			strings.Join(names, ", "), e.layout.Key)
	}
	item := newImage
	if item == nil {
		item = key
	}
	vals, err := e.enc.Encode(item, Provenance{Origin: OriginIncremental, Time: writeTime})
	if err != nil {
		return nil, err
	}
	e.vals = append(append(e.vals[:0], vals...), newImage == nil, ord)
	return e.vals, nil
}

// Applied is what [ApplyIncremental] wrote.
type Applied struct {
	Upserted   int64 // rows written from a new image (inserted or replaced)
	Inserted   int64 // of those, keys the copy did not hold
	Deleted    int64 // rows deleted
	Tombstones int64 // deletions recorded in ddbsync.tombstones
	Duplicates int64 // staged changes dropped for a later change of the same key
	// Swept counts the rows deleted because their item was created and
	// deleted inside the window (see [ApplyIncremental]).
	Swept int64
}

// Sweep is the window [From, To) of an incremental export applied onto a
// copy that may hold writes from inside it: see [ApplyIncremental].
type Sweep struct{ From, To time.Time }

// ApplyIncremental writes the changes staged in stage into l's data table,
// in tx: for each key the last change wins (the latest write time, then
// the latest place in the export), a new image replaces the row whole and
// a deletion removes it, and is recorded in ddbsync.tombstones under table
// with its write time. Row triggers on the data table fire.
//
// With sweep set, the rows whose provenance dates their write inside the
// window (origin stream or incremental, origin_time in [From, To)) and
// whose key the export does not hold are deleted too, recorded as removed
// at To: AWS leaves out of an incremental export the items created and
// deleted inside its window, and such a row is one of them.
func ApplyIncremental(ctx context.Context, tx pgx.Tx, l Layout, stage pgx.Identifier, table string, sweep *Sweep) (Applied, error) {
	var a Applied
	keys := strings.Join(l.QuotedKeyColumns(), ", ")
	deleted, ord := pgx.Identifier{colDeleted}.Sanitize(), pgx.Identifier{colOrd}.Sanitize()
	originTime := pgx.Identifier{ColOriginTime}.Sanitize()

	// An export holds one change per key; a second one is dropped, the
	// earlier of the two.
	tag, err := tx.Exec(ctx, fmt.Sprintf(`DELETE FROM %[1]s s USING (
			SELECT ctid AS row FROM (
				SELECT ctid, row_number() OVER (PARTITION BY %[2]s ORDER BY %[3]s DESC, %[4]s DESC) AS n FROM %[1]s) ranked
			WHERE n > 1) d
		WHERE s.ctid = d.row`, stage.Sanitize(), keys, originTime, ord))
	if err != nil {
		return a, fmt.Errorf("keeping the last change of each key: %w", err)
	}
	a.Duplicates = tag.RowsAffected()

	var on []string
	for _, c := range l.QuotedKeyColumns() {
		on = append(on, "t."+c+" = s."+c)
	}
	if sweep != nil {
		// The key as a tombstone holds it: its attributes from the item.
		args := []any{table, sweep.From, sweep.To, string(OriginStream), string(OriginIncremental)}
		var pairs []string
		for _, k := range l.Key.Attributes() {
			args = append(args, k.Name)
			pairs = append(pairs, fmt.Sprintf("$%d::text, t.%s -> $%d::text", len(args), pgx.Identifier{ColItem}.Sanitize(), len(args)))
		}
		tag, err := tx.Exec(ctx, fmt.Sprintf(`WITH swept AS (
				DELETE FROM %s t WHERE t.%s IN ($4, $5) AND t.%s >= $2 AND t.%s < $3
				AND NOT EXISTS (SELECT 1 FROM %s s WHERE %s)
				RETURNING jsonb_build_object(%s) AS key)
			INSERT INTO ddbsync.tombstones (table_name, key, removed_at, shard_id, sequence_number, ttl)
			SELECT $1, key, $3, NULL, NULL, false FROM swept
			ON CONFLICT (table_name, key) DO UPDATE SET removed_at = EXCLUDED.removed_at, shard_id = NULL,
				sequence_number = NULL, ttl = false`,
			l.Ident().Sanitize(), pgx.Identifier{ColOrigin}.Sanitize(), originTime, originTime, stage.Sanitize(),
			strings.Join(on, " AND "), strings.Join(pairs, ", ")), args...)
		if err != nil {
			return a, fmt.Errorf("deleting the items created and deleted inside the window: %w", err)
		}
		a.Swept = tag.RowsAffected()
	}
	tag, err = tx.Exec(ctx, fmt.Sprintf("DELETE FROM %s t USING %s s WHERE s.%s AND %s",
		l.Ident().Sanitize(), stage.Sanitize(), deleted, strings.Join(on, " AND ")))
	if err != nil {
		return a, fmt.Errorf("deleting: %w", err)
	}
	a.Deleted = tag.RowsAffected()

	cols := strings.Join(quoteAll(l.Columns()), ", ")
	var set []string
	for _, c := range quoteAll(l.Columns())[len(l.KeyColumns):] {
		set = append(set, c+" = EXCLUDED."+c)
	}
	set = append(set, pgx.Identifier{ColSyncedAt}.Sanitize()+" = now()")
	// xmax is 0 on a row the INSERT created, and set on one it updated.
	err = tx.QueryRow(ctx, fmt.Sprintf(`WITH written AS (
			INSERT INTO %s (%s) SELECT %s FROM %s WHERE NOT %s
			ON CONFLICT (%s) DO UPDATE SET %s
			RETURNING (xmax = 0) AS inserted)
		SELECT count(*), count(*) FILTER (WHERE inserted) FROM written`,
		l.Ident().Sanitize(), cols, cols, stage.Sanitize(), deleted, keys, strings.Join(set, ", "))).Scan(&a.Upserted, &a.Inserted)
	if err != nil {
		return a, fmt.Errorf("writing new images: %w", err)
	}

	tag, err = tx.Exec(ctx, fmt.Sprintf(`INSERT INTO ddbsync.tombstones (table_name, key, removed_at, shard_id, sequence_number, ttl)
		SELECT $1, %s, %s, NULL, NULL, false FROM %s WHERE %s
		ON CONFLICT (table_name, key) DO UPDATE SET removed_at = EXCLUDED.removed_at, shard_id = NULL,
			sequence_number = NULL, ttl = false`,
		pgx.Identifier{ColItem}.Sanitize(), originTime, stage.Sanitize(), deleted), table)
	if err != nil {
		return a, fmt.Errorf("recording deletions: %w", err)
	}
	a.Tombstones = tag.RowsAffected()
	return a, nil
}

// LatestUndated returns the latest origin_time of l's rows whose
// provenance is an export's or a scan's instant rather than their write's
// time (nil when there is none). It reads the whole table.
func LatestUndated(ctx context.Context, q Querier, l Layout) (*time.Time, error) {
	var t *time.Time
	err := q.QueryRow(ctx, fmt.Sprintf("SELECT max(%s) FROM %s WHERE %s IN ($1, $2)", pgx.Identifier{ColOriginTime}.Sanitize(),
		l.Ident().Sanitize(), pgx.Identifier{ColOrigin}.Sanitize()), string(OriginExport), string(OriginScan)).Scan(&t)
	return t, err
}

// DropStage drops stage table ident.
func DropStage(ctx context.Context, q Querier, ident pgx.Identifier) error {
	_, err := q.Exec(ctx, "DROP TABLE IF EXISTS "+ident.Sanitize())
	return err
}

// Incremental is an incremental export's load, as ddbsync.loads records it.
type Incremental struct {
	Load
	From, To time.Time // the export's window
}

// BeginIncremental records a new load of incremental export inc and creates
// its stage table ([LoadTable]) with layout l. It returns the load id.
func (loadsAccessor) BeginIncremental(ctx context.Context, q Querier, inc Incremental, l Layout) (int64, error) {
	var id int64
	err := q.QueryRow(ctx, `INSERT INTO ddbsync.loads
		(table_name, export_arn, export_time, source, pg_schema, pg_table, key_schema, files_total, items_total,
		 export_type, export_from, export_to)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'INCREMENTAL_EXPORT', $10, $11) RETURNING load_id`,
		inc.Table, inc.ExportArn, inc.To, inc.Source, inc.Schema, inc.Name, inc.KeySchema, inc.FilesTotal, inc.ItemsTotal,
		inc.From, inc.To).Scan(&id)
	if err != nil {
		return 0, err
	}
	return id, CreateIncrementalStage(ctx, q, l, LoadTable(id))
}

// ExportType returns the export type of load id: FULL_EXPORT or
// INCREMENTAL_EXPORT.
func (loadsAccessor) ExportType(ctx context.Context, q Querier, id int64) (string, error) {
	var t string
	err := q.QueryRow(ctx, `SELECT export_type FROM ddbsync.loads WHERE load_id = $1`, id).Scan(&t)
	return t, err
}

// RecordIncremental records that the copy of table now reflects
// incremental export arn, applied by load id: its instant T becomes the
// export's end to, exact, and its item count moves by delta.
func (tablesAccessor) RecordIncremental(ctx context.Context, q Querier, table string, id int64, arn string, to time.Time, delta int64) error {
	tag, err := q.Exec(ctx, `UPDATE ddbsync.tables SET load_id = $2, export_arn = $3, export_time = $4,
			export_type = 'INCREMENTAL_EXPORT', item_count = coalesce(item_count, 0) + $5, loaded_at = now()
		WHERE table_name = $1`, table, id, arn, to, delta)
	if err == nil && tag.RowsAffected() != 1 {
		err = fmt.Errorf("table %s has no published copy", table)
	}
	return err
}

// PublishSynced records the watermark of a table kept by incremental
// exports alone (`ddbsync sync`): a ddbsync.streams row without a stream,
// W = w, every change before it in the copy. [Streams.Get] does not see it,
// and a follow's [Streams.Begin] replaces it.
func (streamsAccessor) PublishSynced(ctx context.Context, q Querier, table string, start, w time.Time) error {
	_, err := q.Exec(ctx, `INSERT INTO ddbsync.streams (table_name, stream_arn, start_time, watermark) VALUES ($1, '', $2, $3)
		ON CONFLICT (table_name) DO UPDATE SET stream_arn = '', start_time = $2, watermark = $3, watermark_shard = NULL,
			accepted_gap = NULL, updated_at = now()`, table, start, w)
	return err
}

// LockTables takes the locks of kinds on table, in order, on a new
// connection, waiting up to timeout for each: what [LockTable] does for
// one kind.
func LockTables(ctx context.Context, pool *pgxpool.Pool, timeout time.Duration, table string, kinds ...LockKind) (*OwnLock, error) {
	conn, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("%s: connecting for the table locks: %w", table, err)
	}
	l := &OwnLock{conn: conn, locks: TableLocks{conn: conn, table: table, kinds: kinds}}
	if err := l.locks.Acquire(ctx, timeout); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return l, nil
}

// ExportType is the type of export a load is of, as ddbsync.loads and
// ddbsync.tables record it.
type ExportType string

// The export types.
const (
	ExportFull        ExportType = "FULL_EXPORT"
	ExportIncremental ExportType = "INCREMENTAL_EXPORT"
)
