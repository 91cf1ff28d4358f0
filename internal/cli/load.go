package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/metrics"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/load"
	"github.com/ddbsync/ddbsync/reconcile/store"
	"github.com/ddbsync/ddbsync/snapshot"
)

type loadFlags struct {
	export      string
	table       string
	key         string
	schema      string
	workers     int
	restart     bool
	force       bool
	worker      bool
	moveSchema  bool
	progress    string
	schemaSet   bool // --schema given explicitly
	metricsAddr string
	lockTimeout time.Duration
	skew        time.Duration
	docValue    bool              // --doc as parsed
	doc         *bool             // --doc when given, else the table's setting in the config file
	registry    *metrics.Registry // serving --metrics-addr, once started
	history     historyFlags
}

// addDocFlag adds --doc, whether the data table gets the doc column.
func addDocFlag(fl *pflag.FlagSet, f *loadFlags) {
	fl.BoolVar(&f.docValue, "doc", false, "give the data table a doc column, each item again as plain JSON (default: as the table's copy has it, else none)")
}

// docChoice is --doc when it was given, else nil.
func docChoice(cmd *cobra.Command, f *loadFlags) *bool {
	if cmd.Flags().Changed("doc") {
		return &f.docValue
	}
	return nil
}

func newLoadCmd(g *globals) *cobra.Command {
	var f loadFlags
	cmd := &cobra.Command{
		Use:   "load --export SRC [--table NAME] [--key HASH[,RANGE]]",
		Short: "Verify a DynamoDB export and load it into PostgreSQL atomically",
		Long: `load reads a DynamoDB point-in-time export (ExportTableToPointInTime output, DYNAMODB_JSON),
verifies its manifests, checksums and item counts, copies it into a fresh table and publishes
that table in one transaction as schema.table_name. Run it again after an interruption and it
resumes at the next unfinished data file.

A reload keeps what was built on the table (views, indexes, grants, comments, row-level
security policies, owner) and restarts following from the new export. Loading the export the
table already holds does nothing unless --force is given. Loading into another --schema than
the table's copy is refused unless --move-schema is given.

SRC is the export's own folder, the one holding manifest-summary.json: a local directory or
s3://bucket/prefix/AWSDynamoDB/<export-id>/.

An incremental export (ExportType INCREMENTAL_EXPORT, told by its summary) is applied onto the
table's loaded copy instead: its window must start where the copy is complete (its export time,
or its watermark minus --skew), every change replaces or deletes its row, atomically, and
following restarts from the export's end.

With --worker, several load processes, on one host or several, load one export together: start
the same command on each. The first begins the load, each copies data files no other one has,
a killed worker's file is taken over by another as soon as PostgreSQL has ended its session,
and every worker exits once the load is published, by whichever finished first.`,
		Example: `  ddbsync load --export ./export/AWSDynamoDB/01700000000000-abcd1234 --table TenureInformation --key id
  ddbsync load --export s3://exports/tenure/AWSDynamoDB/01700000000000-abcd1234/ --table TenureInformation`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.schemaSet = cmd.Flags().Changed("schema")
			f.doc = docChoice(cmd, &f)
			f.history.changed = cmd.Flags().Changed
			if !f.schemaSet {
				f.schema = g.schemaFor(g.config.table(f.table), f.schema, false)
			}
			return runLoad(cmd.Context(), g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.export, "export", "", "the export folder: a local directory or s3://bucket/key/ (default with --config: each table's export)")
	fl.StringVar(&f.table, "table", "", "DynamoDB table name (default: from the export's table ARN)")
	fl.StringVar(&f.key, "key", "", "key attributes HASH[,RANGE], each NAME or NAME:S|N|B (default: the last load's, else DescribeTable)")
	fl.StringVar(&f.schema, "schema", reconcile.DefaultSchema, "PostgreSQL schema for the data table (env DDBSYNC_SCHEMA)")
	fl.IntVar(&f.workers, "workers", 0, "data files loaded at once (default: twice the CPUs, at least 4)")
	fl.BoolVar(&f.restart, "restart", false, "discard an unfinished load of this table instead of resuming it")
	fl.BoolVar(&f.worker, "worker", false, "be one of several load processes of this export, on this host or others: share the files, one publishes")
	fl.BoolVar(&f.force, "force", false, "reload the export the table already holds (restarts following from the export)")
	fl.BoolVar(&f.moveSchema, "move-schema", false, "move the table's copy, with what was built on it, to --schema when it is in another schema")
	fl.StringVar(&f.progress, "progress", "auto", "progress display: auto (bar on a terminal, else log lines), bar, log or none")
	fl.StringVar(&f.metricsAddr, "metrics-addr", os.Getenv("DDBSYNC_METRICS_ADDR"), "serve load progress on /metrics at this address (env DDBSYNC_METRICS_ADDR)")
	fl.DurationVar(&f.skew, "skew", load.DefaultSkew, "with an incremental export: the replay margin (a followed copy is complete up to its watermark minus this)")
	addDocFlag(fl, &f)
	addHistoryFlags(fl, &f.history)
	addLockTimeoutFlag(fl, &f.lockTimeout)
	return cmd
}

func runLoad(ctx context.Context, g *globals, f loadFlags) error {
	switch f.progress {
	case "auto", "bar", "log", "none":
	default:
		return usageErrorf("--progress %q: want auto, bar, log or none", f.progress)
	}
	if f.worker && (f.force || f.restart) {
		return usageErrorf("--worker cannot be given with --force or --restart: a late worker would start the load again; run one load with it, then the workers")
	}
	if f.metricsAddr != "" {
		f.registry = metrics.NewRegistry()
		addr, err := f.registry.Serve(ctx, f.metricsAddr, time.Minute, g.logger)
		if err != nil {
			return err
		}
		g.logger.Info("serving metrics", "addr", addr)
	}
	if f.export != "" {
		if f.table != "" {
			if f.key == "" {
				f.key = g.config.table(f.table).Key
			}
			if f.doc == nil {
				f.doc = g.config.table(f.table).Doc
			}
		}
		return loadOne(ctx, g, f)
	}
	// Every table of the configuration file (or the one named) that names an export.
	tables, err := g.selectTables(f.table)
	if err != nil {
		return usageErrorf("--export is required (or a --config file whose tables name their export)")
	}
	for _, t := range tables {
		if t.Export == "" {
			if f.table != "" {
				return usageErrorf("--export is required: the config names no export for table %s", t.Name)
			}
			g.logger.Info("no export configured; skipping", "table", t.Name)
			continue
		}
		tf := f
		tf.export, tf.table = t.Export, t.Name
		if tf.key == "" {
			tf.key = t.Key
		}
		if tf.doc == nil {
			tf.doc = t.Doc
		}
		tf.schema = g.schemaFor(t, f.schema, f.schemaSet)
		if err := loadOne(ctx, g, tf); err != nil {
			return err
		}
	}
	return nil
}

func loadOne(ctx context.Context, g *globals, f loadFlags) error {
	src, err := g.openSource(ctx, f.export)
	if err != nil {
		return err
	}
	if incremental(ctx, src) {
		if f.worker {
			return usageErrorf("--worker loads a full export; %s is an incremental one, which one process applies", src)
		}
		return loadIncremental(ctx, g, f, src)
	}
	exp, err := snapshot.Open(ctx, src)
	if err != nil {
		return fmt.Errorf("reading export %s: %w", src, err)
	}
	table := f.table
	if table == "" {
		if table = exp.Summary.TableName(); table == "" {
			return usageErrorf("the export names no table: pass --table")
		}
	} else if n := exp.Summary.TableName(); n != "" && n != table {
		g.logger.Warn("the export is of another table", "table", table, "export_table", n)
	}
	pool, err := g.connect(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	key, err := g.resolveKey(ctx, pool, exp, table, f.key)
	if err != nil {
		return err
	}
	layout, err := reconcile.NewLayout(table, f.schema, key)
	if err != nil {
		return usageError{err}
	}
	history, retention, err := f.history.forTable(g.config.table(table))
	if err != nil {
		return err
	}
	if f.restart {
		if ok, err := load.Abandon(ctx, pool, table); err != nil {
			return fmt.Errorf("discarding the unfinished load of %s: %w", table, err)
		} else if ok {
			g.logger.Info("discarded the unfinished load", "table", table)
		}
	}
	g.logger.Info("loading export", "table", table, "export_arn", exp.ID(), "source", src.String(),
		"files", len(exp.Files), "items", exp.Summary.ItemCount, "checksums_verified", strings.Join(exp.Verified, ","))
	stats := &load.Stats{}
	if f.registry != nil {
		f.registry.Load(table, stats)
	}
	stopProgress := startProgress(ctx, g, f.progress, stats)
	res, err := load.Run(ctx, pool, exp, load.Config{Layout: layout, Doc: f.doc, Workers: f.workers, Stats: stats, Logger: g.logger,
		LockTimeout: lockTimeout(f.lockTimeout), Force: f.force, MoveSchema: f.moveSchema, Worker: f.worker,
		History: history, HistoryRetention: retention})
	stopProgress()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("load %w; run the same command again to resume: %w", errInterrupted, err)
		}
		return err
	}
	if res.Unchanged {
		by := ""
		if res.PublishedBy != "" {
			by = ", published by worker " + res.PublishedBy
		}
		fmt.Fprintf(g.stdout, "table %s (%s) already holds export %s (loaded at %s%s); nothing to do; use --force to reload it\n",
			table, res.Table.Sanitize(), res.ExportArn, res.LoadedAt.UTC().Format(time.RFC3339), by)
		return nil
	}
	if !res.Published {
		fmt.Fprintf(g.stdout, "this worker copied %d of %d files; worker %s published load %d (%d items) into %s\n",
			res.FilesCopied, res.Files, res.PublishedBy, res.LoadID, res.Items, res.Table.Sanitize())
		return nil
	}
	secs := res.Duration.Seconds()
	fmt.Fprintf(g.stdout, "loaded %d items from %d files into %s in %.1fs (%.0f items/s, %.1f MB/s compressed)",
		res.Items, res.Files, res.Table.Sanitize(), secs, float64(res.Items-res.ItemsResumed)/secs, float64(res.Bytes)/1e6/secs)
	if res.FilesResumed > 0 {
		fmt.Fprintf(g.stdout, "; %d files were already loaded by an earlier run", res.FilesResumed)
	}
	if f.worker {
		fmt.Fprintf(g.stdout, "; this worker copied %d files and published the load", res.FilesCopied)
	}
	fmt.Fprintf(g.stdout, "\nexport %s, data as of %s\n", res.ExportArn, res.ExportTime.UTC().Format("2006-01-02T15:04:05.000Z"))
	if t := g.config.table(table); t.Views {
		return writeViews(ctx, g, pool, viewsConfig(g, t))
	}
	return nil
}

func (g *globals) openSource(ctx context.Context, uri string) (snapshot.Source, error) {
	if strings.HasPrefix(uri, "s3://") {
		cfg, err := g.awsConfig(ctx)
		if err != nil {
			return nil, err
		}
		src, err := snapshot.NewS3Source(g.s3Client(cfg), uri)
		if err != nil {
			return nil, usageError{err}
		}
		return src, nil
	}
	src, err := snapshot.NewDirSource(uri)
	if err != nil {
		return nil, usageError{err}
	}
	return src, nil
}

// resolveKey finds the table's key: --key, else the key of the previous
// load, else DescribeTable. Types missing from --key are read from the
// export's first item.
func (g *globals) resolveKey(ctx context.Context, pool *pgxpool.Pool, exp *snapshot.Export, table, spec string) (reconcile.KeySchema, error) {
	if spec == "" {
		var err error
		if spec, err = store.Tables.KeySchema(ctx, pool, table); err != nil {
			return reconcile.KeySchema{}, err
		}
	}
	if spec == "" {
		key, err := g.describeKey(ctx, table)
		if err != nil {
			return reconcile.KeySchema{}, usageErrorf("cannot tell the key of table %s: pass --key HASH[,RANGE] (DescribeTable: %v)", table, err)
		}
		return key, nil
	}
	key, err := reconcile.ParseKeySchema(spec)
	if err != nil {
		return key, usageError{err}
	}
	if key.Typed() {
		return key, nil
	}
	return inferKeyTypes(ctx, exp, key)
}

func (g *globals) describeKey(ctx context.Context, table string) (reconcile.KeySchema, error) {
	ctx, cancel := context.WithTimeout(ctx, shortTimeout)
	defer cancel()
	cfg, err := g.awsConfig(ctx)
	if err != nil {
		return reconcile.KeySchema{}, err
	}
	out, err := g.dynamodbClient(cfg).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)},
		func(o *dynamodb.Options) { o.RetryMaxAttempts = 2 })
	if err != nil {
		return reconcile.KeySchema{}, err
	}
	return keyFromDescription(out.Table)
}

func inferKeyTypes(ctx context.Context, exp *snapshot.Export, key reconcile.KeySchema) (reconcile.KeySchema, error) {
	for _, f := range exp.Files {
		if f.ItemCount == 0 {
			continue
		}
		r, err := exp.OpenFile(ctx, f)
		if err != nil {
			return key, err
		}
		ok := r.Next()
		item := r.Item()
		err = r.Err()
		r.Close()
		if !ok {
			return key, err
		}
		attrs := []*reconcile.KeyAttribute{&key.Hash, &key.Range}
		for _, a := range attrs {
			if a.Name == "" || a.Type != "" {
				continue
			}
			v, present := item[a.Name]
			if !present {
				return key, fmt.Errorf("%s line 1: %w: key attribute %q is missing; is --key right?", f.Name, ddbjson.ErrMissingKey, a.Name)
			}
			a.Type = string(ddbjson.TypeOf(v))
		}
		return key, nil
	}
	// An empty export: any type will do, nothing will be stored.
	if key.Hash.Type == "" {
		key.Hash.Type = string(ddbjson.TypeS)
	}
	if key.Range.Name != "" && key.Range.Type == "" {
		key.Range.Type = string(ddbjson.TypeS)
	}
	return key, nil
}

// addLockTimeoutFlag adds --lock-timeout, how long to wait for another
// ddbsync process holding the table.
func addLockTimeoutFlag(fl *pflag.FlagSet, d *time.Duration) {
	fl.DurationVar(d, "lock-timeout", reconcile.DefaultLockTimeout, "wait this long for another ddbsync process holding the table before refusing (0: do not wait)")
}

// lockTimeout turns --lock-timeout into the library's setting, where 0
// means the default and a negative value no wait.
func lockTimeout(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}
