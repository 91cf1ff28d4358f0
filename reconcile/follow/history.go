package follow

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/store"
	"github.com/ddbsync/ddbsync/stream"
)

// pruneEvery is how often a follower applies the history's retention: a
// version outlives it by at most this much.
const pruneEvery = time.Hour

// historyRecorder records every change of a page as a version in the
// table's history, inside the page's transaction: each one, in sequence
// order, not the page's coalesced last change per key.
type historyRecorder struct {
	layout    reconcile.Layout
	from      time.Time // the history's start T: no version starts before it
	stage     pgx.Identifier
	columns   []string
	createSQL string
	mergeSQL  string
}

func newHistoryRecorder(l reconcile.Layout, from time.Time) *historyRecorder {
	return &historyRecorder{layout: l, from: from, stage: l.HistoryStage(), columns: l.HistoryStageColumns(),
		createSQL: l.CreateHistoryStageSQL(), mergeSQL: l.MergeHistorySQL()}
}

// versions returns the staged rows of the page's changes, in page order
// (a shard's order is its sequence order).
func (h *historyRecorder) versions(u pageUpdate) ([][]any, error) {
	rows := make([][]any, 0, len(u.changes))
	for i, c := range u.changes {
		key, err := h.layout.Key.KeyOf(c.Keys)
		if err != nil {
			return nil, fmt.Errorf("shard %s seq %s: %w", u.shardID, c.SequenceNumber, err)
		}
		var item []byte
		op := store.HistoryRemove
		switch {
		case c.EventName != stream.EventRemove:
			if item, err = losslessItem(c); err != nil {
				return nil, fmt.Errorf("shard %s seq %s: %w", u.shardID, c.SequenceNumber, err)
			}
			op = store.HistoryModify
			if c.EventName == stream.EventInsert {
				op = store.HistoryInsert
			}
		case c.TTL:
			op = store.HistoryTTLRemove
		}
		row, err := h.layout.HistoryRow(key, int64(i), c.ApproximateCreationTime, op, item, u.shardID, c.SequenceNumber)
		if err != nil {
			return nil, fmt.Errorf("shard %s seq %s: %w", u.shardID, c.SequenceNumber, err)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// stage copies rows into the connection's history stage, in tx.
func (h *historyRecorder) stageRows(ctx context.Context, tx pgx.Tx, rows [][]any) error {
	if _, err := tx.Exec(ctx, h.createSQL); err != nil {
		return err
	}
	_, err := tx.CopyFrom(ctx, h.stage, h.columns, pgx.CopyFromRows(rows))
	return err
}

// startHistory turns history on for a table that has it off, when the
// follow asks for it: its rows become the versions at T. That is true only
// while the copy is still the export, so a copy the stream (or a repair, or
// an incremental export) has changed is refused: load it again with
// history on. It then applies the retention asked for, and returns the
// table's history (nil: off).
func (f *follower) startHistory(ctx context.Context) (*store.HistorySetting, error) {
	l := f.table.Layout
	if f.cfg.History {
		err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
			if err := store.LockApplyExclusive(ctx, tx, f.cfg.Table); err != nil {
				return err
			}
			on, err := store.History.Get(ctx, tx, f.cfg.Table)
			if err != nil || on != nil {
				return err
			}
			changed, err := store.ChangedSinceExport(ctx, tx, l)
			if err != nil {
				return err
			}
			if changed {
				return &reconcile.TableError{Table: f.cfg.Table, Err: fmt.Errorf(
					"%w: history is off and the copy has changed since its export", reconcile.ErrHistoryUnknown)}
			}
			f.log.Info("history on from the export's time", slog.Time("from", f.table.ExportTime))
			return store.StartHistory(ctx, tx, l, f.table.ExportTime, f.cfg.HistoryRetention)
		})
		if err != nil {
			return nil, err
		}
	}
	if f.cfg.HistoryRetention > 0 {
		if err := store.History.SetRetention(ctx, f.pool, f.cfg.Table, f.cfg.HistoryRetention); err != nil {
			return nil, err
		}
	}
	return store.History.Get(ctx, f.pool, f.cfg.Table)
}

// pruneHistory applies the history's retention when it is due.
func (f *follower) pruneHistory(ctx context.Context) error {
	if f.apply.history == nil || time.Since(f.prunedAt) < pruneEvery {
		return nil
	}
	f.prunedAt = time.Now()
	n, err := store.PruneHistory(ctx, f.pool, f.table.Layout)
	if err != nil {
		return err
	}
	if n > 0 {
		f.log.Info("history pruned", slog.Int64("versions", n))
	}
	return nil
}

// losslessItem is a change's new image in the lossless form the data table
// stores, so that a version and the row it became compare equal: the text
// as it came when the decoder found it verbatim (that form already), else
// its encoding. (Not the data table's row: that would compute a digest the
// history has no use for.)
func losslessItem(c stream.Change) ([]byte, error) {
	if c.NewImageText != "" {
		return []byte(c.NewImageText), nil
	}
	img, err := c.Image()
	if err != nil {
		return nil, err
	}
	return ddbjson.EncodeItem(img)
}
