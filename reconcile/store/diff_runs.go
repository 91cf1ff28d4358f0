package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// DiffRuns is ddbsync.diff_runs: one row per `ddbsync diff`, written when
// it starts (state running) and updated when it ends.
var DiffRuns diffRunsAccessor

type diffRunsAccessor struct{}

// DiffScratch are the scratch tables of diff id: the source's rows and
// the comparison's findings.
func DiffScratch(id int64) [2]pgx.Identifier {
	return [2]pgx.Identifier{
		{BookkeepingSchema, fmt.Sprintf("diff_%d_source", id)},
		{BookkeepingSchema, fmt.Sprintf("diff_%d_findings", id)},
	}
}

// FailInterrupted marks table's running diffs failed (their process died:
// the caller holds the diff lock) and returns their ids.
func (diffRunsAccessor) FailInterrupted(ctx context.Context, q Querier, table string) ([]int64, error) {
	rows, err := q.Query(ctx, `UPDATE ddbsync.diff_runs SET state = $2, error = 'interrupted', finished_at = now()
		WHERE table_name = $1 AND state = $3 RETURNING diff_id`, table, string(DiffFailed), string(DiffRunning))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// NewDiff is a diff run starting.
type NewDiff struct {
	Table      string
	SourceKind string
	Source     string
	Instant    *time.Time
	Skew       time.Duration
}

// Begin records a run in state running and returns its id.
func (diffRunsAccessor) Begin(ctx context.Context, q Querier, d NewDiff) (int64, error) {
	var id int64
	err := q.QueryRow(ctx, `INSERT INTO ddbsync.diff_runs (table_name, source_kind, source, instant, skew)
		VALUES ($1, $2, $3, $4, $5) RETURNING diff_id`, d.Table, d.SourceKind, d.Source, d.Instant, d.Skew).Scan(&id)
	return id, err
}

// SetScan records a scan's instant and end.
func (diffRunsAccessor) SetScan(ctx context.Context, q Querier, id int64, instant, end time.Time) error {
	_, err := q.Exec(ctx, `UPDATE ddbsync.diff_runs SET instant = $2, scan_end = $3 WHERE diff_id = $1`, id, instant, end)
	return err
}

// DiffResult is what a finished run found.
type DiffResult struct {
	Watermark   *time.Time
	SourceItems int64
	CopyRows    int64
	Missing     int64
	Extra       int64
	Different   int64
	InFlight    int64
	Repaired    *int64
}

// Finish records run id's result; it is consistent when nothing but keys
// in flight differ.
func (diffRunsAccessor) Finish(ctx context.Context, q Querier, id int64, r DiffResult) error {
	state := DiffConsistent
	if r.Missing+r.Extra+r.Different > 0 {
		state = DiffInconsistent
	}
	_, err := q.Exec(ctx, `UPDATE ddbsync.diff_runs SET state = $2, watermark = $3, source_items = $4, copy_rows = $5,
		missing = $6, extra = $7, different = $8, in_flight = $9, repaired = $10, finished_at = now() WHERE diff_id = $1`,
		id, string(state), r.Watermark, r.SourceItems, r.CopyRows, r.Missing, r.Extra, r.Different, r.InFlight, r.Repaired)
	return err
}

// Fail records that run id failed with cause, unless it finished.
func (diffRunsAccessor) Fail(ctx context.Context, q Querier, id int64, cause string) error {
	_, err := q.Exec(ctx, `UPDATE ddbsync.diff_runs SET state = $3, error = $2, finished_at = now()
		WHERE diff_id = $1 AND state = $4`, id, cause, string(DiffFailed), string(DiffRunning))
	return err
}

// DiffStatus is the last diff of a table, from ddbsync.diff_runs.
type DiffStatus struct {
	DiffID     int64      `json:"diff_id"`
	SourceKind string     `json:"source_kind"`
	Source     string     `json:"source"`
	Instant    *time.Time `json:"instant,omitempty"`
	State      string     `json:"state"` // a DiffState
	Missing    int64      `json:"missing"`
	Extra      int64      `json:"extra"`
	Different  int64      `json:"different"`
	InFlight   int64      `json:"in_flight"`
	Repaired   *int64     `json:"repaired,omitempty"`
	Error      string     `json:"error,omitempty"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// Last returns table's most recent diff, or nil if it has none.
func (diffRunsAccessor) Last(ctx context.Context, q Querier, table string) (*DiffStatus, error) {
	var d DiffStatus
	err := q.QueryRow(ctx, `SELECT diff_id, source_kind, source, instant, state, coalesce(missing, 0), coalesce(extra, 0),
			coalesce(different, 0), coalesce(in_flight, 0), repaired, coalesce(error, ''), started_at, finished_at
		FROM ddbsync.diff_runs WHERE table_name = $1 ORDER BY diff_id DESC LIMIT 1`, table).
		Scan(&d.DiffID, &d.SourceKind, &d.Source, &d.Instant, &d.State, &d.Missing, &d.Extra, &d.Different, &d.InFlight,
			&d.Repaired, &d.Error, &d.StartedAt, &d.FinishedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// Repairs is ddbsync.repairs: every row `ddbsync diff --repair` changed,
// with the images before and after.
var Repairs repairsAccessor

type repairsAccessor struct{}

// RecordFindings records, for run id of table, a repair of every finding
// of findings (a diff's findings table) that is not in flight.
func (repairsAccessor) RecordFindings(ctx context.Context, q Querier, id int64, table string, findings pgx.Identifier) error {
	_, err := q.Exec(ctx, fmt.Sprintf(`INSERT INTO ddbsync.repairs (diff_id, table_name, key, kind, before, after)
		SELECT $1, $2, f.key, f.kind, f.copy_item, f.source_item FROM %s f WHERE NOT f.in_flight`, findings.Sanitize()),
		id, table)
	return err
}
