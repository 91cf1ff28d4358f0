package diff

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/store"
	"github.com/ddbsync/ddbsync/stream"
)

// A repair from a live scan runs beside the table's follower, which keeps
// writing the copy; it never takes the follow lock. What makes it safe:
//
//   - The scan reads every item at some moment of [I, E] (its start and
//     end). Before comparing, the diff waits for the follower's W to pass
//     E + skew: every change the scan could have seen, whatever the clocks'
//     skew and the stream's rounding, is then in the copy.
//   - The comparison skips keys whose row changed at or after I − skew (in
//     flight). A key it finds inconsistent changed in DynamoDB before
//     I − skew at the latest, so the scan's image is its state, which every
//     change the follower will still apply supersedes: those were created
//     at or after W ≥ E + skew, after the scan read the key.
//   - Each key is written with a compare-and-set on its row as the
//     comparison saw it ([store.Layout.QueueCASRepair]): a key the
//     follower wrote since is left alone, its stream image being newer
//     (skipped, and counted). The follower's writes are unconditional, so
//     whatever it applies after the repair wins.
//   - A repair transaction and a page of stream changes never interleave
//     (the apply lock, store/apply_lock.go).
//
// A repair from an export keeps the follow lock: an export is as of one
// instant, which a running follower has long passed.

// liveRepairBatch is how many keys one repair transaction writes.
const liveRepairBatch = 200

// RepairSkippedNewer is why a finding was not repaired beside a running
// follower ([Finding.RepairSkipped]).
const RepairSkippedNewer = "changed by the stream since the compare: the stream's image is newer"

// liveRepair says whether this diff repairs beside a running follower.
func (d *differ) liveRepair() bool { return d.cfg.Repair && d.cfg.Scan != nil }

// checkFollowerRunning refuses a repair from a scan, before it scans,
// when no follower of the table is running: the copy could never catch up
// with the scan's end.
func (d *differ) checkFollowerRunning(ctx context.Context) error {
	if !d.liveRepair() {
		return nil
	}
	held, err := store.Held(ctx, d.lockConn, store.LockFollow, d.cfg.Table)
	if err != nil {
		return fmt.Errorf("looking for a running follower: %w", err)
	}
	if !held {
		return fmt.Errorf("%w: a repair from a scan is written beside a running follower of %s, and none is running, "+
			"so the copy cannot catch up with the scan", reconcile.ErrNotCaughtUp, d.cfg.Table)
	}
	return nil
}

// waitScanCaughtUp waits for W to pass the scan's end E; for a repair, E
// plus the skew, allowing WatermarkWait plus the skew for it.
func (d *differ) waitScanCaughtUp(ctx context.Context) error {
	end := *d.sum.ScanEnd
	if !d.liveRepair() {
		return d.waitCaughtUp(ctx, end)
	}
	target := end.Add(d.cfg.InFlightWindow)
	deadline := time.Now().Add(d.cfg.WatermarkWait + d.cfg.InFlightWindow)
	for {
		err := d.checkCaughtUp(ctx, target)
		if err == nil || !errors.Is(err, reconcile.ErrNotCaughtUp) {
			return err
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("%w (the scan ran from %s to %s; a repair waits for the watermark to pass the scan's end plus "+
				"the skew, %s, so that every change the scan could have seen is in the copy, and a follower must keep "+
				"running meanwhile)", err, fmtTime(d.sum.Instant), fmtTime(end), d.cfg.InFlightWindow)
		}
		select {
		case <-time.After(d.cfg.WatermarkPoll):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// repairLive writes the scan's images for the findings that are not in
// flight, a batch of keys per transaction, each with a compare-and-set,
// and records each write in ddbsync.repairs.
func (d *differ) repairLive(ctx context.Context) error {
	d.sum.Repair = &RepairCounts{}
	if d.sum.Inconsistencies() == 0 {
		return nil
	}
	if d.cfg.beforeLiveRepair != nil {
		d.cfg.beforeLiveRepair()
	}
	l := d.table.Layout
	if err := store.AllowOrigin(ctx, d.pool, l, reconcile.OriginScan); err != nil {
		return err
	}
	prov := reconcile.Provenance{Origin: reconcile.OriginScan, Time: d.sum.Instant}
	d.skipped = map[string]bool{}
	batch := make([]store.RepairCandidate, 0, liveRepairBatch)
	err := d.comparison().EachRepairCandidate(ctx, d.pool, func(c store.RepairCandidate) error {
		if batch = append(batch, c); len(batch) == liveRepairBatch {
			err := d.writeLiveBatch(ctx, batch, prov)
			batch = batch[:0]
			return err
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = d.writeLiveBatch(ctx, batch, prov)
	}
	if err != nil {
		return err
	}
	if r := d.sum.Repair; r.Inserted+r.Updated+r.Deleted+r.Skipped != d.sum.Inconsistencies() {
		return fmt.Errorf("repaired %d and skipped %d keys of %d inconsistencies", r.Inserted+r.Updated+r.Deleted, r.Skipped,
			d.sum.Inconsistencies())
	}
	if n := d.sum.Repair.Skipped; n > 0 {
		d.log.Info("keys not repaired: "+RepairSkippedNewer, slog.Int64("skipped", n))
	}
	return nil
}

// writeLiveBatch writes one batch in one transaction holding the apply
// lock, retrying it while the database is away (or picks it to break a
// deadlock), and counts what it wrote and skipped.
func (d *differ) writeLiveBatch(ctx context.Context, batch []store.RepairCandidate, prov reconcile.Provenance) error {
	l := d.table.Layout
	hist, err := store.History.Get(ctx, d.pool, d.cfg.Table)
	if err != nil {
		return fmt.Errorf("reading the history setting: %w", err)
	}
	repairs := make([]store.CASRepair, len(batch))
	for i, c := range batch {
		key, err := ddbjson.DecodeItem(c.Key)
		if err != nil {
			return fmt.Errorf("decoding key %s: %w", c.Key, err)
		}
		r := store.CASRepair{Table: d.cfg.Table, Key: key, Kind: c.Kind, Seen: c.Seen, Prov: prov, DiffID: d.sum.DiffID,
			History: hist != nil}
		if c.Kind != KindExtra {
			if r.Image, err = ddbjson.DecodeItem(c.Image); err != nil {
				return fmt.Errorf("key %s: decoding the source's image: %w", c.Key, err)
			}
		}
		repairs[i] = r
	}
	backoff := stream.Backoff{Base: 50 * time.Millisecond, Cap: 5 * time.Second}
	for attempt := 0; ; attempt++ {
		wrote, err := d.casTx(ctx, l, repairs)
		if err == nil {
			for i, ok := range wrote {
				switch {
				case !ok:
					d.sum.Repair.Skipped++
					d.skipped[string(batch[i].Key)] = true
				case batch[i].Kind == KindMissing:
					d.sum.Repair.Inserted++
				case batch[i].Kind == KindDifferent:
					d.sum.Repair.Updated++
				default:
					d.sum.Repair.Deleted++
				}
			}
			return nil
		}
		if !reconcile.Retryable(err) || attempt >= 9 || ctx.Err() != nil {
			return err
		}
		delay := backoff.Delay(attempt, func(m time.Duration) time.Duration { return rand.N(m + 1) })
		d.log.Warn("repair batch failed; retrying", slog.Int("attempt", attempt+1), slog.Duration("delay", delay),
			slog.String("error", err.Error()))
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// casTx runs repairs in one transaction and says which wrote.
func (d *differ) casTx(ctx context.Context, l reconcile.Layout, repairs []store.CASRepair) ([]bool, error) {
	b := &pgx.Batch{}
	for _, r := range repairs {
		if err := l.QueueCASRepair(b, r); err != nil {
			return nil, err
		}
	}
	wrote := make([]bool, len(repairs))
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		if err := store.LockApplyExclusive(ctx, tx, d.cfg.Table); err != nil {
			return err
		}
		res := tx.SendBatch(ctx, b)
		for i := range repairs {
			tag, err := res.Exec()
			if err != nil {
				res.Close()
				return err
			}
			wrote[i] = tag.RowsAffected() == 1
		}
		return res.Close()
	})
	return wrote, err
}
