package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/spf13/cobra"
	"golang.org/x/time/rate"

	"github.com/ddbsync/ddbsync/internal/metrics"
	"github.com/ddbsync/ddbsync/reconcile/follow"
	"github.com/ddbsync/ddbsync/stream"
)

type followFlags struct {
	table         string
	streamArn     string
	untilCaughtUp bool
	acceptGap     bool
	pollInterval  time.Duration
	discover      time.Duration
	// The assumptions W rests on (stream.Tracker), and the listing pace.
	caughtUpPages int
	caughtUpSpan  time.Duration
	margin        time.Duration
	tolerance     time.Duration
	describeRate  float64
	metricsAddr   string
	readyLag      time.Duration
	lockTimeout   time.Duration
	verify        verifyFlags
	// shared follows share a table's shards through leases.
	shared        bool
	leaseDuration time.Duration
	history       historyFlags
}

func newFollowCmd(g *globals) *cobra.Command {
	var f followFlags
	cmd := &cobra.Command{
		Use:   "follow --table NAME [--until-caught-up] | --config FILE",
		Short: "Replay tables' DynamoDB streams into their PostgreSQL copies, from the export time onward",
		Long: `follow reads the table's DynamoDB stream (DescribeTable's LatestStreamArn, or --stream-arn) and
applies every change to the copy that load published: the first run replays from the export time T
minus 5 minutes, later runs resume after per-shard checkpoints. It runs until stopped (SIGINT or
SIGTERM stop it cleanly, exit 0), or with --until-caught-up until every shard has reached the
present, and then prints the watermark W: every change made before W is in the copy.

With --config and no --table, one process follows every table the file lists; a table that stops
(a gap) does not stop the others, and the exit status reports it.

When it cannot prove it has every change (the export is older than the stream's 24 hours, a
checkpointed shard was trimmed, the stream was replaced) it stops with exit status 1 and says
what was lost and what to do.

With --verify RATE (e.g. 60/min) it also reads keys from DynamoDB with strongly consistent reads,
and once the watermark has passed each read, compares them with the copy: a mismatch is recorded
in ddbsync.verifications, counted, logged, makes /readyz unready, and with --on-mismatch is only
logged (log), ends follow with exit status 1 (stop), or is repaired from DynamoDB's image (repair).`,
		Example: `  ddbsync follow --table TenureInformation
  ddbsync follow --table TenureInformation --until-caught-up
  ddbsync follow --config ddbsync.yaml --metrics-addr :9090
  ddbsync follow --table TenureInformation --verify 60/min --verify-rcu 5 --on-mismatch repair`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("metrics-addr") && f.metricsAddr == "" && g.config != nil {
				f.metricsAddr = g.config.MetricsAddr
			}
			if !cmd.Flags().Changed("ready-lag") && g.config != nil && g.config.ReadyLag > 0 {
				f.readyLag = g.config.ReadyLag
			}
			if !cmd.Flags().Changed("shared") && g.config != nil {
				f.shared = g.config.Shared
			}
			if !cmd.Flags().Changed("lease-duration") && g.config != nil && g.config.LeaseDuration > 0 {
				f.leaseDuration = g.config.LeaseDuration
			}
			f.verify.changed = cmd.Flags().Changed
			f.history.changed = cmd.Flags().Changed
			err := runFollow(cmd.Context(), g, f)
			if errors.Is(err, context.Canceled) && cmd.Context().Err() != nil {
				// A requested stop is a clean stop at any moment, even
				// before the follow has started.
				return nil
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.table, "table", "", "DynamoDB table name (default with --config: every table of the file)")
	fl.StringVar(&f.streamArn, "stream-arn", "", "stream to follow (default: the table's LatestStreamArn)")
	fl.BoolVar(&f.untilCaughtUp, "until-caught-up", false, "stop once every shard has reached the present, and print the watermark")
	fl.BoolVar(&f.acceptGap, "accept-gap", false, "go on past a shard whose parent vanished unread (recorded; run diff afterwards)")
	fl.DurationVar(&f.pollInterval, "poll-interval", stream.DefaultPollInterval, "wait after an empty page of an open shard")
	fl.DurationVar(&f.discover, "discover-interval", follow.DefaultDiscoverInterval, "how often to look for new shards")
	fl.IntVar(&f.caughtUpPages, "caught-up-pages", stream.DefaultCaughtUpPages,
		"an open shard is caught up after this many empty pages in a row (W assumes GetRecords never gives this many spurious ones)")
	fl.DurationVar(&f.caughtUpSpan, "caught-up-span", stream.DefaultCaughtUpSpan, "the least time from the first to the last of those empty pages")
	fl.DurationVar(&f.margin, "propagation-margin", stream.DefaultPropagationMargin,
		"W assumes a change is readable in the stream, and a shard's closing listed, within this of its time")
	fl.DurationVar(&f.tolerance, "creation-time-tolerance", stream.DefaultCreationTimeTolerance,
		"W assumes a record is never dated more than this before one ahead of it in its shard")
	fl.Float64Var(&f.describeRate, "describe-rate", follow.DefaultDescribeRate,
		"DescribeStream calls a second, at most, for every table of the process together (AWS allows 10)")
	fl.StringVar(&f.metricsAddr, "metrics-addr", os.Getenv("DDBSYNC_METRICS_ADDR"), "serve /metrics, /healthz and /readyz on this address, e.g. :9090 (env DDBSYNC_METRICS_ADDR)")
	fl.DurationVar(&f.readyLag, "ready-lag", time.Minute, "/readyz answers 200 while every table's watermark is within this of now")
	addLockTimeoutFlag(fl, &f.lockTimeout)
	addVerifyFlags(fl, &f.verify)
	fl.BoolVar(&f.shared, "shared", false,
		"share the table's shards with every other `follow --shared` of it, through leases in PostgreSQL (hot standby); without it, one follow per table")
	fl.DurationVar(&f.leaseDuration, "lease-duration", follow.DefaultLeaseDuration,
		"with --shared: how long a shard's lease lasts unless renewed; a dead follower's shards are taken over within about 4/3 of it")
	addHistoryFlags(fl, &f.history)
	return cmd
}

func runFollow(ctx context.Context, g *globals, f followFlags) error {
	if f.pollInterval <= 0 || f.discover <= 0 || f.readyLag <= 0 || f.leaseDuration <= 0 {
		return usageErrorf("--poll-interval, --discover-interval, --ready-lag and --lease-duration must be positive")
	}
	if f.caughtUpPages < stream.MinCaughtUpPages {
		return usageErrorf("--caught-up-pages must be at least %d", stream.MinCaughtUpPages)
	}
	if f.caughtUpSpan < 0 || f.margin < 0 || f.tolerance < 0 {
		return usageErrorf("--caught-up-span, --propagation-margin and --creation-time-tolerance must not be negative")
	}
	if f.describeRate <= 0 || f.describeRate > 10 {
		return usageErrorf("--describe-rate must be more than 0 and at most 10 (AWS's limit)")
	}
	describeLimiter := rate.NewLimiter(rate.Limit(f.describeRate), 1) // shared by every table
	readerOptions := []stream.Option{stream.WithPollInterval(f.pollInterval), stream.WithCaughtUpRule(f.caughtUpPages, f.caughtUpSpan),
		stream.WithPropagationMargin(f.margin), stream.WithCreationTimeTolerance(f.tolerance)}
	tables, err := g.selectTables(f.table)
	if err != nil {
		return err
	}
	if f.streamArn != "" && len(tables) > 1 {
		return usageErrorf("--stream-arn needs --table")
	}
	verify := make([]follow.VerifyConfig, len(tables))
	history := make([]bool, len(tables))
	retention := make([]time.Duration, len(tables))
	for i, t := range tables {
		if verify[i], err = f.verify.config(t); err != nil {
			return err
		}
		if history[i], retention[i], err = f.history.forTable(t); err != nil {
			return err
		}
	}
	pool, err := g.connect(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	cfg, err := g.awsConfig(ctx)
	if err != nil {
		return err
	}
	streams, ddb := g.streamsClient(cfg), g.dynamodbClient(cfg)
	for i := range verify {
		verify[i].Client = ddb
	}
	reg := metrics.NewRegistry()
	if f.metricsAddr != "" {
		addr, err := reg.Serve(ctx, f.metricsAddr, f.readyLag, g.logger)
		if err != nil {
			return err
		}
		g.logger.Info("serving metrics", "addr", addr)
	}

	type outcome struct {
		table string
		res   follow.Result
		err   error
	}
	results := make(chan outcome, len(tables))
	for i, t := range tables {
		stats := &follow.Stats{}
		if verify[i].KeysPerMinute > 0 {
			stats.Verify = &follow.VerifyStats{}
		}
		reg.Follow(t.Name, stats)
		arn := t.StreamArn
		if f.streamArn != "" {
			arn = f.streamArn
		}
		go func() {
			stopViews := keepViews(ctx, g, pool, t)
			res, err := follow.Run(ctx, pool, follow.Config{
				Table:            t.Name,
				Streams:          streams,
				Tables:           ddb,
				StreamArn:        arn,
				UntilCaughtUp:    f.untilCaughtUp,
				AcceptGap:        f.acceptGap || t.AcceptGap,
				DiscoverInterval: f.discover,
				DescribeLimiter:  describeLimiter,
				ReaderOptions:    readerOptions,
				Stats:            stats,
				Logger:           g.logger,
				LockTimeout:      lockTimeout(f.lockTimeout),
				Verify:           verify[i],
				Shared:           f.shared,
				LeaseDuration:    f.leaseDuration,
				History:          history[i],
				HistoryRetention: retention[i],
			})
			stopViews()
			if err != nil && len(tables) > 1 {
				g.logger.Error("follow stopped", "table", t.Name, "error", err.Error())
			}
			results <- outcome{t.Name, res, err}
		}()
	}
	var errs []error
	for range tables {
		o := <-results
		if o.err != nil && !(errors.Is(o.err, context.Canceled) && ctx.Err() != nil) {
			errs = append(errs, o.err)
			continue
		}
		if o.res.Watermark.IsZero() {
			fmt.Fprintf(g.stdout, "%s: stopped; applied %d changes; no watermark yet\n", o.table, o.res.Applied)
			continue
		}
		fmt.Fprintf(g.stdout, "%s: watermark %s: every change made before it is in the copy (applied %d changes from %d shards)\n",
			o.table, o.res.Watermark.UTC().Format(time.RFC3339), o.res.Applied, o.res.Shards)
	}
	return errors.Join(errs...)
}

func (g *globals) streamsClient(cfg aws.Config) *dynamodbstreams.Client {
	return dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) {
		if g.endpointURL != "" {
			o.BaseEndpoint = aws.String(g.endpointURL)
		}
	}, withoutSDKRetries)
}

// withoutSDKRetries turns the SDK's retryer off for the Streams client:
// package stream retries every Streams call itself (throttling, 5xx,
// network, expired iterators) with its own backoff and counts each retry
// (ddbsync_retries_total). The SDK's 3 attempts underneath would stack their
// delays under stream's and hide retries from the count.
func withoutSDKRetries(o *dynamodbstreams.Options) { o.Retryer = aws.NopRetryer{} }
