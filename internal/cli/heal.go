package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ddbsync/ddbsync/reconcile/follow"
	"github.com/ddbsync/ddbsync/reconcile/heal"
	"github.com/ddbsync/ddbsync/reconcile/load"
	"github.com/ddbsync/ddbsync/snapshot"
)

// incrementalFlags are the flags of the commands that request incremental
// exports: heal and sync.
type incrementalFlags struct {
	table       string
	s3          string
	poll        time.Duration
	wait        time.Duration
	skew        time.Duration
	workers     int
	lockTimeout time.Duration
}

func (f *incrementalFlags) add(fl *pflag.FlagSet) {
	fl.StringVar(&f.s3, "s3", "", "where AWS writes the incremental exports: s3://bucket/prefix (default with --config: the table's s3)")
	fl.DurationVar(&f.poll, "poll", 10*time.Second, "wait between export status checks")
	fl.DurationVar(&f.wait, "wait", 6*time.Hour, "give up waiting for one export after this long (it goes on in AWS; run again to pick it up)")
	fl.DurationVar(&f.skew, "skew", load.DefaultSkew, "the replay margin: a followed copy is complete up to its watermark minus this")
	fl.IntVar(&f.workers, "workers", 0, "data files staged at once (default: twice the CPUs, at least 4)")
	addLockTimeoutFlag(fl, &f.lockTimeout)
}

// config is the library's configuration for table t, with its clients.
func (f incrementalFlags) config(ctx context.Context, g *globals, t tableConfig) (heal.Config, error) {
	uri := f.s3
	if uri == "" {
		uri = t.S3
	}
	if uri == "" {
		return heal.Config{}, usageErrorf("--s3 is required: where AWS writes the incremental exports of %s (s3://bucket/prefix)", t.Name)
	}
	bucket, prefix, err := snapshot.ParseS3URI(uri)
	if err != nil {
		return heal.Config{}, usageError{err}
	}
	if f.poll <= 0 || f.wait <= 0 || f.skew <= 0 {
		return heal.Config{}, usageErrorf("--poll, --wait and --skew must be positive")
	}
	awsCfg, err := g.awsConfig(ctx)
	if err != nil {
		return heal.Config{}, err
	}
	return heal.Config{Table: t.Name, API: g.dynamodbClient(awsCfg), S3: g.s3Client(awsCfg), Bucket: bucket, Prefix: prefix,
		Skew: f.skew, Poll: f.poll, MaxWait: f.wait, Workers: f.workers, LockTimeout: lockTimeout(f.lockTimeout),
		Stats: &heal.Stats{}, Logger: g.logger}, nil
}

type healFlags struct {
	incrementalFlags
	progress string
}

func newHealCmd(g *globals) *cobra.Command {
	var f healFlags
	cmd := &cobra.Command{
		Use:   "heal --table NAME --s3 s3://bucket/prefix",
		Short: "Recover a copy that following can no longer complete, with incremental exports instead of a full one",
		Long: `heal fills the gap a follow refused at (the stream's retention passed, a trimmed shard, a
follower away over 24 hours, a replaced stream) with incremental exports (ExportType
INCREMENTAL_EXPORT, from point-in-time recovery): from where the copy is complete (its export time,
or its watermark minus --skew) to the latest restorable instant, in windows of at most 24 hours
and at least 15 minutes. It waits for each export with progress, verifies it and applies it, in
order, as load does an incremental export; the table is then ready for ddbsync follow, which
replays from the last export's end minus 5 minutes.

It refuses when point-in-time recovery is off or does not reach back to the start of the gap:
only a new full export can restore such a copy. Interrupted, run it again: what was applied
stays, and an export already requested is found again.`,
		Example: `  ddbsync heal --table TenureInformation --s3 s3://council-exports/tenure
  ddbsync heal --table TenureInformation --s3 s3://council-exports/tenure && ddbsync follow --table TenureInformation`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runHeal(cmd.Context(), g, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.table, "table", "", "DynamoDB table name (required)")
	f.add(fl)
	fl.StringVar(&f.progress, "progress", "auto", "progress of applying each export: auto (bar on a terminal, else log lines), bar, log or none")
	_ = cmd.MarkFlagRequired("table")
	return cmd
}

func runHeal(ctx context.Context, g *globals, f healFlags) error {
	switch f.progress {
	case "auto", "bar", "log", "none":
	default:
		return usageErrorf("--progress %q: want auto, bar, log or none", f.progress)
	}
	pool, err := g.connect(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	cfg, err := f.config(ctx, g, g.config.table(f.table))
	if err != nil {
		return err
	}
	stop := startProgress(ctx, g, f.progress, &cfg.Stats.Apply)
	res, err := heal.Run(ctx, pool, cfg)
	stop()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("heal %w after %d exports; run it again to go on: %w", errInterrupted, len(res.Exports), err)
		}
		return err
	}
	fmt.Fprintf(g.stdout, "healed %s: applied %d incremental exports covering [%s, %s), %d changes: %d rows written, %d deleted\n",
		f.table, len(res.Exports), fmtUTC(res.From), fmtUTC(res.To), res.Changes, res.Upserted, res.Deleted)
	fmt.Fprintf(g.stdout, "the copy is as of %s; follow it again: ddbsync follow --table %s (it replays from %s)\n",
		fmtUTC(res.AsOf), f.table, fmtUTC(res.AsOf.Add(-follow.DefaultReplayMargin)))
	return nil
}
