package reconcile

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DiffStatus is the last diff of a table, from ddbsync.diff_runs.
type DiffStatus struct {
	DiffID     int64      `json:"diff_id"`
	SourceKind string     `json:"source_kind"`
	Source     string     `json:"source"`
	Instant    *time.Time `json:"instant,omitempty"`
	State      string     `json:"state"` // running, consistent, inconsistent, failed
	Missing    int64      `json:"missing"`
	Extra      int64      `json:"extra"`
	Different  int64      `json:"different"`
	InFlight   int64      `json:"in_flight"`
	Repaired   *int64     `json:"repaired,omitempty"`
	Error      string     `json:"error,omitempty"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// lastDiff returns the table's most recent diff, or nil if it has none.
func lastDiff(ctx context.Context, pool *pgxpool.Pool, table string) (*DiffStatus, error) {
	var d DiffStatus
	err := pool.QueryRow(ctx, `SELECT diff_id, source_kind, source, instant, state, coalesce(missing, 0), coalesce(extra, 0),
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
