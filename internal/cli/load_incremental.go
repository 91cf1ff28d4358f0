package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/ddbsync/ddbsync/reconcile/follow"
	"github.com/ddbsync/ddbsync/reconcile/load"
	"github.com/ddbsync/ddbsync/snapshot"
)

// incremental tells whether the export in src is an incremental one, by
// its summary. A summary that cannot be read is left to snapshot.Open to
// report.
func incremental(ctx context.Context, src snapshot.Source) bool {
	sum, err := snapshot.ReadSummary(ctx, src)
	if err != nil {
		return false
	}
	typ, err := sum.Type()
	return err == nil && typ == snapshot.ExportTypeIncremental
}

// loadIncremental applies the incremental export in src onto the table's
// loaded copy.
func loadIncremental(ctx context.Context, g *globals, f loadFlags, src snapshot.Source) error {
	exp, err := snapshot.OpenIncremental(ctx, src)
	if err != nil {
		return fmt.Errorf("reading incremental export %s: %w", src, err)
	}
	table := f.table
	switch n := exp.Summary.TableName(); {
	case table == "" && n == "":
		return usageErrorf("the export names no table: pass --table")
	case table == "":
		table = n
	case n != "" && n != table:
		return usageErrorf("the incremental export is of table %s, not %s", n, table)
	}
	if f.key != "" || f.schemaSet || f.force || f.moveSchema {
		g.logger.Warn("--key, --schema, --force and --move-schema do not apply to an incremental export: it is applied onto the table's copy where it is",
			"table", table)
	}
	pool, err := g.connect(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	if f.restart {
		if ok, err := load.Abandon(ctx, pool, table); err != nil {
			return fmt.Errorf("discarding the unfinished load of %s: %w", table, err)
		} else if ok {
			g.logger.Info("discarded the unfinished load", "table", table)
		}
	}
	g.logger.Info("applying incremental export", "table", table, "export_arn", exp.ID(), "source", src.String(),
		"from", exp.From, "to", exp.To, "view", string(exp.View), "files", len(exp.Files), "changes", exp.Summary.ItemCount)
	stats := &load.Stats{}
	if f.registry != nil {
		f.registry.Load(table, stats)
	}
	stopProgress := startProgress(ctx, g, f.progress, stats)
	res, err := load.RunIncremental(ctx, pool, exp, load.IncrementalConfig{Table: table, Skew: f.skew, Workers: f.workers,
		Stats: stats, Logger: g.logger, LockTimeout: lockTimeout(f.lockTimeout)})
	stopProgress()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("load %w; run the same command again to resume: %w", errInterrupted, err)
		}
		return err
	}
	if res.Unchanged {
		fmt.Fprintf(g.stdout, "table %s (%s) is already as of %s, not before the end of incremental export %s (%s); nothing to do\n",
			table, res.Table.Sanitize(), fmtUTC(res.AsOf), res.ExportArn, fmtUTC(res.To))
		return nil
	}
	a := res.Applied
	fmt.Fprintf(g.stdout, "applied %d changes from %d files of incremental export %s to %s in %.1fs: %d rows written (%d new), %d deleted",
		res.Changes, res.Files, res.ExportArn, res.Table.Sanitize(), res.Duration.Seconds(), a.Upserted, a.Inserted, a.Deleted+a.Swept)
	if res.FilesResumed > 0 {
		fmt.Fprintf(g.stdout, "; %d files were already staged by an earlier run", res.FilesResumed)
	}
	fmt.Fprintf(g.stdout, "\nwindow [%s, %s): the copy is now as of %s; ddbsync follow replays from %s\n",
		fmtUTC(res.From), fmtUTC(res.To), fmtUTC(res.To), fmtUTC(res.To.Add(-follow.DefaultReplayMargin)))
	return nil
}

func fmtUTC(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
