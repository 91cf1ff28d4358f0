package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ddbsync/ddbsync/reconcile/store"
)

// diffWorkMem lets the comparison's hash join and sort keep a million keys
// in memory instead of spilling to disk in many batches.
const diffWorkMem = "256MB"

// sqlParts are the layout-dependent pieces of the diff's statements.
type sqlParts struct {
	keyCols []string // quoted key columns
	joinOn  func(a, b string) string
}

func (d *differ) parts() sqlParts {
	l := d.table.layout
	var p sqlParts
	for _, c := range l.KeyColumns {
		p.keyCols = append(p.keyCols, pgx.Identifier{c}.Sanitize())
	}
	p.joinOn = func(a, b string) string {
		var conds []string
		for _, c := range p.keyCols {
			conds = append(conds, fmt.Sprintf("%s.%s = %s.%s", a, c, b, c))
		}
		return strings.Join(conds, " AND ")
	}
	return p
}

// compare fills the findings table with a full outer join of the source
// and the copy, decides which findings are in flight, and counts them, all
// in one repeatable-read snapshot of the copy.
func (d *differ) compare(ctx context.Context) error {
	p := d.parts()
	l := d.table.layout
	if _, err := d.pool.Exec(ctx, "ANALYZE "+d.source.Sanitize()); err != nil {
		return err
	}
	var sel []string
	for _, c := range p.keyCols {
		sel = append(sel, fmt.Sprintf("coalesce(s.%s, c.%s) AS %s", c, c, c))
	}
	since := d.sum.Instant.Add(-d.cfg.InFlightWindow)
	first := p.keyCols[0]

	tx, err := d.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "SELECT set_config('work_mem', $1, true)", diffWorkMem); err != nil {
		return err
	}
	// CREATE TABLE AS takes no parameters: PostgreSQL quotes the values.
	attrs := l.Key.Attributes()
	vals := []string{timeText(since), timeText(d.sum.Instant), d.cfg.Table}
	for _, a := range attrs {
		vals = append(vals, a.Name)
	}
	lits, err := store.QuoteLiterals(ctx, tx, vals...)
	if err != nil {
		return err
	}
	keyJSON := func(item string) string {
		var args []string
		for _, name := range lits[3:] {
			args = append(args, name, fmt.Sprintf("%s -> %s", item, name))
		}
		return "jsonb_build_object(" + strings.Join(args, ", ") + ")"
	}
	// A copy row is in flight when it changed at or after I − skew: a
	// stream row with that origin_time, or an export or scan image taken
	// after I. A missing row is in flight when the stream removed its key
	// at or after I − skew.
	create := fmt.Sprintf(`CREATE UNLOGGED TABLE %[1]s AS
		WITH j AS (
			SELECT %[2]s,
				CASE WHEN c.%[5]s IS NULL THEN 'missing' WHEN s.%[5]s IS NULL THEN 'extra' ELSE 'different' END AS kind,
				s.item AS source_item, c.item AS copy_item,
				c.origin, c.origin_time, c.shard_id, c.sequence_number
			FROM %[3]s s FULL JOIN %[4]s c ON %[6]s
			WHERE s.%[5]s IS NULL OR c.%[5]s IS NULL OR s.item <> c.item
		)
		SELECT j.*, %[7]s AS key,
			t.removed_at, t.shard_id AS tomb_shard_id, t.sequence_number AS tomb_sequence, t.ttl AS tomb_ttl,
			CASE WHEN j.copy_item IS NOT NULL
				THEN coalesce((j.origin = 'stream' AND j.origin_time >= %[8]s) OR (j.origin <> 'stream' AND j.origin_time > %[9]s), false)
				ELSE coalesce(t.removed_at >= %[8]s, false) END AS in_flight
		FROM j LEFT JOIN ddbsync.tombstones t ON j.copy_item IS NULL AND t.table_name = %[10]s AND t.key = %[11]s`,
		d.findings.Sanitize(), strings.Join(sel, ", "), d.source.Sanitize(), l.Ident().Sanitize(), first,
		p.joinOn("s", "c"), keyJSON("coalesce(j.source_item, j.copy_item)"),
		lits[0]+"::timestamptz", lits[1]+"::timestamptz", lits[2], keyJSON("j.source_item"))
	if _, err := tx.Exec(ctx, create); err != nil {
		return err
	}
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+l.Ident().Sanitize()).Scan(&d.sum.CopyRows); err != nil {
		return err
	}
	rows, err := tx.Query(ctx, "SELECT kind, in_flight, count(*) FROM "+d.findings.Sanitize()+" GROUP BY 1, 2")
	if err != nil {
		return err
	}
	for rows.Next() {
		var kind string
		var inFlight bool
		var n int64
		if err := rows.Scan(&kind, &inFlight, &n); err != nil {
			rows.Close()
			return err
		}
		switch {
		case inFlight:
			d.sum.InFlight += n
		case kind == string(KindMissing):
			d.sum.Missing = n
		case kind == string(KindExtra):
			d.sum.Extra = n
		case kind == string(KindDifferent):
			d.sum.Different = n
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// repair writes the source's images for the findings that are not in
// flight, in one transaction on the connection holding the follow and load
// locks: upserts for missing and different rows, deletes for extra ones,
// and a ddbsync.repairs row with the images before and after for each.
func (d *differ) repair(ctx context.Context) error {
	d.sum.Repair = &RepairCounts{}
	if d.sum.Inconsistencies() == 0 {
		return nil
	}
	p := d.parts()
	l := d.table.layout
	data := l.Ident().Sanitize()

	tx, err := d.lockConn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if d.sum.SourceKind == string(OriginScan) {
		if err := store.AllowOrigin(ctx, tx, l, OriginScan); err != nil {
			return err
		}
	}
	if err := d.stageRepairs(ctx, tx); err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, l.UpsertSQL(repairStage))
	if err != nil {
		return err
	}
	if tag.RowsAffected() != d.sum.Missing+d.sum.Different {
		return fmt.Errorf("wrote %d rows, expected %d missing and %d different", tag.RowsAffected(), d.sum.Missing, d.sum.Different)
	}
	tag, err = tx.Exec(ctx, fmt.Sprintf(`DELETE FROM %s c USING %s f WHERE %s AND f.kind = 'extra' AND NOT f.in_flight`,
		data, d.findings.Sanitize(), p.joinOn("c", "f")))
	if err != nil {
		return err
	}
	if tag.RowsAffected() != d.sum.Extra {
		return fmt.Errorf("deleted %d rows, expected %d extra", tag.RowsAffected(), d.sum.Extra)
	}
	if err := store.Repairs.RecordFindings(ctx, tx, d.sum.DiffID, d.cfg.Table, d.findings); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	d.sum.Repair = &RepairCounts{Inserted: d.sum.Missing, Updated: d.sum.Different, Deleted: d.sum.Extra}
	return nil
}

// repairStage holds, for the repair's transaction, the full rows to write.
var repairStage = pgx.Identifier{"ddbsync_repair_stage"}

// stageRepairs copies into a temporary table the data table rows, doc
// included, of the source images to write: one per missing or different
// finding not in flight.
func (d *differ) stageRepairs(ctx context.Context, tx pgx.Tx) error {
	l := d.table.layout
	p := d.parts()
	if _, err := tx.Exec(ctx, fmt.Sprintf("CREATE TEMPORARY TABLE %s (LIKE %s INCLUDING DEFAULTS) ON COMMIT DROP",
		repairStage.Sanitize(), d.source.Sanitize())); err != nil {
		return err
	}
	rows, err := d.pool.Query(ctx, fmt.Sprintf(`SELECT s.item FROM %s s JOIN %s f ON %s
		WHERE f.kind IN ('missing', 'different') AND NOT f.in_flight`,
		d.source.Sanitize(), d.findings.Sanitize(), p.joinOn("s", "f")))
	if err != nil {
		return err
	}
	defer rows.Close()
	src := store.NewCopySource(&imageRows{rows: rows}, store.NewEncoder(l, store.RowColumns),
		Provenance{Origin: store.Origin(d.sum.SourceKind), Time: d.sum.Instant})
	if _, err := tx.CopyFrom(ctx, repairStage, l.Columns(), src); err != nil {
		if serr := src.Err(); serr != nil {
			return serr
		}
		return fmt.Errorf("staging the repairs: %w", err)
	}
	return src.Err()
}

// report streams the findings to the report, one row at a time.
func (d *differ) report(ctx context.Context) error {
	r := d.cfg.Report
	if r == nil {
		return nil
	}
	if err := r.Begin(d.sum); err != nil {
		return err
	}
	p := d.parts()
	var limit any // NULL: no limit
	if d.cfg.Limit > 0 {
		limit = int64(d.cfg.Limit)
	}
	rows, err := d.pool.Query(ctx, fmt.Sprintf(`SELECT kind, in_flight, key::text, source_item::text, copy_item::text,
			origin, origin_time, shard_id, sequence_number::text, removed_at, tomb_shard_id, tomb_sequence::text, tomb_ttl
		FROM %s ORDER BY in_flight, kind, %s LIMIT $1`, d.findings.Sanitize(), strings.Join(p.keyCols, ", ")), limit)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		f, err := d.scanFinding(rows)
		if err != nil {
			return err
		}
		if err := r.Finding(f); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return r.End(d.sum)
}

func (d *differ) scanFinding(rows pgx.Rows) (Finding, error) {
	var f Finding
	var kind, key string
	var src, cp, origin, shard, seq, tombShard, tombSeq *string
	var originTime, removedAt *time.Time
	var tombTTL *bool
	if err := rows.Scan(&kind, &f.InFlight, &key, &src, &cp, &origin, &originTime, &shard, &seq,
		&removedAt, &tombShard, &tombSeq, &tombTTL); err != nil {
		return f, err
	}
	f.Kind = FindingKind(kind)
	f.Key = compact(json.RawMessage(key))
	f.Repaired = d.cfg.Repair && !f.InFlight
	if origin != nil {
		f.Provenance = &FindingProvenance{Origin: *origin, OriginTime: originTime, ShardID: deref(shard), Sequence: deref(seq)}
	}
	if removedAt != nil {
		f.Tombstone = &Tombstone{RemovedAt: *removedAt, ShardID: deref(tombShard), Sequence: deref(tombSeq), TTL: tombTTL != nil && *tombTTL}
	}
	switch f.Kind {
	case KindMissing:
		f.Source = compact(json.RawMessage(deref(src)))
	case KindExtra:
		f.Copy = compact(json.RawMessage(deref(cp)))
	case KindDifferent:
		if src == nil || cp == nil {
			return f, errors.New("a different row without both images")
		}
		diffs, err := AttrDiffs([]byte(*src), []byte(*cp))
		if err != nil {
			return f, fmt.Errorf("key %s: %w", key, err)
		}
		f.Differences = diffs
	}
	return f, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// timeText is t as PostgreSQL reads a timestamptz, to the microsecond.
func timeText(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.999999Z07:00")
}
