package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/spf13/cobra"

	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/stream"
)

type followFlags struct {
	table         string
	streamArn     string
	untilCaughtUp bool
	acceptGap     bool
	pollInterval  time.Duration
	discover      time.Duration
}

func newFollowCmd(g *globals) *cobra.Command {
	var f followFlags
	cmd := &cobra.Command{
		Use:   "follow --table NAME [--until-caught-up]",
		Short: "Replay the table's DynamoDB stream into its PostgreSQL copy, from the export time onward",
		Long: `follow reads the table's DynamoDB stream (DescribeTable's LatestStreamArn, or --stream-arn) and
applies every change to the copy that load published: the first run replays from the export time T
minus 5 minutes, later runs resume after per-shard checkpoints. It runs until stopped (SIGINT or
SIGTERM stop it cleanly, exit 0), or with --until-caught-up until every shard has reached the
present, and then prints the watermark W: every change made before W is in the copy.

When it cannot prove it has every change (the export is older than the stream's 24 hours, a
checkpointed shard was trimmed, the stream was replaced) it stops with exit status 1 and says
what was lost and what to do.`,
		Example: `  ddbsync follow --table TenureInformation
  ddbsync follow --table TenureInformation --until-caught-up`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runFollow(cmd.Context(), g, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.table, "table", "", "DynamoDB table name (required)")
	fl.StringVar(&f.streamArn, "stream-arn", "", "stream to follow (default: the table's LatestStreamArn)")
	fl.BoolVar(&f.untilCaughtUp, "until-caught-up", false, "stop once every shard has reached the present, and print the watermark")
	fl.BoolVar(&f.acceptGap, "accept-gap", false, "go on past a shard whose parent vanished unread (recorded; run diff afterwards)")
	fl.DurationVar(&f.pollInterval, "poll-interval", stream.DefaultPollInterval, "wait after an empty page of an open shard")
	fl.DurationVar(&f.discover, "discover-interval", reconcile.DefaultDiscoverInterval, "how often to look for new shards")
	_ = cmd.MarkFlagRequired("table")
	return cmd
}

func runFollow(ctx context.Context, g *globals, f followFlags) error {
	if f.pollInterval <= 0 || f.discover <= 0 {
		return usageErrorf("--poll-interval and --discover-interval must be positive")
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
	stats := &reconcile.FollowStats{}
	res, err := reconcile.Follow(ctx, pool, reconcile.FollowConfig{
		Table:            f.table,
		Streams:          g.streamsClient(cfg),
		Tables:           g.dynamodbClient(cfg),
		StreamArn:        f.streamArn,
		UntilCaughtUp:    f.untilCaughtUp,
		AcceptGap:        f.acceptGap,
		DiscoverInterval: f.discover,
		ReaderOptions:    []stream.Option{stream.WithPollInterval(f.pollInterval)},
		Stats:            stats,
		Logger:           g.logger,
	})
	if err != nil {
		return err
	}
	if res.Watermark.IsZero() {
		fmt.Fprintf(g.stdout, "stopped; applied %d changes; no watermark yet\n", res.Applied)
		return nil
	}
	fmt.Fprintf(g.stdout, "watermark %s: every change made before it is in the copy (applied %d changes from %d shards)\n",
		res.Watermark.UTC().Format(time.RFC3339), res.Applied, res.Shards)
	return nil
}

func (g *globals) streamsClient(cfg aws.Config) *dynamodbstreams.Client {
	return dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) {
		if g.endpointURL != "" {
			o.BaseEndpoint = aws.String(g.endpointURL)
		}
	})
}
