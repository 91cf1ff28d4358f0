package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/snapshot"
)

type sampleExportFlags struct {
	items      int
	out        string
	seed       uint64
	files      int
	table      string
	exportTime string
	checksum   string
}

func newSampleExportCmd(g *globals) *cobra.Command {
	var f sampleExportFlags
	cmd := &cobra.Command{
		Use:   "sample-export --items N --out DIR",
		Short: "Write a sample DynamoDB export of tenure-shaped items, in the real AWS layout",
		Long: `sample-export writes an export folder as ExportTableToPointInTime does (manifest-summary.json,
manifest-files.json, checksum files, gzipped DYNAMODB_JSON data files) holding N items shaped
like the Tenure API's TenureInformation table. The same seed gives the same items.`,
		Example: `  ddbsync sample-export --items 100000 --out ./sample --seed 7
  ddbsync load --export ./sample --key id`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.items < 0 {
				return usageErrorf("--items must not be negative")
			}
			if f.out == "" {
				return usageErrorf("--out is required")
			}
			t := time.Now().UTC().Truncate(time.Millisecond)
			if f.exportTime != "" {
				var err error
				if t, err = time.Parse(time.RFC3339Nano, f.exportTime); err != nil {
					return usageErrorf("--export-time: %v", err)
				}
			}
			w, err := snapshot.NewWriter(cmd.Context(), snapshot.DirSink(f.out), snapshot.WriterConfig{
				TableArn:       "arn:aws:dynamodb:eu-west-2:000000000000:table/" + f.table,
				ExportTime:     t,
				Files:          f.files,
				ChecksumSuffix: f.checksum,
			})
			if err != nil {
				return usageError{err}
			}
			gen := tenure.NewGenerator(f.seed)
			for range f.items {
				if err := w.Write(gen.Item()); err != nil {
					return err
				}
			}
			s, err := w.Close(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "wrote export %s of %s: %d items in %d data files to %s\n",
				s.ExportArn, f.table, s.ItemCount, f.files, f.out)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.items, "items", 1000, "number of items")
	fl.StringVar(&f.out, "out", "", "the export folder to write (created if missing)")
	fl.Uint64Var(&f.seed, "seed", 1, "random seed; the same seed gives the same items")
	fl.IntVar(&f.files, "files", 4, "number of data files")
	fl.StringVar(&f.table, "table", tenure.TableName, "table name recorded in the manifests")
	fl.StringVar(&f.exportTime, "export-time", "", "export time to record, RFC 3339 (default: now)")
	fl.StringVar(&f.checksum, "checksum-suffix", ".checksum", "manifest checksum file suffix: .checksum or .md5")
	return cmd
}
