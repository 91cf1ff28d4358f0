package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ddbsync/ddbsync/reconcile/lake"
)

// publishRefusals: what publish refuses, beyond a table never loaded.
var publishRefusals = join(notLoaded, refusals{
	{err: lake.ErrNoHistory, hint: func(_ error, table string) string {
		return fmt.Sprintf("keep history for %s (history: true) to publish past instants from then on, or publish the copy "+
			"as of its watermark: ddbsync publish --table %s --to DEST (without --as-of)", table, table)
	}},
	{err: lake.ErrNotProven, hint: func(_ error, table string) string {
		return fmt.Sprintf("publish without --as-of for the copy as of its watermark W, or let ddbsync follow --table %s "+
			"bring W past the instant first (ddbsync status shows W)", table)
	}},
})

func newPublishCmd(g *globals) *cobra.Command {
	var f struct {
		table, to, format, asOf, viewSchema string
		rowsPerFile                         int64
	}
	cmd := &cobra.Command{
		Use:   "publish --table NAME --to s3://BUCKET/PREFIX|DIR [--as-of TIME]",
		Short: "Write the copy as of one instant as Parquet files for a data lake, with a manifest and _SUCCESS",
		Long: `publish writes a table's copy, as of its watermark W (or an earlier instant, from its history),
as Parquet files under PREFIX/<table>/import_year=YYYY/import_month=MM/import_day=DD/import_date=YYYYMMDD/,
then a manifest (_manifest.json) and _SUCCESS, last. A typed view in --view-schema is published when there
is one, otherwise the key columns and item.`,
		Example: `  ddbsync publish --table TenureInformation --to s3://lake/raw/dynamodb
  ddbsync publish --table TenureInformation --to ./lake --as-of 2026-11-30T00:00:00Z`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.table == "" || f.to == "" {
				return usageErrorf("--table and --to are required")
			}
			if f.format != "parquet" {
				return usageErrorf("--format %q: only parquet is written", f.format)
			}
			if f.rowsPerFile <= 0 {
				return usageErrorf("--rows-per-file must be positive")
			}
			bucket, _, _, err := lake.ParseTarget(f.to)
			if err != nil {
				return usageError{err}
			}
			cfg := lake.Config{Table: f.table, To: f.to, ViewSchema: f.viewSchema, RowsPerFile: f.rowsPerFile,
				Version: version(), Logger: g.logger}
			if f.asOf != "" {
				at, err := parseInstant(f.asOf)
				if err != nil {
					return usageErrorf("--as-of %q: %v", f.asOf, err)
				}
				cfg.AsOf = &at
			}
			if bucket != "" {
				awsCfg, err := g.awsConfig(cmd.Context())
				if err != nil {
					return err
				}
				cfg.S3 = g.s3Client(awsCfg)
			}
			pool, err := g.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer pool.Close()
			res, err := lake.Publish(cmd.Context(), pool, cfg)
			if err != nil {
				return err
			}
			m := res.Manifest
			files := "files"
			if len(m.Files) == 1 {
				files = "file"
			}
			fmt.Fprintf(g.stdout, "published %s as of %s (%s) from %s\n  to %s\n  %d rows in %d part %s, %.1f MB; %s and %s written last\n",
				m.Table, fmtUTC(m.Instant), instantLabel(m.InstantIs), m.Relation, res.Location, m.Rows, len(m.Files), files,
				float64(res.Bytes)/1e6, lake.ManifestName, lake.SuccessName)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.table, "table", "", "the DynamoDB table whose copy to publish")
	fl.StringVar(&f.to, "to", "", "where: s3://bucket/prefix or a local folder")
	fl.StringVar(&f.format, "format", "parquet", "file format (parquet)")
	fl.StringVar(&f.asOf, "as-of", "", "publish the table as it stood at this instant (RFC 3339, or a date for its midnight UTC), "+
		"before W, from its history (default: the copy as of W)")
	fl.StringVar(&f.viewSchema, "view-schema", "analytics", `schema of the typed views; "" publishes the key columns and item`)
	fl.Int64Var(&f.rowsPerFile, "rows-per-file", 1_000_000, "start a new part file after this many rows")
	return cmd
}

// parseInstant reads an RFC 3339 time, or a date (its midnight UTC).
func parseInstant(s string) (time.Time, error) {
	if !strings.Contains(s, "T") {
		return time.Parse("2006-01-02", s)
	}
	return time.Parse(time.RFC3339Nano, s)
}

func instantLabel(is string) string {
	switch is {
	case "watermark":
		return "its watermark W"
	case "export_time":
		return "its export time T: not followed yet"
	}
	return "from its history"
}
