package diff

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/store"
)

// The copy must have caught up with the source's instant before a diff
// means anything: the checks and the wait for the watermark W.

// watermark reads the copy's W (nil before any follow published one).
func (d *differ) watermark(ctx context.Context) (*time.Time, error) {
	return store.Streams.Watermark(ctx, d.pool, d.cfg.Table)
}

// checkCaughtUp makes sure the copy reflects every change before at: its
// W is at or after at, or it was loaded from an export at that very instant.
func (d *differ) checkCaughtUp(ctx context.Context, at time.Time) error {
	t := d.table.ExportTime
	if t.Sub(at) > time.Microsecond {
		return fmt.Errorf("the source's instant %s is before the copy's own export time %s: diff against a newer source",
			fmtTime(at), fmtTime(t))
	}
	w, err := d.watermark(ctx)
	if err != nil {
		return fmt.Errorf("reading the watermark: %w", err)
	}
	d.sum.Watermark = w
	if sameInstant(t, at) {
		return nil
	}
	if w == nil || w.Before(at) {
		have := "no watermark yet"
		if w != nil {
			have = "watermark " + fmtTime(*w)
		}
		return fmt.Errorf("%w: the copy of %s has %s, the source is as of %s; the copy must catch up first",
			reconcile.ErrNotCaughtUp, d.cfg.Table, have, fmtTime(at))
	}
	return nil
}

// checkFollowed refuses a scan diff before it reads anything when no
// follow ever published a watermark: the scan could never be compared.
func (d *differ) checkFollowed(ctx context.Context) error {
	w, err := d.watermark(ctx)
	if err != nil {
		return fmt.Errorf("reading the watermark: %w", err)
	}
	if w == nil {
		return fmt.Errorf("%w: the copy of %s has no watermark yet, so it cannot be compared with a live scan, "+
			"which needs a follower running while it scans", reconcile.ErrNotCaughtUp, d.cfg.Table)
	}
	return nil
}

// waitCaughtUp waits up to WatermarkWait for W to reach at (a scan's end:
// items were read until then, so every change before it must be in the
// copy or in flight).
func (d *differ) waitCaughtUp(ctx context.Context, at time.Time) error {
	deadline := time.Now().Add(d.cfg.WatermarkWait)
	for {
		err := d.checkCaughtUp(ctx, at)
		if err == nil || !errors.Is(err, reconcile.ErrNotCaughtUp) || !time.Now().Before(deadline) {
			if err != nil && errors.Is(err, reconcile.ErrNotCaughtUp) {
				return fmt.Errorf("%w (the scan ran from %s to %s, and a follower must keep running during a scan diff)",
					err, fmtTime(d.sum.Instant), fmtTime(at))
			}
			return err
		}
		select {
		case <-time.After(d.cfg.WatermarkPoll):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func sameInstant(a, b time.Time) bool {
	return a.Truncate(time.Microsecond).Equal(b.Truncate(time.Microsecond))
}

func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
