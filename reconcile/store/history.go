package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// A table with history on keeps every version of its items in
// <schema>.<name>_history, beside the data table: the key columns,
// valid_from, valid_to (null while the version is the latest), the
// operation that made it, the item, and the stream change's shard and
// sequence number. A removal is a version of its own with a null item, so
// that every change is recorded (a TTL deletion reads apart from a user's)
// and the latest version of a removed key says since when it is gone.
//
// Intervals are half-open, [valid_from, valid_to), and never start before
// the history's start T (ddbsync.history.history_from) nor before the
// version they close: ApproximateCreationDateTime has second precision, so
// several versions of a key may share a second, and changes replayed from
// before T are also in the export. Such versions get an empty interval and
// are never an as-of answer, yet stay recorded, in sequence order.

// The operations of a history version.
const (
	HistoryExport      = "export"      // a row of the loaded export, at T
	HistoryInsert      = "insert"      // a stream INSERT
	HistoryModify      = "modify"      // a stream MODIFY
	HistoryRemove      = "remove"      // a stream REMOVE made by a user
	HistoryTTLRemove   = "ttl_remove"  // a stream REMOVE made by DynamoDB's TTL
	HistoryRepair      = "repair"      // diff --repair or follow --verify --on-mismatch repair
	HistoryIncremental = "incremental" // an incremental export's change
)

var historyOperations = []string{HistoryExport, HistoryInsert, HistoryModify, HistoryRemove, HistoryTTLRemove,
	HistoryRepair, HistoryIncremental}

// HistoryIdent is the history table of the data table of l.
func (l Layout) HistoryIdent() pgx.Identifier { return pgx.Identifier{l.Schema, l.Name + "_history"} }

// AsOfIdent is the as-of function of the data table of l.
func (l Layout) AsOfIdent() pgx.Identifier { return pgx.Identifier{l.Schema, l.Name + "_as_of"} }

// checkHistoryNames refuses a data table whose history names PostgreSQL
// would truncate: two tables could then share one.
func (l Layout) checkHistoryNames() error {
	for _, id := range []pgx.Identifier{l.HistoryIdent(), l.AsOfIdent()} {
		if len(id[1]) > MaxIdentLen {
			return fmt.Errorf("table %s: history name %q is longer than %d bytes", l.Table, id[1], MaxIdentLen)
		}
	}
	return nil
}

// HistorySetting is a table's history, as ddbsync.history records it.
type HistorySetting struct {
	// From is where the history starts: the loaded export's time T.
	From time.Time
	// Retention drops the versions whose valid_to is older; 0 keeps all.
	Retention time.Duration
}

// History is ddbsync.history: the tables that keep every version.
var History historyAccessor

type historyAccessor struct{}

// Get returns table's history setting, nil when history is off.
func (historyAccessor) Get(ctx context.Context, q Querier, table string) (*HistorySetting, error) {
	var s HistorySetting
	var ret pgtype.Interval
	err := q.QueryRow(ctx, `SELECT history_from, retention FROM ddbsync.history WHERE table_name = $1`, table).Scan(&s.From, &ret)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if ret.Valid {
		s.Retention = time.Duration(ret.Microseconds)*time.Microsecond +
			time.Duration(ret.Days)*24*time.Hour + time.Duration(ret.Months)*30*24*time.Hour
	}
	return &s, nil
}

// SetRetention changes table's retention (0 keeps every version).
func (historyAccessor) SetRetention(ctx context.Context, q Querier, table string, retention time.Duration) error {
	_, err := q.Exec(ctx, `UPDATE ddbsync.history SET retention = $2 WHERE table_name = $1`, table, retentionValue(retention))
	return err
}

func retentionValue(d time.Duration) any {
	if d <= 0 {
		return nil
	}
	if d%(24*time.Hour) == 0 {
		return pgtype.Interval{Days: int32(d / (24 * time.Hour)), Valid: true} // shown as "400 days"
	}
	return pgtype.Interval{Microseconds: d.Microseconds(), Valid: true}
}

// StartHistory makes the rows of l's data table, as they are in tx, the
// versions of the history at from (the loaded export's time T), with
// operation export, and records table's history as starting there. It
// creates the history table, its indexes and the as-of function when they
// are missing.
//
// A reload keeps the versions already recorded, as the history of the
// previous copy: the versions still open are closed at from (or at their
// own start, if later), those starting after from are deleted (the new copy
// replays that time from its own stream), and as-of answers from from on.
// Run it in the transaction that publishes the copy, so the history and
// the copy it starts from are published together.
func StartHistory(ctx context.Context, tx pgx.Tx, l Layout, from time.Time, retention time.Duration) error {
	if err := l.checkHistoryNames(); err != nil {
		return err
	}
	hist := l.HistoryIdent().Sanitize()
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, hist).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		if err := createHistory(ctx, tx, l); err != nil {
			return fmt.Errorf("creating %s: %w", hist, err)
		}
	}
	// Always: the function's text may be of an older ddbsync.
	if err := createAsOf(ctx, tx, l); err != nil {
		return fmt.Errorf("creating %s: %w", l.AsOfIdent().Sanitize(), err)
	}
	if _, err := tx.Exec(ctx, "DELETE FROM "+hist+" WHERE valid_from > $1", from); err != nil {
		return fmt.Errorf("dropping the versions after %s: %w", from, err)
	}
	if _, err := tx.Exec(ctx, "UPDATE "+hist+" SET valid_to = greatest(valid_from, $1) WHERE valid_to IS NULL", from); err != nil {
		return fmt.Errorf("closing the previous copy's versions: %w", err)
	}
	keys := strings.Join(l.QuotedKeyColumns(), ", ")
	if _, err := tx.Exec(ctx, fmt.Sprintf(`INSERT INTO %s (%s, valid_from, operation, item) SELECT %s, $1, $2, %s FROM %s`,
		hist, keys, keys, pgx.Identifier{ColItem}.Sanitize(), l.Ident().Sanitize()), from, HistoryExport); err != nil {
		return fmt.Errorf("recording the export's rows: %w", err)
	}
	_, err := tx.Exec(ctx, `INSERT INTO ddbsync.history (table_name, history_from, retention) VALUES ($1, $2, $3)
		ON CONFLICT (table_name) DO UPDATE SET history_from = $2, retention = $3, enabled_at = now()`,
		l.Table, from, retentionValue(retention))
	return err
}

func createHistory(ctx context.Context, tx pgx.Tx, l Layout) error {
	hist := l.HistoryIdent().Sanitize()
	lits := make([]string, len(historyOperations))
	for i, o := range historyOperations {
		lits[i] = "'" + o + "'" // our own constants: no quote inside
	}
	keys := strings.Join(l.QuotedKeyColumns(), ", ")
	stmts := []string{
		fmt.Sprintf(`CREATE TABLE %s (%svalid_from timestamptz NOT NULL, valid_to timestamptz,
			operation text NOT NULL CHECK (operation IN (%s)),
			item jsonb, shard_id text, sequence_number numeric, recorded_at timestamptz NOT NULL DEFAULT now(),
			CHECK (valid_to >= valid_from))`, hist, l.keyColumnDefs(), strings.Join(lits, ", ")),
		// The latest version of a key: the one each new version closes.
		fmt.Sprintf("CREATE INDEX ON %s (%s) WHERE valid_to IS NULL", hist, keys),
		// A key's versions in order, for "what did this item look like".
		fmt.Sprintf("CREATE INDEX ON %s (%s, valid_from)", hist, keys),
		// As-of: the versions whose interval holds an instant.
		fmt.Sprintf("CREATE INDEX ON %s USING gist (tstzrange(valid_from, valid_to, '[)'))", hist),
		// Retention: the versions closed before a cutoff.
		fmt.Sprintf("CREATE INDEX ON %s (valid_to) WHERE valid_to IS NOT NULL", hist),
	}
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return err
		}
	}
	lit, err := QuoteLiterals(ctx, tx, fmt.Sprintf("Every version of the items of DynamoDB table %s, managed by ddbsync", l.Table))
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, "COMMENT ON TABLE "+hist+" IS "+lit[0])
	return err
}

// asOfBody is the as-of function's text; {{…}} are filled in by
// createAsOf with quoted identifiers and literals. It declares its result
// columns rather than returning the data table's row type: a reload
// replaces the data table, which a function depending on its type would
// block.
const asOfBody = `CREATE OR REPLACE FUNCTION {{fn}}(ts timestamptz)
RETURNS TABLE ({{keydefs}}item jsonb, valid_from timestamptz, valid_to timestamptz, operation text,
	shard_id text, sequence_number numeric)
LANGUAGE plpgsql STABLE AS $ddbsync$
#variable_conflict use_column
DECLARE
	t_from timestamptz;
	w timestamptz;
BEGIN
	SELECT hs.history_from INTO t_from FROM ddbsync.history hs WHERE hs.table_name = {{table}};
	IF NOT FOUND THEN
		RAISE EXCEPTION 'table %: history is off', {{table}} USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	IF ts IS NULL THEN
		RAISE EXCEPTION 'table %: as-of needs an instant, not null', {{table}} USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF ts < t_from THEN
		RAISE EXCEPTION 'table %: % is before the history, which starts at the loaded export''s time T = %', {{table}}, ts, t_from
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT s.watermark INTO w FROM ddbsync.streams s WHERE s.table_name = {{table}};
	IF w IS NULL OR ts >= w THEN
		RAISE EXCEPTION 'table %: % is not yet proven: W is %', {{table}}, ts, coalesce(w::text, 'not yet published')
			USING ERRCODE = 'invalid_parameter_value',
			HINT = 'every change created before the watermark W is applied; ask for an earlier instant, or wait for W to pass it';
	END IF;
	RETURN QUERY SELECT {{hkeys}}h.item, h.valid_from, h.valid_to, h.operation, h.shard_id, h.sequence_number
		FROM {{hist}} h
		WHERE tstzrange(h.valid_from, h.valid_to, '[)') @> ts AND h.item IS NOT NULL;
END
$ddbsync$`

func createAsOf(ctx context.Context, tx pgx.Tx, l Layout) error {
	lit, err := QuoteLiterals(ctx, tx, l.Table)
	if err != nil {
		return err
	}
	var hkeys strings.Builder
	for _, c := range l.QuotedKeyColumns() {
		hkeys.WriteString("h." + c + ", ")
	}
	sql := strings.NewReplacer("{{fn}}", l.AsOfIdent().Sanitize(), "{{keydefs}}", strings.ReplaceAll(l.keyColumnDefs(), " NOT NULL", ""),
		"{{table}}", lit[0], "{{hkeys}}", hkeys.String(), "{{hist}}", l.HistoryIdent().Sanitize()).Replace(asOfBody)
	_, err = tx.Exec(ctx, sql)
	return err
}

// HistoryStage is the temporary table a page's versions are copied into
// before [Layout.MergeHistorySQL] records them; like [Layout.StageTable],
// it lives as long as its connection and empties at each commit.
func (l Layout) HistoryStage() pgx.Identifier {
	h := fnv.New64a()
	h.Write([]byte(l.Schema + "\x00" + l.Name + "\x00" + l.Key.String()))
	return pgx.Identifier{"pg_temp", fmt.Sprintf("ddbsync_hstage_%016x", h.Sum64())}
}

// The history stage's columns besides the key columns: ord is the
// version's place among the staged ones (sequence order), changed_at its
// change's time.
const (
	colHistOrd       = "ord"
	colHistChangedAt = "changed_at"
)

// HistoryStageColumns are the columns of [Layout.HistoryStage], in the
// order of [Layout.HistoryRow]'s values.
func (l Layout) HistoryStageColumns() []string {
	return append(append([]string(nil), l.KeyColumns...), colHistOrd, colHistChangedAt, "operation", ColItem, ColShardID, ColSequence)
}

// CreateHistoryStageSQL creates [Layout.HistoryStage] unless the
// connection has it. It takes no parameters.
func (l Layout) CreateHistoryStageSQL() string {
	return fmt.Sprintf(`CREATE TEMP TABLE IF NOT EXISTS %s (%sord bigint NOT NULL, changed_at timestamptz NOT NULL,
		operation text NOT NULL, item jsonb, shard_id text, sequence_number numeric) ON COMMIT DELETE ROWS`,
		l.HistoryStage().Sanitize(), l.keyColumnDefs())
}

// HistoryRow returns the values of one staged version: key (the key
// attributes), its place ord, when its change was made, the operation,
// the item (nil for a removal), and its stream position ("" for none).
func (l Layout) HistoryRow(key map[string]types.AttributeValue, ord int64, changedAt time.Time, op string, item []byte, shardID, seq string) ([]any, error) {
	vals := make([]any, len(l.KeyColumns), len(l.KeyColumns)+6)
	if err := l.KeyValues(key, vals); err != nil {
		return nil, err
	}
	var itemVal, shardVal, seqVal any
	if item != nil {
		itemVal = item
	}
	if shardID != "" {
		shardVal = shardID
	}
	if seq != "" {
		var n pgtype.Numeric
		if err := n.Scan(seq); err != nil {
			return nil, fmt.Errorf("sequence number %q: %w", seq, err)
		}
		seqVal = n
	}
	return append(vals, ord, changedAt, op, itemVal, shardVal, seqVal), nil
}

// MergeHistorySQL records the versions staged in [Layout.HistoryStage]:
// each key's versions in ord order, each one closing the one before, the
// first closing the key's latest recorded version. A version starts at its
// change's time, but never before $1 (the history's start) nor before the
// version it closes, so intervals are never inverted nor overlapping.
func (l Layout) MergeHistorySQL() string {
	hist := l.HistoryIdent().Sanitize()
	qk := l.QuotedKeyColumns()
	var sKeys, on, hOn []string
	for _, c := range qk {
		sKeys = append(sKeys, "s."+c)
		on = append(on, "o."+c+" = s."+c)
		hOn = append(hOn, "h."+c+" = v."+c)
	}
	keys := strings.Join(qk, ", ")
	return fmt.Sprintf(`WITH s AS (
			SELECT %[1]s, s.ord, s.operation, s.item, s.shard_id, s.sequence_number,
				max(greatest(s.changed_at, o.valid_from, $1::timestamptz)) OVER w AS vf,
				row_number() OVER w AS n
			FROM %[2]s s LEFT JOIN %[3]s o ON %[4]s AND o.valid_to IS NULL
			WINDOW w AS (PARTITION BY %[1]s ORDER BY s.ord ROWS UNBOUNDED PRECEDING)),
		v AS (SELECT s.*, lead(vf) OVER (PARTITION BY %[5]s ORDER BY ord) AS vt FROM s),
		closed AS (UPDATE %[3]s h SET valid_to = v.vf FROM v WHERE v.n = 1 AND %[6]s AND h.valid_to IS NULL)
		INSERT INTO %[3]s (%[5]s, valid_from, valid_to, operation, item, shard_id, sequence_number)
		SELECT %[5]s, vf, vt, operation, item, shard_id, sequence_number FROM v`,
		strings.Join(sKeys, ", "), l.HistoryStage().Sanitize(), hist, strings.Join(on, " AND "), keys, strings.Join(hOn, " AND "))
}

// historyRepairCTEs returns CTEs that record a compare-and-set repair of
// the key whose column values are keyVals as a version of operation
// repair, made now, when the CTE named wrote returned a row: after is the
// item written, nil for a deleted row. Each starts with ", ".
func (l Layout) historyRepairCTEs(p *casParams, table string, keyVals []any, after []byte, wrote string) string {
	hist := l.HistoryIdent().Sanitize()
	var where, sel []string
	for i, c := range l.QuotedKeyColumns() {
		ph := p.add(keyVals[i], l.columnType(i))
		where = append(where, c+" = "+ph)
		sel = append(sel, ph)
	}
	w := strings.Join(where, " AND ")
	return fmt.Sprintf(`, hv AS (
			SELECT greatest(now(), (SELECT max(valid_from) FROM %[1]s WHERE %[2]s AND valid_to IS NULL),
				(SELECT history_from FROM ddbsync.history WHERE table_name = %[3]s)) AS vf
			WHERE EXISTS (SELECT 1 FROM %[4]s)),
		hc AS (UPDATE %[1]s SET valid_to = hv.vf FROM hv WHERE %[2]s AND valid_to IS NULL),
		hi AS (INSERT INTO %[1]s (%[5]s, valid_from, operation, item) SELECT %[6]s, hv.vf, %[7]s, %[8]s FROM hv)`,
		hist, w, p.add(table, "text"), wrote, strings.Join(l.QuotedKeyColumns(), ", "), strings.Join(sel, ", "),
		p.add(HistoryRepair, "text"), p.add(nullBytes(after), "jsonb"))
}

// RecordIncrementalHistory records the changes staged in stage (an
// incremental export's, one per key after [ApplyIncremental]) as versions
// of operation incremental, at their write time, in tx.
func RecordIncrementalHistory(ctx context.Context, tx pgx.Tx, l Layout, stage pgx.Identifier, from time.Time) error {
	if _, err := tx.Exec(ctx, l.CreateHistoryStageSQL()); err != nil {
		return err
	}
	keys := strings.Join(l.QuotedKeyColumns(), ", ")
	if _, err := tx.Exec(ctx, fmt.Sprintf(`INSERT INTO %s (%s, ord, changed_at, operation, item)
		SELECT %s, %s, %s, $1, CASE WHEN %s THEN NULL ELSE %s END FROM %s`,
		l.HistoryStage().Sanitize(), keys, keys, pgx.Identifier{colOrd}.Sanitize(), pgx.Identifier{ColOriginTime}.Sanitize(),
		pgx.Identifier{colDeleted}.Sanitize(), pgx.Identifier{ColItem}.Sanitize(), stage.Sanitize()), HistoryIncremental); err != nil {
		return fmt.Errorf("staging the history: %w", err)
	}
	if _, err := tx.Exec(ctx, l.MergeHistorySQL(), from); err != nil {
		return fmt.Errorf("recording the history: %w", err)
	}
	return nil
}

// PruneHistory deletes the versions of table's history closed more than
// its retention ago, and returns how many. A table without history or
// without a retention keeps everything.
func PruneHistory(ctx context.Context, q Querier, l Layout) (int64, error) {
	s, err := History.Get(ctx, q, l.Table)
	if err != nil || s == nil || s.Retention <= 0 {
		return 0, err
	}
	tag, err := q.Exec(ctx, "DELETE FROM "+l.HistoryIdent().Sanitize()+" WHERE valid_to < now() - $1::interval", retentionValue(s.Retention))
	if err != nil {
		return 0, fmt.Errorf("table %s: pruning the history: %w", l.Table, err)
	}
	_, err = q.Exec(ctx, `UPDATE ddbsync.history SET pruned_at = now() WHERE table_name = $1`, l.Table)
	return tag.RowsAffected(), err
}

// ChangedSinceExport reports whether l's data table is no longer exactly
// its export: a row written since (by the stream, a repair or an
// incremental export), or a key removed (a tombstone).
func ChangedSinceExport(ctx context.Context, q Querier, l Layout) (bool, error) {
	var changed bool
	err := q.QueryRow(ctx, fmt.Sprintf(`SELECT EXISTS (SELECT 1 FROM %s WHERE %s <> $1)
		OR EXISTS (SELECT 1 FROM ddbsync.tombstones WHERE table_name = $2)`,
		l.Ident().Sanitize(), pgx.Identifier{ColOrigin}.Sanitize()), string(OriginExport), l.Table).Scan(&changed)
	return changed, err
}

// RecordRepairHistory records the repair of c written in tx
// ([Comparison.StageRepairs], [Comparison.WriteRepairs],
// [Comparison.DeleteExtra]) as versions of operation repair, made now:
// the images written, and a removal for each extra row deleted. from is
// the history's start.
func (c Comparison) RecordRepairHistory(ctx context.Context, tx pgx.Tx, from time.Time) error {
	l := c.Layout
	if _, err := tx.Exec(ctx, l.CreateHistoryStageSQL()); err != nil {
		return err
	}
	keys := strings.Join(l.QuotedKeyColumns(), ", ")
	fkeys := make([]string, len(l.KeyColumns))
	for i, k := range l.QuotedKeyColumns() {
		fkeys[i] = "f." + k
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf(`INSERT INTO %[1]s (%[2]s, ord, changed_at, operation, item)
		SELECT %[2]s, 0, now(), $1, %[3]s FROM %[4]s
		UNION ALL
		SELECT %[5]s, 0, now(), $1, NULL FROM %[6]s f WHERE f.kind = 'extra' AND NOT f.in_flight`,
		l.HistoryStage().Sanitize(), keys, pgx.Identifier{ColItem}.Sanitize(), repairStage.Sanitize(),
		strings.Join(fkeys, ", "), c.Findings.Sanitize()), HistoryRepair); err != nil {
		return fmt.Errorf("staging the repairs' history: %w", err)
	}
	if _, err := tx.Exec(ctx, l.MergeHistorySQL(), from); err != nil {
		return fmt.Errorf("recording the repairs' history: %w", err)
	}
	return nil
}
