package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ddbsync/ddbsync/reconcile"
)

func newStatusCmd(g *globals) *cobra.Command {
	var table string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status [--table NAME] [--json]",
		Short: "Show each table's export, watermark, lag and shard checkpoints",
		Example: `  ddbsync status
  ddbsync status --table TenureInformation --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pool, err := g.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer pool.Close()
			st, err := reconcile.Status(cmd.Context(), pool, table, time.Now())
			if err != nil {
				return err
			}
			if table != "" && len(st) == 0 {
				return fmt.Errorf("%w: %s", reconcile.ErrNotLoaded, table)
			}
			if st == nil {
				st = []reconcile.TableStatus{} // JSON: [], not null
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			printStatus(g.stdout, st)
			return nil
		},
	}
	cmd.Flags().StringVar(&table, "table", "", "only this DynamoDB table")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printStatus(w io.Writer, st []reconcile.TableStatus) {
	if len(st) == 0 {
		fmt.Fprintln(w, "no tables loaded yet: run `ddbsync load`")
		return
	}
	for i, t := range st {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s → %s (key %s)\n", t.Table, t.PGTable, t.Key)
		if t.ExportArn == "" && t.UnfinishedLoad != nil {
			fmt.Fprintln(w, "  export     none published yet")
		} else {
			fmt.Fprintf(w, "  export     %s\n  as of (T)  %s, %d items, loaded %s\n", t.ExportArn,
				t.ExportTime.UTC().Format(time.RFC3339), t.ItemCount, t.LoadedAt.UTC().Format(time.RFC3339))
		}
		if l := t.UnfinishedLoad; l != nil {
			printUnfinishedLoad(w, l)
			if t.ExportArn == "" {
				continue
			}
		}
		if d := t.LastDiff; d != nil {
			printLastDiff(w, d)
		}
		if t.ExportType == "INCREMENTAL_EXPORT" {
			fmt.Fprintln(w, "  (T is the end of the last incremental export applied, by load, heal or sync)")
		}
		if t.StreamArn == "" && t.Watermark != nil {
			fmt.Fprintf(w, "  stream     none: kept by `ddbsync sync`\n  watermark  %s (lag %s)\n",
				t.Watermark.UTC().Format(time.RFC3339), t.Lag)
			continue
		}
		if t.StreamArn == "" {
			fmt.Fprintln(w, "  stream     not followed since the load (run `ddbsync follow`)")
			continue
		}
		fmt.Fprintf(w, "  stream     %s\n", t.StreamArn)
		if t.Watermark != nil {
			fmt.Fprintf(w, "  watermark  %s (lag %s)\n", t.Watermark.UTC().Format(time.RFC3339), t.Lag)
		} else {
			fmt.Fprintln(w, "  watermark  none yet")
		}
		if v := t.Verify; v != nil {
			printVerify(w, v)
		}
		if t.AcceptedGap != "" {
			fmt.Fprintf(w, "  accepted gaps (run diff):\n    %s\n", t.AcceptedGap)
		}
		printFollowers(w, t.Followers)
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  SHARD\tPARENT\tSTATE\tLAST SEQUENCE\tAPPLIED\tTTL")
		for _, s := range t.Shards {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%d\n", s.ShardID, s.ParentShardID, s.State, s.LastSequence, s.ChangesApplied, s.TTLRemoves)
		}
		tw.Flush()
		for _, s := range t.Shards {
			if s.State == "gap" {
				fmt.Fprintf(w, "  gap in %s: %s\n", s.ShardID, s.Detail)
			}
		}
	}
}

func printLastDiff(w io.Writer, d *reconcile.DiffStatus) {
	fmt.Fprintf(w, "  last diff  %d against %s, started %s: %s", d.DiffID, d.Source, d.StartedAt.UTC().Format(time.RFC3339), d.State)
	switch d.State {
	case "consistent", "inconsistent":
		fmt.Fprintf(w, " (%d missing, %d extra, %d different, %d in flight", d.Missing, d.Extra, d.Different, d.InFlight)
		if d.Repaired != nil {
			fmt.Fprintf(w, "; %d repaired", *d.Repaired)
		}
		fmt.Fprint(w, ")")
	case "failed":
		fmt.Fprintf(w, ": %s", d.Error)
	}
	fmt.Fprintln(w)
}

func printVerify(w io.Writer, v *reconcile.VerifyStatus) {
	fmt.Fprintf(w, "  verify     %d keys checked, %d mismatches", v.KeysChecked, v.Mismatches)
	if v.Repaired > 0 {
		fmt.Fprintf(w, " (%d repaired)", v.Repaired)
	}
	fmt.Fprintf(w, ", %d in flight", v.InFlight)
	if v.LastCheckAt != nil {
		fmt.Fprintf(w, "; last check %s", v.LastCheckAt.UTC().Format(time.RFC3339))
	}
	if v.LastMismatchAt != nil {
		fmt.Fprintf(w, "; last mismatch %s (see ddbsync.verifications)", v.LastMismatchAt.UTC().Format(time.RFC3339))
	}
	fmt.Fprintln(w)
}

// printUnfinishedLoad shows a load's files done, being copied and left,
// and each worker's share.
func printUnfinishedLoad(w io.Writer, l *reconcile.LoadStatus) {
	var copying int64
	for _, wp := range l.Workers {
		copying += wp.Copying
	}
	fmt.Fprintf(w, "  unfinished load %d of %s: %d of %d files done, %d being copied, %d left (run load again to resume)\n",
		l.LoadID, l.ExportArn, l.FilesDone, l.FilesTotal, copying, max(0, l.FilesTotal-l.FilesDone-copying))
	if len(l.Workers) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  WORKER\tFILES DONE\tITEMS\tCOPYING NOW")
	for _, wp := range l.Workers {
		name := wp.Worker
		if name == "" {
			name = "(unrecorded)"
		}
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\n", name, wp.FilesDone, wp.ItemsDone, wp.Copying)
	}
	tw.Flush()
}

// printFollowers shows the processes of a shared follow, their shards and
// how old their leases are.
func printFollowers(w io.Writer, fs []reconcile.FollowerStatus) {
	for _, f := range fs {
		state := "live"
		if !f.Live {
			state = "gone"
		}
		fmt.Fprintf(w, "  follower   %s (%s, renewed %s ago, %d shards)\n", f.Owner, state, f.Renewed, len(f.Leases))
		for _, l := range f.Leases {
			fmt.Fprintf(w, "    lease    %s counter %d, held %s, expires in %s\n", l.Shard, l.Counter, l.Held, l.ExpiresIn)
		}
	}
}
