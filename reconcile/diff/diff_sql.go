package diff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/store"
)

// comparison is the diff's comparison in store: its layout and scratch tables.
func (d *differ) comparison() store.Comparison {
	return store.Comparison{Layout: d.table.Layout, Table: d.cfg.Table, Source: d.source, Findings: d.findings}
}

// compare fills the findings table with a full outer join of the source
// and the copy, decides which findings are in flight, and counts them, all
// in one repeatable-read snapshot of the copy.
func (d *differ) compare(ctx context.Context) error {
	n, err := d.comparison().Build(ctx, d.pool, d.sum.Instant.Add(-d.cfg.InFlightWindow), d.sum.Instant)
	if err != nil {
		return err
	}
	d.sum.CopyRows, d.sum.InFlight = n.CopyRows, n.InFlight
	d.sum.Missing, d.sum.Extra, d.sum.Different = n.Missing, n.Extra, n.Different
	if d.cfg.Export != nil {
		return d.readImages(ctx)
	}
	return nil
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
	l := d.table.Layout
	cmp := d.comparison()

	tx, err := d.lockConn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if d.sum.SourceKind == string(reconcile.OriginScan) {
		if err := store.AllowOrigin(ctx, tx, l, reconcile.OriginScan); err != nil {
			return err
		}
	}
	// The source images are read on the pool, outside the transaction.
	if err := cmp.StageRepairs(ctx, d.pool, tx, reconcile.Provenance{Origin: store.Origin(d.sum.SourceKind), Time: d.sum.Instant}); err != nil {
		return err
	}
	written, err := cmp.WriteRepairs(ctx, tx)
	if err != nil {
		return err
	}
	if written != d.sum.Missing+d.sum.Different {
		return fmt.Errorf("wrote %d rows, expected %d missing and %d different", written, d.sum.Missing, d.sum.Different)
	}
	deleted, err := cmp.DeleteExtra(ctx, tx)
	if err != nil {
		return err
	}
	if deleted != d.sum.Extra {
		return fmt.Errorf("deleted %d rows, expected %d extra", deleted, d.sum.Extra)
	}
	if hist, err := store.History.Get(ctx, tx, d.cfg.Table); err != nil {
		return err
	} else if hist != nil {
		if err := cmp.RecordRepairHistory(ctx, tx, hist.From); err != nil {
			return err
		}
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

// report streams the findings to the report, one row at a time.
func (d *differ) report(ctx context.Context) error {
	r := d.cfg.Report
	if r == nil {
		return nil
	}
	if err := r.Begin(d.sum); err != nil {
		return err
	}
	if err := d.comparison().EachFinding(ctx, d.pool, int64(d.cfg.Limit), func(row store.FindingRow) error {
		f, err := d.finding(row)
		if err != nil {
			return err
		}
		return r.Finding(f)
	}); err != nil {
		return err
	}
	return r.End(d.sum)
}

func (d *differ) finding(row store.FindingRow) (Finding, error) {
	f := Finding{Kind: row.Kind, InFlight: row.InFlight}
	key, src, cp := row.Key, row.SourceItem, row.CopyItem
	origin, originTime, shard, seq := row.Origin, row.OriginTime, row.ShardID, row.Sequence
	removedAt, tombShard, tombSeq, tombTTL := row.RemovedAt, row.TombShardID, row.TombSequence, row.TombTTL
	f.Key = compact(json.RawMessage(key))
	f.Repaired = d.cfg.Repair && !f.InFlight && !d.skipped[key]
	if d.cfg.Repair && !f.InFlight && d.skipped[key] {
		f.RepairSkipped = RepairSkippedNewer
	}
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
