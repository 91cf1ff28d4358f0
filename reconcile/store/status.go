package store

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// TableStatus is where one table's copy stands.
type TableStatus struct {
	Table      string    `json:"table"`
	PGTable    string    `json:"pg_table"`
	Key        string    `json:"key"`
	ExportArn  string    `json:"export_arn"`
	ExportTime time.Time `json:"export_time"`
	LoadedAt   time.Time `json:"loaded_at"`
	ItemCount  int64     `json:"loaded_items"`
	// ExportType is FULL_EXPORT, or INCREMENTAL_EXPORT when T is the end
	// of the last incremental export applied (ExportArn is then its ARN).
	ExportType string `json:"export_type"`
	// Follow state; empty until `follow` ran after the last load.
	StreamArn   string        `json:"stream_arn,omitempty"`
	Watermark   *time.Time    `json:"watermark,omitempty"`
	Lag         string        `json:"lag,omitempty"` // now − watermark
	AcceptedGap string        `json:"accepted_gap,omitempty"`
	Shards      []ShardStatus `json:"shards,omitempty"`
	// UnfinishedLoad is set while a load of another export is in progress or interrupted.
	UnfinishedLoad *LoadStatus `json:"unfinished_load,omitempty"`
	// LastDiff is the table's most recent `ddbsync diff`, if any.
	LastDiff *DiffStatus `json:"last_diff,omitempty"`
	// Verify is what `follow --verify` checked, if it ever ran.
	Verify *VerifyStatus `json:"verify,omitempty"`
	// Followers are the processes of a shared follow (`follow --shared`),
	// with their leases.
	Followers []FollowerStatus `json:"followers,omitempty"`
}

// ShardStatus is one shard's checkpoint.
type ShardStatus struct {
	ShardID        string     `json:"shard_id"`
	ParentShardID  string     `json:"parent_shard_id,omitempty"`
	State          string     `json:"state"` // a ShardState
	LastSequence   string     `json:"last_sequence,omitempty"`
	LastRecordTime *time.Time `json:"last_record_time,omitempty"`
	ChangesApplied int64      `json:"changes_applied"`
	TTLRemoves     int64      `json:"ttl_removes"`
	Detail         string     `json:"detail,omitempty"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

// LoadStatus is an unfinished load.
type LoadStatus struct {
	LoadID     int64     `json:"load_id"`
	ExportArn  string    `json:"export_arn"`
	FilesDone  int64     `json:"files_done"`
	FilesTotal int64     `json:"files_total"`
	StartedAt  time.Time `json:"started_at"`
	// Workers are the processes that copied files of the load or are
	// copying one now (`load --worker` runs several).
	Workers []WorkerProgress `json:"workers,omitempty"`
}

// Status reports every table ddbsync serves (or only table, when given).
func Status(ctx context.Context, pool Querier, table string, now time.Time) ([]TableStatus, error) {
	rows, err := pool.Query(ctx, `SELECT t.table_name, format('%I.%I', t.pg_schema, t.pg_table), t.key_schema,
			coalesce(t.export_arn, ''), coalesce(t.export_time, 'epoch'), coalesce(t.loaded_at, 'epoch'), coalesce(t.item_count, 0),
			t.export_type, coalesce(s.stream_arn, ''), s.watermark, coalesce(s.accepted_gap, '')
		FROM ddbsync.tables t LEFT JOIN ddbsync.streams s USING (table_name)
		WHERE $1 = '' OR t.table_name = $1 ORDER BY t.table_name`, table)
	if err != nil {
		return nil, err
	}
	var out []TableStatus
	for rows.Next() {
		var ts TableStatus
		if err := rows.Scan(&ts.Table, &ts.PGTable, &ts.Key, &ts.ExportArn, &ts.ExportTime, &ts.LoadedAt, &ts.ItemCount,
			&ts.ExportType, &ts.StreamArn, &ts.Watermark, &ts.AcceptedGap); err != nil {
			rows.Close()
			return nil, err
		}
		if ts.Watermark != nil {
			ts.Lag = now.Sub(*ts.Watermark).Round(time.Second).String()
		}
		out = append(out, ts)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// A table whose first load is under way has no copy yet, but its
	// load's progress is what the user wants to see.
	rows, err = pool.Query(ctx, `SELECT table_name, format('%I.%I', pg_schema, pg_table), key_schema FROM ddbsync.loads l
		WHERE state = $2 AND ($1 = '' OR table_name = $1)
			AND NOT EXISTS (SELECT FROM ddbsync.tables t WHERE t.table_name = l.table_name)
		ORDER BY table_name`, table, LoadLoading)
	if err != nil {
		return nil, err
	}
	first, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (TableStatus, error) {
		var ts TableStatus
		return ts, r.Scan(&ts.Table, &ts.PGTable, &ts.Key)
	})
	if err != nil {
		return nil, err
	}
	out = append(out, first...)
	slices.SortFunc(out, func(a, b TableStatus) int { return strings.Compare(a.Table, b.Table) })
	for i := range out {
		if err := shardStatus(ctx, pool, &out[i]); err != nil {
			return nil, err
		}
		p, err := Loads.Progress(ctx, pool, out[i].Table)
		if err == nil && p != nil {
			out[i].UnfinishedLoad = &LoadStatus{LoadID: p.LoadID, ExportArn: p.ExportArn, FilesDone: p.FilesDone,
				FilesTotal: p.FilesTotal, StartedAt: p.StartedAt, Workers: p.Workers}
		}
		if out[i].LastDiff, err = DiffRuns.Last(ctx, pool, out[i].Table); err != nil {
			return nil, err
		}
		if out[i].Verify, err = Verifications.Totals(ctx, pool, out[i].Table); err != nil {
			return nil, err
		}
		if out[i].Followers, err = Leases.Followers(ctx, pool, out[i].Table); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func shardStatus(ctx context.Context, pool Querier, ts *TableStatus) error {
	rows, err := pool.Query(ctx, `SELECT shard_id, coalesce(parent_shard_id, ''), state, coalesce(last_sequence::text, ''),
			last_record_time, changes_applied, ttl_removes, coalesce(detail, ''), updated_at
		FROM ddbsync.shards WHERE table_name = $1 ORDER BY shard_id`, ts.Table)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var s ShardStatus
		if err := rows.Scan(&s.ShardID, &s.ParentShardID, &s.State, &s.LastSequence, &s.LastRecordTime,
			&s.ChangesApplied, &s.TTLRemoves, &s.Detail, &s.UpdatedAt); err != nil {
			return err
		}
		ts.Shards = append(ts.Shards, s)
	}
	return rows.Err()
}
