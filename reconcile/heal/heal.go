package heal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/load"
	"github.com/ddbsync/ddbsync/reconcile/store"
	"github.com/ddbsync/ddbsync/snapshot"
)

// Config configures [Run] (and, within [SyncConfig], [Sync]).
type Config struct {
	// Table is the DynamoDB table; its copy must have been loaded.
	Table string
	// API requests the exports (DescribeTable, DescribeContinuousBackups,
	// ExportTableToPointInTime, DescribeExport); S3 reads them. Required.
	API snapshot.ExportAPI
	S3  snapshot.S3API
	// Bucket and Prefix are where AWS writes the exports.
	Bucket, Prefix string
	// Skew is the replay margin (default [load.DefaultSkew]).
	Skew time.Duration
	// Poll is the wait between DescribeExport calls (default 10 s);
	// MaxWait bounds the wait for one export (0: only ctx does).
	Poll, MaxWait time.Duration
	// Workers is the number of data files staged at once.
	Workers int
	// LockTimeout is how long to wait for another ddbsync process to let
	// go of the table (0: [reconcile.DefaultLockTimeout]; negative: do not wait).
	LockTimeout time.Duration
	// Sleep waits d, or until ctx is done (default: the wall clock). Tests
	// give one that moves the emulator's clock.
	Sleep func(ctx context.Context, d time.Duration) error
	// Stats, when set, is updated as exports are applied.
	Stats *Stats
	// Logger receives lifecycle events and the exports' progress (default: discard).
	Logger *slog.Logger
}

// Stats are the running totals of a heal or a sync, safe to read while it runs.
type Stats struct {
	// Apply is the progress of the export being applied.
	Apply load.Stats
	// Exports and Changes count the incremental exports applied and their
	// changes; Rounds the sync rounds done.
	Exports, Changes, Rounds atomic.Int64
	watermarkNanos           atomic.Int64
}

// Watermark is the last W a sync published (zero if none).
func (s *Stats) Watermark() time.Time {
	if n := s.watermarkNanos.Load(); n != 0 {
		return time.Unix(0, n).UTC()
	}
	return time.Time{}
}

// Result describes a heal, or one round of a sync.
type Result struct {
	// From and To are the span the exports covered: from where the copy
	// was complete to the latest restorable instant.
	From, To time.Time
	// Windows are the exports' windows, in the order applied; Exports
	// their ARNs.
	Windows []snapshot.Window
	Exports []string
	// Changes, Upserted and Deleted sum the exports' changes and what they
	// wrote (Deleted includes the rows swept).
	Changes, Upserted, Deleted int64
	// AsOf is the copy's instant at the end.
	AsOf time.Time
	// NotYet is set when no export can be asked for yet (a sync round with
	// Once): the copy is complete to less than 15 minutes before the latest
	// restorable instant, or its instant is later. NextAt is then the
	// latest restorable instant an export needs.
	NotYet bool
	NextAt time.Time
}

func (c *Config) defaults() error {
	if c.API == nil || c.S3 == nil {
		return errors.New("heal: no DynamoDB or S3 client")
	}
	if c.Bucket == "" {
		return errors.New("heal: no S3 bucket for the exports")
	}
	if c.Skew <= 0 {
		c.Skew = load.DefaultSkew
	}
	if c.Poll <= 0 {
		c.Poll = 10 * time.Second
	}
	if c.Sleep == nil {
		c.Sleep = sleep
	}
	if c.Stats == nil {
		c.Stats = &Stats{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run heals the table's copy: it applies incremental exports of every
// write from where the copy is complete to the latest restorable instant,
// and leaves the table ready to follow (from the last export's end minus
// the replay margin, with the coverage proof of a first follow). A gap
// shorter than the 15 minutes an export needs is waited out. It refuses
// with [snapshot.ErrPITRDisabled] when point-in-time recovery is off, and
// with a [*reconcile.PITRGapError] when it does not reach back to the gap's
// start. Interrupted, it can be run again: an export already applied is
// not asked for again, one already requested is found by its client token,
// and one half applied resumes ([load.RunIncremental]).
func Run(ctx context.Context, pool *pgxpool.Pool, cfg Config) (Result, error) {
	if err := cfg.defaults(); err != nil {
		return Result{}, err
	}
	lock, err := store.LockTables(ctx, pool, store.LockWait(cfg.LockTimeout), cfg.Table, store.LockLoad, store.LockFollow)
	if err != nil {
		return Result{}, err
	}
	defer lock.Release(ctx)
	return round(ctx, pool, cfg, false, true)
}

// round applies the exports from where the copy is complete to the latest
// restorable instant, publishing W after each with publishW (sync). When
// the span is shorter than 15 minutes it waits (wait) or returns NotYet.
// The caller holds the table's locks.
func round(ctx context.Context, pool *pgxpool.Pool, cfg Config, publishW, wait bool) (Result, error) {
	log := cfg.Logger.With(slog.String("table", cfg.Table))
	var res Result
	for {
		cov, err := reconcile.ReadCoverage(ctx, pool, cfg.Table)
		if err != nil {
			return res, err
		}
		res.AsOf = cov.AsOf()
		if publishW && cov.Watermark != nil {
			cfg.Stats.watermarkNanos.Store(cov.Watermark.UnixNano())
		}
		pitr, err := snapshot.ReadPITR(ctx, cfg.API, cfg.Table)
		if err != nil {
			return res, err
		}
		// Whole seconds: from rounded down (earlier is covered), to down too
		// (the window may not end after the latest restorable instant).
		from := truncDown(cov.Complete(cfg.Skew))
		to := truncDown(pitr.Latest)
		if from.Before(pitr.Earliest) {
			return res, &reconcile.PITRGapError{Table: cfg.Table, From: from, Earliest: pitr.Earliest}
		}
		res.From, res.To = from, to
		windows := snapshot.IncrementalWindows(from, to)
		if windows != nil && to.After(res.AsOf) {
			return apply(ctx, pool, cfg, log, pitr, windows, publishW, res)
		}
		// Too soon: an export needs 15 minutes since where the copy is
		// complete, and must end after the copy's instant, on the table's
		// clock (the latest restorable instant).
		res.NotYet, res.NextAt = true, from.Add(snapshot.MinIncrementalWindow)
		if next := res.AsOf.Add(time.Second); next.After(res.NextAt) {
			res.NextAt = truncDown(next)
		}
		if !wait {
			return res, nil
		}
		d := res.NextAt.Sub(to)
		log.Info("the copy is too close to the latest restorable instant for an export; waiting",
			slog.Time("complete_before", from), slog.Time("latest_restorable", to), slog.Duration("wait", d))
		if err := cfg.Sleep(ctx, d); err != nil {
			return res, err
		}
	}
}

func apply(ctx context.Context, pool *pgxpool.Pool, cfg Config, log *slog.Logger, pitr snapshot.PITR,
	windows []snapshot.Window, publishW bool, res Result) (Result, error) {
	log.Info("exporting the changes", slog.Time("from", res.From), slog.Time("to", res.To), slog.Int("exports", len(windows)))
	for i, w := range windows {
		wlog := log.With(slog.Int("export", i+1), slog.Int("of", len(windows)), slog.Time("from", w.From), slog.Time("to", w.To))
		uri, err := snapshot.RequestIncrementalExport(ctx, cfg.API, snapshot.IncrementalRequest{
			Table: cfg.Table, TableArn: pitr.TableArn, Bucket: cfg.Bucket, Prefix: cfg.Prefix,
			From: w.From, To: w.To, View: snapshot.ViewNewImage, Poll: cfg.Poll, MaxWait: cfg.MaxWait,
			Progress: func(st types.ExportStatus, elapsed time.Duration) {
				wlog.Info("incremental export", slog.String("status", string(st)), slog.Duration("elapsed", elapsed.Round(time.Second)))
			},
		})
		if err != nil {
			return res, err
		}
		src, err := snapshot.NewS3Source(cfg.S3, uri)
		if err != nil {
			return res, err
		}
		exp, err := snapshot.OpenIncremental(ctx, src)
		if err != nil {
			return res, fmt.Errorf("reading incremental export %s: %w", uri, err)
		}
		r, err := load.RunIncremental(ctx, pool, exp, load.IncrementalConfig{Table: cfg.Table, Skew: cfg.Skew,
			Workers: cfg.Workers, Stats: &cfg.Stats.Apply, Logger: cfg.Logger, LocksHeld: true, PublishWatermark: publishW})
		if err != nil {
			return res, err
		}
		res.Windows = append(res.Windows, w)
		res.Exports = append(res.Exports, exp.ID())
		res.Changes += r.Changes
		res.Upserted += r.Applied.Upserted
		res.Deleted += r.Applied.Deleted + r.Applied.Swept
		cfg.Stats.Exports.Add(1)
		cfg.Stats.Changes.Add(r.Changes)
		if !r.Unchanged {
			res.AsOf = r.To
		}
		if publishW {
			cfg.Stats.watermarkNanos.Store(res.AsOf.UnixNano())
		}
		wlog.Info("applied", slog.String("export_arn", exp.ID()), slog.Int64("changes", r.Changes),
			slog.Int64("upserted", r.Applied.Upserted), slog.Int64("deleted", r.Applied.Deleted+r.Applied.Swept))
	}
	return res, nil
}

func truncDown(t time.Time) time.Time { return t.Truncate(time.Second) }
