package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/ddbsync/ddbsync/internal/metrics"
	"github.com/ddbsync/ddbsync/reconcile/heal"
	"github.com/ddbsync/ddbsync/snapshot"
)

type syncFlags struct {
	incrementalFlags
	every       time.Duration
	everySet    bool
	once        bool
	metricsAddr string
	readyLag    time.Duration
}

func newSyncCmd(g *globals) *cobra.Command {
	var f syncFlags
	cmd := &cobra.Command{
		Use:   "sync --table NAME --s3 s3://bucket/prefix [--every 1h] [--once] | --config FILE",
		Short: "Keep tables without a stream current with incremental exports alone",
		Long: `sync keeps a loaded copy current without a stream: every --every it asks for an incremental export
(ExportType INCREMENTAL_EXPORT) of the writes since the copy's instant, up to the latest restorable
instant, applies it as load does, and publishes the watermark W = the export's end: every change
made before W is in the copy. An export covers at least 15 minutes: a round that comes sooner
waits (with --once it does nothing). It runs until stopped (SIGINT or SIGTERM stop it cleanly,
exit 0), or for one round with --once (for cron and tests).

With --config and no --table, one process keeps every table of the file that sets sync_every.`,
		Example: `  ddbsync sync --table Orders --s3 s3://council-exports/orders --every 1h
  ddbsync sync --table Orders --s3 s3://council-exports/orders --once
  ddbsync sync --config ddbsync.yaml --metrics-addr :9090`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.everySet = cmd.Flags().Changed("every")
			if !cmd.Flags().Changed("metrics-addr") && f.metricsAddr == "" && g.config != nil {
				f.metricsAddr = g.config.MetricsAddr
			}
			if !cmd.Flags().Changed("ready-lag") && g.config != nil && g.config.ReadyLag > 0 {
				f.readyLag = g.config.ReadyLag
			}
			err := runSync(cmd.Context(), g, f)
			if errors.Is(err, context.Canceled) && cmd.Context().Err() != nil {
				return nil // a requested stop is a clean stop
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.table, "table", "", "DynamoDB table name (default with --config: every table of the file that sets sync_every)")
	f.add(fl)
	fl.DurationVar(&f.every, "every", heal.DefaultEvery, "time from the start of one round to the next (at least 15m; default with --config: each table's sync_every)")
	fl.BoolVar(&f.once, "once", false, "run one round and exit (nothing to do when the copy is less than 15 minutes behind)")
	fl.StringVar(&f.metricsAddr, "metrics-addr", os.Getenv("DDBSYNC_METRICS_ADDR"), "serve /metrics, /healthz and /readyz on this address, e.g. :9090 (env DDBSYNC_METRICS_ADDR)")
	fl.DurationVar(&f.readyLag, "ready-lag", time.Minute, "/readyz answers 200 while every table's watermark is within its interval plus this of now")
	return cmd
}

// checkSyncEvery checks a sync interval: at least the 15 minutes an
// incremental export covers (0 is unset where unset is allowed).
func checkSyncEvery(d time.Duration, unsetOK bool) error {
	if d == 0 && unsetOK {
		return nil
	}
	if d < snapshot.MinIncrementalWindow {
		return fmt.Errorf("%s is shorter than the %s an incremental export covers", d, snapshot.MinIncrementalWindow)
	}
	return nil
}

func runSync(ctx context.Context, g *globals, f syncFlags) error {
	if f.readyLag <= 0 {
		return usageErrorf("--ready-lag must be positive")
	}
	if err := checkSyncEvery(f.every, false); err != nil {
		return usageErrorf("--every %v", err)
	}
	var tables []tableConfig
	if f.table != "" {
		tables = []tableConfig{g.config.table(f.table)}
	} else if g.config != nil {
		for _, t := range g.config.Tables {
			if t.SyncEvery > 0 {
				tables = append(tables, t)
			}
		}
	}
	if len(tables) == 0 {
		return usageErrorf("--table is required (or a --config file whose tables set sync_every)")
	}
	if f.s3 != "" && len(tables) > 1 {
		return usageErrorf("--s3 needs --table: with --config, each table's s3 says where its exports go")
	}
	pool, err := g.connect(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	cfgs := make([]heal.SyncConfig, len(tables))
	for i, t := range tables {
		c, err := f.config(ctx, g, t)
		if err != nil {
			return err
		}
		every := f.every
		if !f.everySet && t.SyncEvery > 0 {
			every = t.SyncEvery
		}
		cfgs[i] = heal.SyncConfig{Config: c, Every: every, Once: f.once}
	}
	reg := metrics.NewRegistry()
	for _, c := range cfgs {
		reg.Sync(c.Table, c.Stats, c.Every)
	}
	if f.metricsAddr != "" {
		addr, err := reg.Serve(ctx, f.metricsAddr, f.readyLag, g.logger)
		if err != nil {
			return err
		}
		g.logger.Info("serving metrics", "addr", addr)
	}

	var mu sync.Mutex // the tables' lines go to one stdout
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(g.stdout, format, args...)
	}
	errs := make([]error, len(cfgs))
	var wg sync.WaitGroup
	for i, c := range cfgs {
		c.OnRound = func(r heal.Result) {
			say("%s: watermark %s: every change made before it is in the copy (%d exports, %d changes: %d rows written, %d deleted)\n",
				c.Table, fmtUTC(r.AsOf), len(r.Exports), r.Changes, r.Upserted, r.Deleted)
		}
		c.OnNotYet = func(r heal.Result) {
			if f.once {
				say("%s: the copy is as of %s; no incremental export is possible until the latest restorable instant reaches %s "+
					"(an export covers at least %s); nothing to do\n", c.Table, fmtUTC(r.AsOf), fmtUTC(r.NextAt), snapshot.MinIncrementalWindow)
			}
		}
		wg.Go(func() {
			errs[i] = heal.Sync(ctx, pool, c)
			if errs[i] != nil && len(cfgs) > 1 {
				g.logger.Error("sync stopped", "table", c.Table, "error", errs[i].Error())
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
