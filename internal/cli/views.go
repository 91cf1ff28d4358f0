package cli

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/ddbsync/ddbsync/reconcile/store"
	"github.com/ddbsync/ddbsync/reconcile/views"
)

type viewsFlags struct {
	table     string
	schema    string
	schemaSet bool
	sample    int64
}

func newViewsCmd(g *globals) *cobra.Command {
	var f viewsFlags
	cmd := &cobra.Command{
		Use:   "views [--table NAME] [--schema analytics] [--sample N]",
		Short: "Create or update typed views of loaded tables, inferred from their items",
		Long: `views reads a loaded table's items (a sample of --sample items, or all of them) and writes
one view per table in --schema, with a column per top-level attribute typed from what the items
hold, the key columns first, maps flattened one level, and a child view per list of maps. Every
column's comment gives its DynamoDB attribute, the types seen and the share of items that have it.

Run again, it keeps each view's columns, appends new ones and widens a column's type only by the
rule bigint → numeric, date → timestamptz → text, anything → jsonb. A widening that needs the
view dropped while other views depend on it is refused (exit 1), naming them.

With --config and no --table it writes the views of every table of the file; a table whose
config says views: true gets them from load and follow without this command.`,
		Example: `  ddbsync views --table TenureInformation
  ddbsync views --table TenureInformation --schema analytics --sample 0`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.schemaSet = cmd.Flags().Changed("schema")
			return runViews(cmd.Context(), g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.table, "table", "", "DynamoDB table name (default with --config: every table of the file)")
	fl.StringVar(&f.schema, "schema", views.DefaultSchema, "PostgreSQL schema for the views (not the data table's)")
	fl.Int64Var(&f.sample, "sample", views.DefaultSample, "read at most this many items, a random sample of the table's pages (0: every item)")
	return cmd
}

func runViews(ctx context.Context, g *globals, f viewsFlags) error {
	if f.sample < 0 {
		return usageErrorf("--sample must not be negative")
	}
	tables, err := g.selectTables(f.table)
	if err != nil {
		return err
	}
	pool, err := g.connect(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	for _, t := range tables {
		cfg := viewsConfig(g, t)
		if f.schemaSet || t.ViewsSchema == "" {
			cfg.Schema = f.schema
		}
		cfg.Sample = f.sample
		if f.sample == 0 {
			cfg.Sample = -1
		}
		if err := writeViews(ctx, g, pool, cfg); err != nil {
			return err
		}
	}
	return nil
}

// viewsConfig is the views settings of table t.
func viewsConfig(g *globals, t tableConfig) views.Config {
	return views.Config{Table: t.Name, Schema: t.ViewsSchema, Logger: g.logger}
}

// writeViews writes a table's views and says what it read and did.
func writeViews(ctx context.Context, g *globals, pool *pgxpool.Pool, cfg views.Config) error {
	res, err := views.Run(ctx, pool, cfg)
	if err != nil {
		return err
	}
	how := "all of them"
	if res.Sampled {
		how = fmt.Sprintf("a sample of the table's %d (estimated)", res.Total)
	}
	fmt.Fprintf(g.stdout, "%s: read %d items (%s) in %.1fs\n", cfg.Table, res.Items, how, res.Read.Seconds())
	for _, v := range res.Views {
		what := "up to date"
		switch {
		case v.Created:
			what = "created"
		case len(v.Added) > 0 || len(v.Widened) > 0:
			what = "updated"
		}
		fmt.Fprintf(g.stdout, "  %s: %s, %d columns", v.View, what, v.Columns)
		if !v.Created && len(v.Added) > 0 {
			fmt.Fprintf(g.stdout, "; added %s", strings.Join(v.Added, ", "))
		}
		if len(v.Widened) > 0 {
			fmt.Fprintf(g.stdout, "; widened %s", strings.Join(v.Widened, ", "))
		}
		if v.AsOf != "" {
			fmt.Fprintf(g.stdout, "; as of any instant: %s", v.AsOf)
		}
		fmt.Fprintln(g.stdout)
	}
	return nil
}

// viewsKeepInterval is how often a follower looks at the rows its stream
// wrote for attributes and types its table's views lack: a minute keeps
// the views close behind the data for one scan of synced_at a minute.
const viewsKeepInterval = time.Minute

// keepViews keeps table t's views current beside its follower, when its
// config says views: true. stop ends it and looks once more at every row
// written since it started, so that a follow --until-caught-up leaves the
// views with what it applied.
func keepViews(ctx context.Context, g *globals, pool *pgxpool.Pool, t tableConfig) (stop func()) {
	if !t.Views {
		return func() {}
	}
	cfg := viewsConfig(g, t)
	start, err := store.DatabaseNow(ctx, pool)
	if err != nil {
		start = time.Now()
	}
	kctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { views.Keep(kctx, pool, cfg, viewsKeepInterval) })
	return func() {
		cancel()
		wg.Wait()
		if ctx.Err() != nil {
			return
		}
		if _, _, err := views.Refresh(ctx, pool, cfg, start.Add(-time.Minute)); err != nil {
			g.logger.Warn("keeping the typed views current", "table", t.Name, "error", err.Error())
		}
	}
}
