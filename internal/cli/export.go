package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/spf13/cobra"

	"github.com/ddbsync/ddbsync/snapshot"
)

type exportFlags struct {
	table string
	s3    string
	load  bool
	poll  time.Duration
	loadFlags
}

func newExportCmd(g *globals) *cobra.Command {
	var f exportFlags
	cmd := &cobra.Command{
		Use:   "export --table NAME --s3 s3://bucket/prefix [--load]",
		Short: "Start a full point-in-time export of a table to S3, wait for it, and optionally load it",
		Long: `export checks that point-in-time recovery is enabled, starts ExportTableToPointInTime (full,
DYNAMODB_JSON, as of now), waits for it with progress, and prints the export folder's S3 URI.
With --load it then loads the export, as ddbsync load does.`,
		Example: `  ddbsync export --table TenureInformation --s3 s3://council-exports/tenure
  ddbsync export --table TenureInformation --s3 s3://council-exports/tenure --load`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.doc = docChoice(cmd, &f.loadFlags)
			return runExport(cmd.Context(), g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.table, "table", "", "DynamoDB table name (required)")
	fl.StringVar(&f.s3, "s3", "", "where AWS writes the export: s3://bucket/prefix (required)")
	fl.BoolVar(&f.load, "load", false, "load the export when it is complete")
	fl.DurationVar(&f.poll, "poll", 10*time.Second, "wait between export status checks")
	fl.StringVar(&f.key, "key", "", "with --load: key attributes, as for load")
	fl.StringVar(&f.schema, "schema", envOr("DDBSYNC_SCHEMA", "dynamodb"), "with --load: PostgreSQL schema")
	fl.StringVar(&f.progress, "progress", "auto", "with --load: progress display")
	addDocFlag(fl, &f.loadFlags)
	addLockTimeoutFlag(fl, &f.lockTimeout)
	_ = cmd.MarkFlagRequired("table")
	_ = cmd.MarkFlagRequired("s3")
	return cmd
}

func runExport(ctx context.Context, g *globals, f exportFlags) error {
	bucket, prefix, err := snapshot.ParseS3URI(f.s3)
	if err != nil {
		return usageError{err}
	}
	cfg, err := g.awsConfig(ctx)
	if err != nil {
		return err
	}
	uri, err := snapshot.RequestExport(ctx, g.dynamodbClient(cfg), snapshot.ExportRequest{
		Table: f.table, Bucket: bucket, Prefix: prefix, Poll: f.poll,
		Progress: func(st types.ExportStatus, elapsed time.Duration) {
			g.logger.Info("export", "table", f.table, "status", string(st), "elapsed", elapsed.Round(time.Second).String())
		},
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "export of %s complete: %s\n", f.table, uri)
	if !f.load {
		return nil
	}
	lf := f.loadFlags
	lf.export, lf.table = uri, f.table
	return runLoad(ctx, g, lf)
}
