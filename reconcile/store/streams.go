package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Streams is ddbsync.streams: the stream a table's copy follows, from which
// start time, and its published watermark W.
var Streams streamsAccessor

type streamsAccessor struct{}

// Stream is a table's row of ddbsync.streams.
type Stream struct {
	Arn string
	// Start is the replay start S the first follow decided.
	Start     time.Time
	Watermark *time.Time
	UpdatedAt time.Time
}

// Get returns table's followed stream, nil before the first follow. A
// table that `sync` keeps with incremental exports alone has a row without
// a stream ([Streams.PublishSynced]): that is no follow either.
func (streamsAccessor) Get(ctx context.Context, q Querier, table string) (*Stream, error) {
	var s Stream
	err := q.QueryRow(ctx, `SELECT stream_arn, start_time, watermark, updated_at FROM ddbsync.streams
		WHERE table_name = $1 AND stream_arn <> ''`,
		table).Scan(&s.Arn, &s.Start, &s.Watermark, &s.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// Watermark returns table's W, nil before any follow published one.
func (streamsAccessor) Watermark(ctx context.Context, q Querier, table string) (*time.Time, error) {
	var w *time.Time
	err := q.QueryRow(ctx, `SELECT watermark FROM ddbsync.streams WHERE table_name = $1`, table).Scan(&w)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return w, err
}

// Begin records the first follow of table, on stream arn from start. It
// replaces the row `sync` keeps for a table without a stream.
func (streamsAccessor) Begin(ctx context.Context, q Querier, table, arn string, start time.Time) error {
	tag, err := q.Exec(ctx, `INSERT INTO ddbsync.streams (table_name, stream_arn, start_time) VALUES ($1, $2, $3)
		ON CONFLICT (table_name) DO UPDATE SET stream_arn = EXCLUDED.stream_arn, start_time = EXCLUDED.start_time,
			watermark = NULL, watermark_shard = NULL, accepted_gap = NULL, started_at = now(), updated_at = now()
		WHERE ddbsync.streams.stream_arn = ''`,
		table, arn, start)
	if err == nil && tag.RowsAffected() != 1 {
		err = fmt.Errorf("table %s is already followed on another stream", table)
	}
	return err
}

// AcceptGap appends note to the gaps an operator went on past.
func (streamsAccessor) AcceptGap(ctx context.Context, q Querier, table, note string) error {
	_, err := q.Exec(ctx, `UPDATE ddbsync.streams SET accepted_gap = concat_ws(E'\n', accepted_gap, $2::text), updated_at = now()
		WHERE table_name = $1`, table, note)
	return err
}

// SetWatermark publishes W = w, held back by shard (may be "").
func (streamsAccessor) SetWatermark(ctx context.Context, q Querier, table string, w time.Time, shard string) error {
	_, err := q.Exec(ctx, `UPDATE ddbsync.streams SET watermark = $2, watermark_shard = nullif($3, ''), updated_at = now()
		WHERE table_name = $1`, table, w, shard)
	return err
}

// Reset forgets table's stream position (and, by cascade, its shards): a
// new copy is followed from its own export time.
func (streamsAccessor) Reset(ctx context.Context, q Querier, table string) error {
	_, err := q.Exec(ctx, `DELETE FROM ddbsync.streams WHERE table_name = $1`, table)
	return err
}

// Shards is ddbsync.shards: per-shard checkpoints, written in the same
// transaction as the rows they cover.
var Shards shardsAccessor

type shardsAccessor struct{}

// Shard is one shard's checkpoint, as a follow resumes from it.
type Shard struct {
	ID      string
	Parent  string
	State   ShardState
	LastSeq string
}

// List returns table's shard checkpoints.
func (shardsAccessor) List(ctx context.Context, q Querier, table string) ([]Shard, error) {
	rows, err := q.Query(ctx, `SELECT shard_id, coalesce(parent_shard_id, ''), state, coalesce(last_sequence::text, '')
		FROM ddbsync.shards WHERE table_name = $1`, table)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Shard, error) {
		var s Shard
		var state string
		err := r.Scan(&s.ID, &s.Parent, &state, &s.LastSeq)
		s.State = ShardState(state)
		return s, err
	})
}

// Add records a newly listed shard as pending, unless it is known.
func (shardsAccessor) Add(ctx context.Context, q Querier, table, id, parent string) error {
	_, err := q.Exec(ctx, `INSERT INTO ddbsync.shards (table_name, shard_id, parent_shard_id) VALUES ($1, $2, nullif($3, ''))
		ON CONFLICT DO NOTHING`, table, id, parent)
	return err
}

// MarkGap records that following stopped at shard id, and why.
func (shardsAccessor) MarkGap(ctx context.Context, q Querier, table, id, detail string) error {
	_, err := q.Exec(ctx, `UPDATE ddbsync.shards SET state = $3, detail = $4, updated_at = now()
		WHERE table_name = $1 AND shard_id = $2`, table, id, string(ShardGap), detail)
	return err
}

// Advance is one page's checkpoint: the shard's new position and counts.
type Advance struct {
	Table    string
	ShardID  string
	Position string // last sequence number read; "" when the page had none
	Finished bool
	Changes  int64
	TTL      int64
	First    time.Time // the shard's first record time
	Last     time.Time // the creation time of the page's last record
}

// QueueAdvance queues the checkpoint update of a: it moves forward only
// (a replayed page changes nothing), and never out of state gap. It
// returns one row when the checkpoint advanced, or when a finishes the
// shard at its checkpoint: the last page may be empty, or a replay of a
// page already applied (a follower stopped while its commit was on the
// way, whose commit landed after the next follower read the checkpoint).
// The row says whether the checkpoint moved: the counts grow only then,
// and a caller whose page did not move it must not write the page again.
func (shardsAccessor) QueueAdvance(b *pgx.Batch, a Advance) {
	state := ShardReading
	if a.Finished {
		state = ShardFinished
	}
	const moves = `($4::numeric IS NULL OR old.seq IS NULL OR old.seq < $4::numeric)`
	b.Queue(`WITH old AS (SELECT last_sequence AS seq FROM ddbsync.shards
			WHERE table_name = $1 AND shard_id = $2 FOR UPDATE)
		UPDATE ddbsync.shards s SET state = $3, last_sequence = coalesce($4::numeric, s.last_sequence),
		changes_applied = s.changes_applied + CASE WHEN `+moves+` THEN $5 ELSE 0 END,
		ttl_removes = s.ttl_removes + CASE WHEN `+moves+` THEN $6 ELSE 0 END,
		first_record_time = coalesce(s.first_record_time, $7),
		last_record_time = CASE WHEN `+moves+` THEN coalesce($8, s.last_record_time) ELSE s.last_record_time END,
		updated_at = now()
		FROM old
		WHERE s.table_name = $1 AND s.shard_id = $2 AND s.state <> $9 AND (`+moves+` OR $3::text = $10::text)
		RETURNING `+moves,
		a.Table, a.ShardID, string(state), nullString(a.Position), a.Changes, a.TTL, NullTime(a.First), NullTime(a.Last),
		string(ShardGap), string(ShardFinished))
}

// AtPosition tells whether shard's checkpoint is exactly position.
func (shardsAccessor) AtPosition(ctx context.Context, q Querier, table, shard, position string) (bool, error) {
	var at bool
	err := q.QueryRow(ctx, `SELECT last_sequence = $3::numeric FROM ddbsync.shards WHERE table_name = $1 AND shard_id = $2`,
		table, shard, nullString(position)).Scan(&at)
	return at, err
}

// Tombstones is ddbsync.tombstones: keys the stream removed from a data
// table, with when, so a diff can tell a removal in flight from a row
// missing.
var Tombstones tombstonesAccessor

type tombstonesAccessor struct{}

// Tombstone is a stream REMOVE of a key.
type Tombstone struct {
	Table     string
	Key       []byte // the key attributes in DynamoDB JSON
	RemovedAt time.Time
	ShardID   string
	Sequence  string
	TTL       bool
}

// QueueRecord queues recording t, replacing an older removal of its key.
func (tombstonesAccessor) QueueRecord(b *pgx.Batch, t Tombstone) {
	b.Queue(`INSERT INTO ddbsync.tombstones (table_name, key, removed_at, shard_id, sequence_number, ttl)
		VALUES ($1, $2, $3, $4, $5::numeric, $6) ON CONFLICT (table_name, key) DO UPDATE SET removed_at = EXCLUDED.removed_at,
		shard_id = EXCLUDED.shard_id, sequence_number = EXCLUDED.sequence_number, ttl = EXCLUDED.ttl`,
		t.Table, t.Key, t.RemovedAt, t.ShardID, t.Sequence, t.TTL)
}

// Clear forgets table's tombstones: a new copy starts without any.
func (tombstonesAccessor) Clear(ctx context.Context, q Querier, table string) error {
	_, err := q.Exec(ctx, `DELETE FROM ddbsync.tombstones WHERE table_name = $1`, table)
	return err
}
