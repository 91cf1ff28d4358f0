package follow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/store"
	"github.com/ddbsync/ddbsync/stream"
)

// applier writes stream changes into a data table: INSERT and MODIFY replace
// the whole row with the new image (never a merge: removed attributes must
// disappear), REMOVE deletes it. Safe for concurrent use.
type applier struct {
	layout    reconcile.Layout
	stage     pgx.Identifier // per-connection staging table for a page's new images
	createSQL string
	mergeSQL  string
	deleteSQL string
	lockSQL   string // the table's apply lock, shared: a repair beside the follower waits for the page

	// history records each change as a version; nil: the table keeps none.
	history *historyRecorder
}

func newApplier(l reconcile.Layout) *applier {
	return &applier{
		layout:    l,
		stage:     l.StageTable(),
		createSQL: l.CreateStageSQL(),
		mergeSQL:  l.UpsertSQL(l.StageTable()),
		deleteSQL: l.DeleteSQL(),
		lockSQL:   store.ApplyLockSharedSQL(l.Table),
	}
}

// pageUpdate is one shard's pages to apply (one or several read in a row):
// their changes and the checkpoint that covers them, written in one
// transaction.
type pageUpdate struct {
	table    string
	shardID  string
	pages    int // GetRecords pages the changes came in
	changes  []stream.Change
	position string // the page's resume position: last sequence number read
	finished bool
	first    time.Time // FirstRecordTime
	last     time.Time // creation time of the last record read
	// lease, in a shared follow, is the reader's lease of the shard: the
	// page commits only while it still holds (store.Leases.Fence), and
	// leaseIdle bounds how long the transaction may sit idle holding it.
	lease     *store.Lease
	leaseIdle time.Duration
}

// apply writes the page in one transaction: the rows and the shard's
// checkpoint together, so a crash loses or replays a whole page, never part
// of one, and a replayed page changes nothing. New images go through COPY
// into a staging table and one INSERT … ON CONFLICT, several times faster
// than a statement per row. A page with changes holds the table's apply
// lock shared ([store.ApplyLockSharedSQL]): a repair made beside the
// follower (diff --repair from a scan, follow --verify) never sees half a
// page, and whatever the page writes after it wins.
func (a *applier) apply(ctx context.Context, pool *pgxpool.Pool, u pageUpdate) (applied, ttl int64, err error) {
	ks := a.layout.Key
	changes := coalesce(ks, u.changes)
	enc := store.NewEncoder(a.layout, store.RowColumns)
	// One round trip for the rest once the new images are staged: they are
	// merged first (before the removes, as coalesce expects), then the
	// removes and tombstones, the versions, and the checkpoint.
	batch := &pgx.Batch{}
	merges := slices.ContainsFunc(changes, func(c stream.Change) bool { return c.EventName != stream.EventRemove })
	if merges {
		batch.Queue(a.mergeSQL)
	}
	var upserts [][]any
	for _, c := range changes {
		if c.EventName == stream.EventRemove {
			key, err := ks.KeyOf(c.Keys)
			if err != nil {
				return 0, 0, fmt.Errorf("shard %s seq %s: %w", u.shardID, c.SequenceNumber, err)
			}
			args := make([]any, len(a.layout.KeyColumns))
			if err := a.layout.KeyValues(key, args); err != nil {
				return 0, 0, fmt.Errorf("shard %s seq %s: %w", u.shardID, c.SequenceNumber, err)
			}
			batch.Queue(a.deleteSQL, args...)
			keyJSON, err := ddbjson.EncodeItem(key)
			if err != nil {
				return 0, 0, fmt.Errorf("shard %s seq %s: %w", u.shardID, c.SequenceNumber, err)
			}
			store.Tombstones.QueueRecord(batch, store.Tombstone{Table: u.table, Key: keyJSON, RemovedAt: c.ApproximateCreationTime,
				ShardID: u.shardID, Sequence: c.SequenceNumber, TTL: c.TTL})
			if c.TTL {
				ttl++
			}
			continue
		}
		vals, err := encodeChange(enc, c, reconcile.Provenance{Origin: reconcile.OriginStream, Time: c.ApproximateCreationTime,
			ShardID: u.shardID, Sequence: c.SequenceNumber})
		if err != nil {
			return 0, 0, fmt.Errorf("shard %s seq %s: %w", u.shardID, c.SequenceNumber, err)
		}
		upserts = append(upserts, vals)
	}
	var versions [][]any
	if a.history != nil && len(u.changes) > 0 {
		if versions, err = a.history.versions(u); err != nil {
			return 0, 0, err
		}
		batch.Queue(a.history.mergeSQL, a.history.from)
	}
	store.Shards.QueueAdvance(batch, store.Advance{Table: u.table, ShardID: u.shardID, Position: u.position, Finished: u.finished,
		Changes: int64(len(u.changes)), TTL: ttl, First: u.first, Last: u.last})

	// The transaction begins in the round trip that takes the lock and
	// makes the stage (no parameters: one simple query).
	var begin string
	switch {
	case merges:
		begin = "BEGIN; " + a.lockSQL + "; " + a.createSQL
	case len(changes) > 0:
		begin = "BEGIN; " + a.lockSQL
	}
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{BeginQuery: begin})
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if u.lease != nil {
		if err := store.Leases.Fence(ctx, tx, u.table, *u.lease, u.leaseIdle); err != nil {
			return 0, 0, err
		}
	}
	if merges {
		if _, err := tx.CopyFrom(ctx, a.stage, a.layout.Columns(), pgx.CopyFromRows(upserts)); err != nil {
			return 0, 0, err
		}
	}
	if len(versions) > 0 {
		if err := a.history.stageRows(ctx, tx, versions); err != nil {
			return 0, 0, err
		}
	}
	res := tx.SendBatch(ctx, batch)
	for range batch.Len() - 1 {
		if _, err := res.Exec(); err != nil {
			res.Close()
			return 0, 0, err
		}
	}
	var moved bool
	advanced := true
	if err := res.QueryRow().Scan(&moved); errors.Is(err, pgx.ErrNoRows) {
		advanced = false
	} else if err != nil {
		res.Close()
		return 0, 0, err
	}
	if err := res.Close(); err != nil {
		return 0, 0, err
	}
	if !advanced {
		// A retry of a page whose commit succeeded but was never
		// acknowledged finds the checkpoint already there: nothing to do.
		if already, err := store.Shards.AtPosition(ctx, tx, u.table, u.shardID, u.position); err == nil && already && !u.finished {
			return 0, 0, nil
		}
		return 0, 0, fmt.Errorf("shard %s: checkpoint not advanced (at or past %s already, or marked as a gap): %w",
			u.shardID, u.position, errCheckpointMoved)
	}
	if !moved && len(u.changes) > 0 {
		// The shard's last page, applied already by a follower whose commit
		// landed after this one read the checkpoint: only the finishing is
		// new. Writing the page again would record its history twice.
		if err := tx.Rollback(ctx); err != nil {
			return 0, 0, err
		}
		again := u
		again.changes = nil
		return a.apply(ctx, pool, again)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, 0, err
	}
	return int64(len(u.changes)), ttl, nil
}

// encodeChange returns the data table row of an Insert or Modify: the new
// image's own bytes when it came verbatim, else its encoding. The rows are
// kept until the COPY, so each is copied out of the encoder's buffers,
// which one encoder (and its digest's scratch) reuses from row to row.
func encodeChange(enc *store.Encoder, c stream.Change, p reconcile.Provenance) ([]any, error) {
	if c.NewImageText != "" {
		if vals, ok, err := enc.EncodeImage(c.NewImageText, c.Keys, p); ok || err != nil {
			return store.CopyRow(vals), err
		}
	}
	img, err := c.Image()
	if err != nil {
		return nil, err
	}
	vals, err := enc.Encode(img, p)
	if err != nil {
		return nil, err
	}
	return store.CopyRow(vals), nil
}

// errCheckpointMoved means another process advanced a shard's checkpoint.
var errCheckpointMoved = errors.New("another follower is writing this table")

// coalesce keeps, for each key, only the last change of the page, in page
// order. Changes to one key arrive in order within a shard, and each image
// is the whole item, so the last one alone decides the row.
func coalesce(key reconcile.KeySchema, changes []stream.Change) []stream.Change {
	if len(changes) < 2 {
		return changes
	}
	keys := make([]string, len(changes))
	last := make(map[string]int, len(changes))
	for i, c := range changes {
		k, err := keyString(key, c.Keys)
		if err != nil {
			// Undecodable key: keep the change; apply reports the error.
			k = fmt.Sprintf("\x00%d", i)
		}
		keys[i] = k
		last[k] = i
	}
	if len(last) == len(changes) {
		return changes
	}
	out := make([]stream.Change, 0, len(last))
	for i, c := range changes {
		if last[keys[i]] == i {
			out = append(out, c)
		}
	}
	return out
}

func keyString(key reconcile.KeySchema, keys ddbjson.Item) (string, error) {
	k, err := key.KeyOf(keys)
	if err != nil {
		return "", err
	}
	// The row is found by key equality in PostgreSQL, where a numeric key
	// compares as a number: "1" and "1.0" are one row, so they must be one
	// key here too, or a page could keep a change of each and apply them out
	// of order (new images are merged before removes).
	for name, v := range k {
		if n, ok := v.(*types.AttributeValueMemberN); ok {
			norm, err := ddbjson.NormalizeNumber(n.Value)
			if err != nil {
				return "", err
			}
			k[name] = &types.AttributeValueMemberN{Value: norm}
		}
	}
	b, err := ddbjson.EncodeItem(k)
	return string(b), err
}
