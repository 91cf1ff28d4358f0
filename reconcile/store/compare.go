package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// diffWorkMem lets the comparison's hash join and sort keep a million keys
// in memory instead of spilling to disk in many batches.
const diffWorkMem = "256MB"

// FindingKind is how a key differs between a diff's source and the copy
// (the findings table's kind column).
type FindingKind string

// The finding kinds.
const (
	FindingMissing   FindingKind = "missing"   // in the source, not in the copy
	FindingExtra     FindingKind = "extra"     // in the copy, not in the source
	FindingDifferent FindingKind = "different" // in both, with different images
)

// Comparison is one diff's comparison of a source of truth with the copy
// of Layout, through two scratch tables of the bookkeeping schema
// ([DiffScratch]): Source, which holds the source's rows, and Findings, the
// result of their join.
//
// The comparison is of digests, not images: a source row holds its key,
// the [Digest] of its item and, for an export, where the item is in the
// export ([DigestColumns]); the copy's are stored beside its items
// ([ColItemDigest]). So the source costs PostgreSQL a few dozen bytes
// a row instead of parsing every image, and only the keys that differ
// need images: a scan's rows keep theirs ([ImageColumns]), an export's
// those the diff knew differ as it read them ([Encoder.KeepImagesNotIn]),
// and the rest are read again from the export ([Comparison.ImageLines],
// [Comparison.FillImages]).
type Comparison struct {
	Layout   Layout
	Table    string // the DynamoDB table, whose tombstones the findings join
	Source   pgx.Identifier
	Findings pgx.Identifier
}

// CreateSource creates the Source scratch table, for rows of
// [ImageColumns] or [DigestColumns]. Unlogged: the scratch table is thrown
// away.
func (c Comparison) CreateSource(ctx context.Context, q Querier) error {
	_, err := q.Exec(ctx, fmt.Sprintf("CREATE UNLOGGED TABLE %s (%s%s text NOT NULL, %s uuid NOT NULL, %s int, %s int, %s jsonb)",
		c.Source.Sanitize(), c.Layout.keyColumnDefs(), ColSourceKey, ColSourceDigest, ColSourceFile, ColSourceLine, ColItem))
	return err
}

// CompareCounts are the comparison's counts: the copy's rows, and the
// findings by kind, those in flight counted apart whatever their kind.
type CompareCounts struct {
	CopyRows, InFlight, Missing, Extra, Different int64
}

// joinOn is the join condition on the key columns of tables a and b.
func (c Comparison) joinOn(a, b string) string {
	var conds []string
	for _, k := range c.Layout.QuotedKeyColumns() {
		conds = append(conds, fmt.Sprintf("%s.%s = %s.%s", a, k, b, k))
	}
	return strings.Join(conds, " AND ")
}

// Build fills the Findings table with a full outer join of the source and
// the copy on the key, keeping the keys whose digests differ, decides
// which findings are in flight, and counts them, all in one
// repeatable-read snapshot of the copy. The source is as of instant;
// changes at or after since (instant − skew) are in flight. A finding's
// source image is the source row's item: an export's are filled in after
// ([Comparison.FillImages]).
func (c Comparison) Build(ctx context.Context, pool *pgxpool.Pool, since, instant time.Time) (CompareCounts, error) {
	var n CompareCounts
	l := c.Layout
	keyCols := l.QuotedKeyColumns()
	// The source goes unanalyzed: the join reads all of it and all of the
	// copy whatever the statistics, and the planner sizes the source from
	// its pages (the same plan, without ANALYZE's 0.3 s a 200,000 rows).
	var sel []string
	for _, k := range keyCols {
		sel = append(sel, fmt.Sprintf("coalesce(s.%s, d.%s) AS %s", k, k, k))
	}
	first := keyCols[0]

	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return n, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// Reading the copy (and computing its digests, for a copy without
	// them) is most of the work: let the planner spread it over parallel
	// workers (it takes md5 for cheap, and would not).
	// JIT compiling the join's expressions costs more than it saves here.
	for _, set := range [][2]string{{"work_mem", diffWorkMem}, {"parallel_setup_cost", "0"}, {"parallel_tuple_cost", "0"}, {"jit", "off"}} {
		if _, err := tx.Exec(ctx, "SELECT set_config($1, $2, true)", set[0], set[1]); err != nil {
			return n, err
		}
	}
	copyDigest := storedDigestSQL()
	// The join reads the copy directly: a copy of its digests into a
	// table first (and its ANALYZE) cost more than they saved.
	copyDigests := fmt.Sprintf("(SELECT %s, %s AS digest FROM %s)", strings.Join(keyCols, ", "), copyDigest, l.Ident().Sanitize())
	var sourceRows int64
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+c.Source.Sanitize()).Scan(&sourceRows); err != nil {
		return n, err
	}
	// CREATE TABLE AS takes no parameters: PostgreSQL quotes the values.
	attrs := l.Key.Attributes()
	vals := []string{timeText(since), timeText(instant), c.Table}
	for _, a := range attrs {
		vals = append(vals, a.Name)
	}
	lits, err := QuoteLiterals(ctx, tx, vals...)
	if err != nil {
		return n, err
	}
	// An extra row's key comes from the copy's item.
	var args []string
	for _, name := range lits[3:] {
		args = append(args, name, "c.item -> "+name)
	}
	copyKey := "jsonb_build_object(" + strings.Join(args, ", ") + ")"
	// The keys whose digests differ go into a table of their own first
	// (j), and are then joined back to the copy's rows, in the same
	// snapshot. In one statement the planner, which cannot know how few
	// keys differ, hashes every row of the copy, images included, to join
	// them back: seconds, and memory that grows with the table. Analyzed,
	// the few keys are looked up by the copy's primary key. A copy row is
	// in flight when it changed at or after I − skew: a stream row with
	// that origin_time, or an export or scan image taken after I. A missing
	// row is in flight when the stream removed its key at or after I − skew.
	differing := fmt.Sprintf(`CREATE TEMPORARY TABLE %[1]s ON COMMIT DROP AS
		SELECT %[2]s,
			CASE WHEN d.%[4]s IS NULL THEN 'missing' WHEN s.%[4]s IS NULL THEN 'extra' ELSE 'different' END AS kind,
			s.%[7]s::jsonb AS source_key, s.%[8]s AS source_digest, s.%[9]s AS source_file, s.%[10]s AS source_line,
			s.item AS source_item
		FROM %[3]s s FULL JOIN %[6]s d ON %[5]s
		WHERE s.%[4]s IS NULL OR d.%[4]s IS NULL OR s.%[8]s <> d.digest`,
		differingKeys.Sanitize(), strings.Join(sel, ", "), c.Source.Sanitize(), first, c.joinOn("s", "d"), copyDigests,
		ColSourceKey, ColSourceDigest, ColSourceFile, ColSourceLine)
	if _, err := tx.Exec(ctx, differing); err != nil {
		return n, err
	}
	if _, err := tx.Exec(ctx, "ANALYZE "+differingKeys.Sanitize()); err != nil {
		return n, err
	}
	create := fmt.Sprintf(`CREATE UNLOGGED TABLE %[1]s AS
		SELECT j.*, c.item AS copy_item, c.origin, c.origin_time, c.shard_id, c.sequence_number,
			coalesce(j.source_key, %[4]s) AS key,
			t.removed_at, t.shard_id AS tomb_shard_id, t.sequence_number AS tomb_sequence, t.ttl AS tomb_ttl,
			CASE WHEN c.item IS NOT NULL
				THEN coalesce((c.origin = 'stream' AND c.origin_time >= %[5]s) OR (c.origin <> 'stream' AND c.origin_time > %[6]s), false)
				ELSE coalesce(t.removed_at >= %[5]s, false) END AS in_flight
		FROM %[2]s j LEFT JOIN %[3]s c ON %[8]s
		LEFT JOIN ddbsync.tombstones t ON j.kind = 'missing' AND t.table_name = %[7]s AND t.key = j.source_key`,
		c.Findings.Sanitize(), differingKeys.Sanitize(), l.Ident().Sanitize(), copyKey,
		lits[0]+"::timestamptz", lits[1]+"::timestamptz", lits[2], c.joinOn("j", "c"))
	if _, err := tx.Exec(ctx, create); err != nil {
		return n, err
	}
	rows, err := tx.Query(ctx, "SELECT kind, in_flight, count(*) FROM "+c.Findings.Sanitize()+" GROUP BY 1, 2")
	if err != nil {
		return n, err
	}
	for rows.Next() {
		var kind string
		var inFlight bool
		var k int64
		if err := rows.Scan(&kind, &inFlight, &k); err != nil {
			rows.Close()
			return n, err
		}
		// The copy's rows are the source's, less the keys the copy lacks,
		// plus those only it has: the join pairs a key at most once, the
		// copy's key being its primary key and an export's unique.
		switch FindingKind(kind) {
		case FindingMissing:
			sourceRows -= k
		case FindingExtra:
			sourceRows += k
		}
		switch {
		case inFlight:
			n.InFlight += k
		case kind == string(FindingMissing):
			n.Missing = k
		case kind == string(FindingExtra):
			n.Extra = k
		case kind == string(FindingDifferent):
			n.Different = k
		}
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	n.CopyRows = sourceRows
	return n, tx.Commit(ctx)
}

// ImageFiles lists the export data files (their indexes in the
// manifest) holding the images of findings that have none.
func (c Comparison) ImageFiles(ctx context.Context, q Querier) ([]int, error) {
	rows, err := q.Query(ctx, fmt.Sprintf(`SELECT DISTINCT source_file FROM %s
		WHERE source_item IS NULL AND source_file IS NOT NULL ORDER BY 1`, c.Findings.Sanitize()))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int])
}

// ImageLines lists, in order, up to limit lines after line after of data
// file file whose images findings lack: read them in one pass over the
// file, a batch at a time, and give them to [Comparison.FillImages].
func (c Comparison) ImageLines(ctx context.Context, q Querier, file, after, limit int) ([]int, error) {
	rows, err := q.Query(ctx, fmt.Sprintf(`SELECT source_line FROM %s
		WHERE source_item IS NULL AND source_file = $1 AND source_line > $2 ORDER BY 1 LIMIT $3`, c.Findings.Sanitize()),
		file, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int])
}

// fillStage holds, for FillImages' transaction, the images read again.
var fillStage = pgx.Identifier{"ddbsync_diff_images"}

// FillImages copies items, the source images read again at the
// lines [Comparison.ImageLines] listed, in any order, into the findings
// that lack them. Each must be the image the source row's digest was computed
// from, and every finding must get its image: otherwise the source changed
// since it was read, and FillImages fails.
func (c Comparison) FillImages(ctx context.Context, pool *pgxpool.Pool, items Items) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, fmt.Sprintf("CREATE TEMPORARY TABLE %s (%s%s text, %s uuid, %s jsonb) ON COMMIT DROP",
		fillStage.Sanitize(), c.Layout.keyColumnDefs(), ColSourceKey, ColSourceDigest, ColItem)); err != nil {
		return err
	}
	enc := NewEncoder(c.Layout, ImageColumns)
	src := NewCopySource(items, enc, Provenance{})
	read, err := tx.CopyFrom(ctx, fillStage, enc.Columns(), src)
	if err != nil {
		if serr := src.Err(); serr != nil {
			return serr
		}
		return fmt.Errorf("copying the images read again: %w", err)
	}
	if err := src.Err(); err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, fmt.Sprintf(`UPDATE %s f SET source_item = i.item FROM %s i
		WHERE %s AND i.%s = f.source_digest AND f.source_item IS NULL`,
		c.Findings.Sanitize(), fillStage.Sanitize(), c.joinOn("f", "i"), ColSourceDigest))
	if err != nil {
		return err
	}
	var left int64
	if err := tx.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %s WHERE source_item IS NULL AND source_file IS NOT NULL`,
		c.Findings.Sanitize())).Scan(&left); err != nil {
		return err
	}
	if left > 0 || tag.RowsAffected() != read {
		return fmt.Errorf("the source changed while it was compared: %d of the %d images read again are not the ones compared",
			read-tag.RowsAffected()+left, read+left)
	}
	return tx.Commit(ctx)
}

// timeText is t as PostgreSQL reads a timestamptz, to the microsecond.
func timeText(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.999999Z07:00")
}

// differingKeys holds, for the comparison's transaction, the keys whose
// digests differ between the source and the copy, with the source's side.
var differingKeys = pgx.Identifier{"ddbsync_diff_keys"}

// repairStage holds, for the repair's transaction, the full rows to write.
var repairStage = pgx.Identifier{"ddbsync_repair_stage"}

// StageRepairs copies into a temporary table of tx the data table rows,
// doc included when the table has it, of the source images to write: one
// per missing or different finding not in flight, read through q, each
// with provenance prov.
func (c Comparison) StageRepairs(ctx context.Context, q Querier, tx pgx.Tx, prov Provenance) error {
	l := c.Layout
	if _, err := tx.Exec(ctx, fmt.Sprintf("CREATE TEMPORARY TABLE %s (%s) ON COMMIT DROP",
		repairStage.Sanitize(), l.stageColumns())); err != nil {
		return err
	}
	rows, err := q.Query(ctx, fmt.Sprintf(`SELECT f.source_item FROM %s f
		WHERE f.kind IN ('missing', 'different') AND NOT f.in_flight`, c.Findings.Sanitize()))
	if err != nil {
		return err
	}
	defer rows.Close()
	src := NewCopySource(&imageRows{rows: rows}, NewEncoder(l, RowColumns), prov)
	if _, err := tx.CopyFrom(ctx, repairStage, l.Columns(), src); err != nil {
		if serr := src.Err(); serr != nil {
			return serr
		}
		return fmt.Errorf("staging the repairs: %w", err)
	}
	return src.Err()
}

// WriteRepairs upserts the staged rows ([Comparison.StageRepairs]) into
// the data table, and returns how many it wrote.
func (c Comparison) WriteRepairs(ctx context.Context, tx pgx.Tx) (int64, error) {
	tag, err := tx.Exec(ctx, c.Layout.UpsertSQL(repairStage))
	return tag.RowsAffected(), err
}

// DeleteExtra deletes the data table's rows of the extra findings not in
// flight, and returns how many it deleted.
func (c Comparison) DeleteExtra(ctx context.Context, tx pgx.Tx) (int64, error) {
	tag, err := tx.Exec(ctx, fmt.Sprintf(`DELETE FROM %s c USING %s f WHERE %s AND f.kind = 'extra' AND NOT f.in_flight`,
		c.Layout.Ident().Sanitize(), c.Findings.Sanitize(), c.joinOn("c", "f")))
	return tag.RowsAffected(), err
}

// FindingRow is one row of the findings table, images and numbers as text.
type FindingRow struct {
	Kind       FindingKind
	InFlight   bool
	Key        string
	SourceItem *string
	CopyItem   *string
	// The copy row's provenance (Origin nil: no copy row).
	Origin     *string
	OriginTime *time.Time
	ShardID    *string
	Sequence   *string
	// The key's tombstone (RemovedAt nil: none).
	RemovedAt    *time.Time
	TombShardID  *string
	TombSequence *string
	TombTTL      *bool
}

// EachFinding calls fn with the findings in order (those not in flight
// first, then by kind and key), at most limit of them (0: all).
func (c Comparison) EachFinding(ctx context.Context, q Querier, limit int64, fn func(FindingRow) error) error {
	var lim any // NULL: no limit
	if limit > 0 {
		lim = limit
	}
	rows, err := q.Query(ctx, fmt.Sprintf(`SELECT kind, in_flight, key::text, source_item::text, copy_item::text,
			origin, origin_time, shard_id, sequence_number::text, removed_at, tomb_shard_id, tomb_sequence::text, tomb_ttl
		FROM %s ORDER BY in_flight, kind, %s LIMIT $1`, c.Findings.Sanitize(), strings.Join(c.Layout.QuotedKeyColumns(), ", ")), lim)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var f FindingRow
		var kind string
		if err := rows.Scan(&kind, &f.InFlight, &f.Key, &f.SourceItem, &f.CopyItem, &f.Origin, &f.OriginTime,
			&f.ShardID, &f.Sequence, &f.RemovedAt, &f.TombShardID, &f.TombSequence, &f.TombTTL); err != nil {
			return err
		}
		f.Kind = FindingKind(kind)
		if err := fn(f); err != nil {
			return err
		}
	}
	return rows.Err()
}

// imageRows are the source images a query returns, one lossless DynamoDB
// JSON item per row, decoded one at a time.
type imageRows struct {
	rows pgx.Rows
	item ddbjson.Item
	err  error
}

func (s *imageRows) Next() bool {
	if !s.rows.Next() {
		return false
	}
	var raw []byte
	if s.err = s.rows.Scan(&raw); s.err != nil {
		return false
	}
	if s.item, s.err = ddbjson.DecodeItem(raw); s.err != nil {
		s.err = fmt.Errorf("decoding a source image: %w", s.err)
		return false
	}
	return true
}

func (s *imageRows) Item() ddbjson.Item { return s.item }

func (s *imageRows) Err() error {
	if s.err != nil {
		return s.err
	}
	return s.rows.Err()
}
