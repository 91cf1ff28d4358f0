package views

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/store"
)

// overlap is how far back of the last look [Refresh] reads again: a row's
// synced_at is its transaction's start, which may precede the look while
// the transaction commits after it. A page of stream changes commits in
// far less.
const overlap = time.Minute

// Refresh looks at the rows written since since (the server's clock), and
// when they bring an attribute, or a type, the table's views do not have
// yet, writes the views again with [Run] over a sample and those rows. It
// returns when to look from next time, and whether it wrote the views.
func Refresh(ctx context.Context, pool *pgxpool.Pool, cfg Config, since time.Time) (next time.Time, wrote bool, err error) {
	cfg = cfg.withDefaults()
	now, err := store.DatabaseNow(ctx, pool)
	if err != nil {
		return since, false, err
	}
	next = now.Add(-overlap)
	lt, err := reconcile.ReadLoadedTable(ctx, pool, cfg.Table)
	if err != nil {
		return since, false, err
	}
	prof, err := decodeItems(ctx, pool, lt.Layout, []store.ItemRead{{Since: since}})
	if err != nil {
		return since, false, err
	}
	if prof.rows == 0 {
		return next, false, nil
	}
	// The rows alone are too few for the rarity rule: every attribute they
	// show counts, and [Run] decides its type over the sample with them.
	stale := false
	for _, p := range plan(lt.Layout, cfg.Schema, prof, true, 0) {
		existing, exists, err := store.ViewColumns(ctx, pool, p.ident)
		if err != nil {
			return since, false, err
		}
		if !exists {
			stale = true
			break
		}
		_, added, widened, err := reconcileColumns(p, existing)
		if err != nil {
			return since, false, err
		}
		if len(added) > 0 || len(widened) > 0 {
			stale = true
			break
		}
	}
	if !stale {
		return next, false, nil
	}
	cfg.Since = since
	if _, err := Run(ctx, pool, cfg); err != nil {
		return since, false, err
	}
	return next, true, nil
}

// Keep keeps the table's views current until ctx ends, looking at the
// rows written every interval ([Refresh]). A failure is logged and
// tried again at the next look: the follower it runs beside goes on.
func Keep(ctx context.Context, pool *pgxpool.Pool, cfg Config, every time.Duration) {
	cfg = cfg.withDefaults()
	since, err := store.DatabaseNow(ctx, pool)
	if err != nil {
		since = time.Now()
	}
	since = since.Add(-overlap)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		next, wrote, err := Refresh(ctx, pool, cfg, since)
		if err != nil {
			if ctx.Err() == nil {
				cfg.Logger.Warn("keeping the typed views current", slog.String("table", cfg.Table), slog.String("error", err.Error()))
			}
			continue
		}
		if wrote {
			cfg.Logger.Info("typed views updated with what the stream brought", slog.String("table", cfg.Table))
		}
		since = next
	}
}
