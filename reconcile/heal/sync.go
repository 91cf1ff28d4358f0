package heal

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/store"
)

// DefaultEvery is how often [Sync] exports the changes, by default.
const DefaultEvery = time.Hour

// SyncConfig configures [Sync].
type SyncConfig struct {
	Config
	// Every is the time from the start of one round to the start of the
	// next (default [DefaultEvery]; at least the 15 minutes an incremental
	// export needs).
	Every time.Duration
	// Once runs one round and returns; when no export is possible yet
	// (the copy is less than 15 minutes behind), it does nothing rather
	// than wait.
	Once bool
	// OnNotYet, when set, is called when a round found no export possible.
	OnNotYet func(Result)
	// Rounds, when positive, stops after that many rounds (tests).
	Rounds int
	// OnRound, when set, is called after each round.
	OnRound func(Result)
}

// Sync keeps the table's copy current with incremental exports alone, for
// a table without a stream: each round exports the writes from the copy's
// instant T (exact after the first round) to the latest restorable
// instant (several exports after a long pause), applies them and publishes
// W = the last export's end, every change before it in the copy. A round
// that finds the copy less than 15 minutes behind waits for an export to
// be possible. Between rounds it holds no lock: a diff, a follow or a load
// may run. It stops when ctx is done (returning nil: a clean stop), after
// one round with Once, or at the first error of a round other than a lost
// database connection, which the next round retries.
func Sync(ctx context.Context, pool *pgxpool.Pool, cfg SyncConfig) error {
	if err := cfg.defaults(); err != nil {
		return err
	}
	if cfg.Every <= 0 {
		cfg.Every = DefaultEvery
	}
	log := cfg.Logger.With(slog.String("table", cfg.Table))
	for n := 1; ; n++ {
		start := time.Now()
		res, err := syncRound(ctx, pool, cfg)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && !cfg.Once && reconcile.Retryable(err):
			log.Warn("sync round failed; retrying at the next round", slog.String("error", err.Error()))
		case err != nil:
			return err
		case res.NotYet:
			if cfg.OnNotYet != nil {
				cfg.OnNotYet(res)
			}
		default:
			cfg.Stats.Rounds.Add(1)
			if cfg.OnRound != nil {
				cfg.OnRound(res)
			}
		}
		notYet := err == nil && res.NotYet
		if notYet {
			n-- // not a round
		}
		if cfg.Once || (cfg.Rounds > 0 && n >= cfg.Rounds) {
			return nil
		}
		wait := max(0, cfg.Every-time.Since(start))
		if notYet {
			// Too soon for an export: wait for one to be possible, not a
			// whole interval.
			wait = res.NextAt.Sub(res.To)
			log.Info("the copy is too close to the latest restorable instant for an export; waiting",
				slog.Time("latest_restorable", res.To), slog.Duration("wait", wait))
		}
		if err := cfg.Sleep(ctx, wait); err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return nil
			}
			return err
		}
	}
}

// syncRound runs one round under the table's load and follow locks.
func syncRound(ctx context.Context, pool *pgxpool.Pool, cfg SyncConfig) (Result, error) {
	lock, err := store.LockTables(ctx, pool, store.LockWait(cfg.LockTimeout), cfg.Table, store.LockLoad, store.LockFollow)
	if err != nil {
		return Result{}, err
	}
	defer lock.Release(ctx)
	res, err := round(ctx, pool, cfg.Config, true, false)
	if err != nil {
		return res, err
	}
	if !res.NotYet {
		cfg.Logger.Info("sync round done", slog.String("table", cfg.Table), slog.Int("exports", len(res.Exports)),
			slog.Int64("changes", res.Changes), slog.Time("watermark", res.AsOf))
	}
	return res, nil
}
