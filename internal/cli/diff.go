package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/diff"
	"github.com/ddbsync/ddbsync/reconcile/report"
	"github.com/ddbsync/ddbsync/snapshot"
)

type diffFlags struct {
	table         string
	against       string
	format        string
	out           string
	repair        bool
	segments      int
	maxRCU        float64
	limit         findingLimit
	workers       int
	skew          time.Duration
	watermarkWait time.Duration
	lockTimeout   time.Duration
}

func newDiffCmd(g *globals) *cobra.Command {
	var f diffFlags
	cmd := &cobra.Command{
		Use:   "diff --table NAME --against SRC [--format text|json|html] [--out FILE] [--repair]",
		Short: "Compare a table's PostgreSQL copy with a newer export or a live Scan",
		Long: `diff compares the PostgreSQL copy of a table with a source of truth at the source's instant I:
a newer export (SRC is its folder, a local directory or s3://, verified as load verifies it;
I is its export time) or "scan" (a live parallel Scan of the table; I is the scan's start).
Keys changed at or after I minus the skew (from the stream, or removed by it) are reported
as in flight, not as inconsistencies. The copy must have caught up with I: its follow
watermark must be at or after I (for a scan, after the scan's end), unless it was loaded
from that very export.

It reports keys missing in PostgreSQL, extra in PostgreSQL, and different (every attribute
path that differs, with both values), each with the copy row's provenance. --repair writes
the source's images for those findings and records them in ddbsync.repairs: from an export in
one transaction (it refuses while a follow of the table runs); from a scan beside the running
follow, which it needs, each key only if its row is still as compared (a key the stream changed
meanwhile is left to the stream, whose image is newer).

Exit status: 0 consistent, 1 inconsistencies found (even when repaired), 2 the diff failed.`,
		Example: `  ddbsync diff --table TenureInformation --against ./exports/AWSDynamoDB/01700000000000-abcd1234
  ddbsync diff --table TenureInformation --against s3://exports/tenure/AWSDynamoDB/01700000000000-abcd1234/ --format html --out diff.html
  ddbsync diff --table TenureInformation --against scan --segments 8 --max-rcu 500 --format json
  ddbsync diff --table TenureInformation --against ./newer-export --repair`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDiff(cmd.Context(), g, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.table, "table", "", "DynamoDB table name (required)")
	fl.StringVar(&f.against, "against", "", `the source of truth: an export folder (local or s3://), or "scan" (required)`)
	fl.StringVar(&f.format, "format", "text", "report format: text, json (JSON lines) or html")
	fl.StringVar(&f.out, "out", "", "write the report to this file instead of stdout")
	fl.BoolVar(&f.repair, "repair", false, "write the source's images for the findings (not those in flight); from a scan, beside the running follow")
	fl.IntVar(&f.segments, "segments", diff.DefaultScanSegments, "scan: parallel Scan segments")
	fl.Float64Var(&f.maxRCU, "max-rcu", 0, "scan: cap on read capacity units consumed per second (0: no cap)")
	fl.Var(&f.limit, "limit", "findings to list (0: all; default 20 for text, 1000 for html, all for json)")
	fl.IntVar(&f.workers, "workers", 0, "export: data files read at once (default: twice the CPUs, at least 4)")
	fl.DurationVar(&f.skew, "skew", diff.DefaultInFlightWindow, "changes at or after I minus this are in flight")
	fl.DurationVar(&f.watermarkWait, "wait-watermark", time.Minute, "scan: how long to wait for a running follow to carry the watermark past the scan's end")
	addLockTimeoutFlag(fl, &f.lockTimeout)
	_ = cmd.MarkFlagRequired("table")
	_ = cmd.MarkFlagRequired("against")
	return cmd
}

func runDiff(ctx context.Context, g *globals, f diffFlags) (retErr error) {
	limit := -1
	if f.limit.set {
		limit = f.limit.n
	}
	switch f.format {
	case "text":
		if limit < 0 {
			limit = 20
		}
	case "html":
		if limit < 0 {
			limit = 1000
		}
	case "json":
		if limit < 0 {
			limit = 0
		}
	default:
		return usageErrorf("--format %q: want text, json or html", f.format)
	}
	if f.segments <= 0 || f.segments > 1000000 {
		return usageErrorf("--segments %d: want 1 to 1000000", f.segments)
	}
	if f.maxRCU < 0 {
		return usageErrorf("--max-rcu must not be negative")
	}
	cfg := diff.Config{Table: f.table, Repair: f.repair, Limit: limit, Workers: f.workers, InFlightWindow: f.skew,
		WatermarkWait: f.watermarkWait, Logger: g.logger, LockTimeout: lockTimeout(f.lockTimeout)}
	if f.against == "scan" {
		awsCfg, err := g.awsConfig(ctx)
		if err != nil {
			return err
		}
		cfg.Scan = &diff.ScanSource{Client: g.dynamodbClient(awsCfg), Segments: f.segments, MaxRCU: f.maxRCU}
	} else {
		src, err := g.openSource(ctx, f.against)
		if err != nil {
			return err
		}
		exp, err := snapshot.Open(ctx, src)
		if err != nil {
			return fmt.Errorf("reading export %s: %w", src, err)
		}
		cfg.Export = exp
	}
	pool, err := g.connect(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()

	var w io.Writer = g.stdout
	if f.out != "" {
		file, err := os.Create(f.out)
		if err != nil {
			return fmt.Errorf("creating the report file: %w", err)
		}
		defer func() {
			if err := file.Close(); err != nil && retErr == nil {
				retErr = fmt.Errorf("writing the report file: %w", err)
			}
		}()
		w = file
	}
	switch f.format {
	case "text":
		cfg.Report = report.Text(w)
	case "json":
		cfg.Report = report.JSON(w)
	case "html":
		cfg.Report = report.HTML(w)
	}
	sum, err := diff.Run(ctx, pool, cfg)
	if err != nil && !errors.Is(err, reconcile.ErrInconsistent) {
		return err
	}
	if f.out != "" {
		verdict := "consistent"
		if sum.Inconsistencies() > 0 {
			verdict = fmt.Sprintf("INCONSISTENT: %d missing, %d extra, %d different", sum.Missing, sum.Extra, sum.Different)
		}
		fmt.Fprintf(g.stdout, "diff %d: %s; %d in flight; report written to %s\n", sum.DiffID, verdict, sum.InFlight, f.out)
	}
	return err
}

// findingLimit is --limit: a count, or unset for the format's default.
type findingLimit struct {
	n   int
	set bool
}

func (l *findingLimit) String() string {
	if !l.set {
		return ""
	}
	return strconv.Itoa(l.n)
}

func (l *findingLimit) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return fmt.Errorf("want a count of findings, 0 for all")
	}
	l.n, l.set = n, true
	return nil
}

func (l *findingLimit) Type() string { return "int" }
