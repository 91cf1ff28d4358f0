package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/emulator"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/follow"
	"github.com/ddbsync/ddbsync/reconcile/load"
	"github.com/ddbsync/ddbsync/snapshot"
	"github.com/ddbsync/ddbsync/stream"
)

type demoFlags struct {
	items int
	keep  bool
}

func newDemoCmd(g *globals) *cobra.Command {
	var f demoFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole flow on sample data, with no AWS: export, load, follow, diff",
		Long: `demo starts what it needs itself: an in-process DynamoDB, Streams and S3 emulator, and
PostgreSQL: a fresh database of its own on the server DATABASE_URL names (it never writes to
any other) or, when none is given, a throwaway local cluster. It creates a
TenureInformation table with a stream, writes sample tenures, exports the table to S3, loads the
export, keeps writing, follows the stream until caught up, checks the copy against the table,
and prints what happened and SQL to try. It cleans up what it started, also on Ctrl-C.`,
		Example: `  ddbsync demo
  DATABASE_URL=postgres://localhost/analytics ddbsync demo --items 20000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDemo(cmd.Context(), g, f) },
	}
	cmd.Flags().IntVar(&f.items, "items", 5000, "number of sample tenures")
	cmd.Flags().BoolVar(&f.keep, "keep", false, "keep the demo's database (or throwaway cluster) and print how to connect and remove it")
	return cmd
}

// demo holds what the demo started.
type demo struct {
	g    *globals
	out  io.Writer
	log  *slog.Logger
	pg   *demoPostgres
	emu  *emulator.Server
	ddb  *dynamodb.Client
	pool *pgxpool.Pool
	gen  *tenure.Generator
	ids  []string
	// changed counts the changes made after the export, to tell them
	// from the earlier writes the follow replays.
	changed int64

	// writeEvery is how many tenures are written between progress lines,
	// tick how often the load and the follow report. Tests shrink them.
	writeEvery int
	tick       time.Duration
}

func newDemo(g *globals, items int) *demo {
	l := g.logger
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return &demo{g: g, out: g.stdout, log: slog.New(warnAndAbove{l.Handler()}), gen: tenure.NewGenerator(2024),
		writeEvery: max(2500, items/20), tick: 2 * time.Second}
}

// warnAndAbove passes on warnings and errors only: the demo tells its own
// story, and the library's lifecycle events would break into it.
type warnAndAbove struct{ slog.Handler }

func (h warnAndAbove) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.Handler.Enabled(ctx, l)
}

func (h warnAndAbove) WithAttrs(as []slog.Attr) slog.Handler {
	return warnAndAbove{h.Handler.WithAttrs(as)}
}

func (h warnAndAbove) WithGroup(name string) slog.Handler {
	return warnAndAbove{h.Handler.WithGroup(name)}
}

func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.out, "• "+format+"\n", args...)
}

func runDemo(ctx context.Context, g *globals, f demoFlags) error {
	if f.items <= 0 {
		return usageErrorf("--items must be positive")
	}
	return newDemo(g, f.items).runAndCleanUp(ctx, f)
}

// runAndCleanUp runs the demo and then removes what it started, also when
// it fails or is interrupted.
func (d *demo) runAndCleanUp(ctx context.Context, f demoFlags) error {
	start := time.Now()
	err := d.run(ctx, f.items)
	// A failed or interrupted demo leaves nothing behind, even with --keep:
	// a half-built copy is of no use.
	keep := f.keep && err == nil
	cleaned, cerr := d.cleanUp(context.WithoutCancel(ctx), keep)
	if err != nil && ctx.Err() != nil {
		if cerr != nil {
			return fmt.Errorf("demo %w (%w), and cleaning up failed: %w", errInterrupted, context.Canceled, cerr)
		}
		return interruptedError{cleaned: cleaned}
	}
	if err != nil || cerr != nil {
		if cleaned != "" {
			d.say("stopped early; %s", cleaned)
		}
		return errors.Join(err, cerr)
	}
	d.say("done in %s; %s", time.Since(start).Round(100*time.Millisecond), cleaned)
	if keep {
		for _, line := range d.pg.kept() {
			fmt.Fprintf(d.out, "  %s\n", line)
		}
	}
	return nil
}

// interruptedError is a demo stopped by Ctrl-C or SIGTERM that cleaned up
// after itself. It matches context.Canceled without saying so: the user
// asked for the stop, and needs to know only that nothing is left behind.
type interruptedError struct{ cleaned string }

func (e interruptedError) Error() string {
	if e.cleaned == "" {
		return "demo interrupted before it had started anything"
	}
	return "demo interrupted; cleaned up (" + e.cleaned + ")"
}

func (e interruptedError) Unwrap() []error { return []error{errInterrupted, context.Canceled} }

// cleanUp stops what the demo started, keeping its PostgreSQL if keep,
// and says what it did.
func (d *demo) cleanUp(ctx context.Context, keep bool) (string, error) {
	// DROP DATABASE waits for a checkpoint, which a busy server may take
	// a while to reach.
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var done []string
	if d.pool != nil {
		d.pool.Close()
	}
	if d.emu != nil {
		d.emu.Close()
		done = append(done, "the emulator stopped")
	}
	if d.pg == nil {
		return strings.Join(done, ", "), nil
	}
	s, err := d.pg.close(ctx, keep)
	if err == nil {
		done = append(done, s)
	}
	return strings.Join(done, ", "), err
}

// run tells the story: set up, write, export, change, load, change,
// follow, check.
func (d *demo) run(ctx context.Context, items int) (err error) {
	if d.pg, err = startDemoPostgres(ctx, d.g.databaseURL); err != nil {
		return err
	}
	d.say("%s", d.pg.describe())
	g := *d.g
	g.databaseURL = d.pg.url
	g.logger = d.log
	if d.pool, err = g.connect(ctx); err != nil {
		return err
	}
	if err := d.startEmulator(); err != nil {
		return err
	}
	if err := d.createTable(ctx); err != nil {
		return err
	}
	if err := d.write(ctx, items); err != nil {
		return err
	}
	d.say("created table %s (key id, stream NEW_AND_OLD_IMAGES, PITR on) and wrote %d tenures", tenure.TableName, items)

	uri, err := snapshot.RequestExport(ctx, d.ddb, snapshot.ExportRequest{Table: tenure.TableName, Bucket: "demo-exports",
		Prefix: "tenure", Poll: 50 * time.Millisecond})
	if err != nil {
		return err
	}
	d.say("exported the table (ExportTableToPointInTime) to %s", uri)

	// Changes made after the export instant: only the stream has them.
	changed, err := d.changeSome(ctx, items)
	if err != nil {
		return err
	}
	d.say("meanwhile %s", changed)
	d.changed += changed.total()

	layout, err := d.load(ctx, uri)
	if err != nil {
		return err
	}
	more, err := d.changeSome(ctx, items)
	if err != nil {
		return err
	}
	d.say("after the load, %s", more)
	d.changed += more.total()
	if err := d.follow(ctx); err != nil {
		return err
	}
	if err := d.check(ctx, layout); err != nil {
		return err
	}
	d.showQueries(ctx)
	return nil
}

func (d *demo) startEmulator() (err error) {
	d.emu, err = emulator.New(emulator.WithStartTime(time.Now().UTC()), emulator.WithShards(4), emulator.WithExportFiles(4))
	if err != nil {
		return err
	}
	if err := d.emu.Start(); err != nil {
		d.emu = nil // nothing to stop
		return fmt.Errorf("starting the AWS emulator: %w", err)
	}
	d.emu.Clock().Tick()
	d.ddb = d.emu.DynamoDB()
	d.say("AWS emulator (DynamoDB, Streams, S3) listening on %s", d.emu.URL())
	return nil
}

// load loads the export at uri into the demo's database.
func (d *demo) load(ctx context.Context, uri string) (reconcile.Layout, error) {
	key, err := reconcile.ParseKeySchema(tenure.Key.String())
	if err != nil {
		return reconcile.Layout{}, err
	}
	layout, err := reconcile.NewLayout(tenure.TableName, reconcile.DefaultSchema, key)
	if err != nil {
		return layout, err
	}
	src, err := snapshot.NewS3Source(d.emu.S3(), uri)
	if err != nil {
		return layout, err
	}
	exp, err := snapshot.Open(ctx, src)
	if err != nil {
		return layout, err
	}
	var stats load.Stats
	stop := d.every(ctx, func() {
		if total := stats.ItemsTotal.Load(); total > 0 {
			fmt.Fprintf(d.out, "  loaded %d of %d items\n", stats.ItemsDone.Load(), total)
		}
	})
	res, err := load.Run(ctx, d.pool, exp, load.Config{Layout: layout, Logger: d.log, Stats: &stats})
	stop()
	if err != nil {
		return layout, err
	}
	d.say("loaded %d items into %s in %s (checksums and counts verified, published atomically)",
		res.Items, res.Table.Sanitize(), res.Duration.Round(time.Millisecond))
	return layout, nil
}

// follow applies the stream from the export time until caught up.
func (d *demo) follow(ctx context.Context) error {
	var stats follow.Stats
	var shown int64
	stop := d.every(ctx, func() {
		if n := stats.Applied.Load(); n != shown { // quiet while it waits to be sure it caught up
			fmt.Fprintf(d.out, "  applied %d changes so far\n", n)
			shown = n
		}
	})
	fres, err := follow.Run(ctx, d.pool, follow.Config{
		Table: tenure.TableName, Streams: d.emu.Streams(withoutSDKRetries), Tables: d.ddb, UntilCaughtUp: true,
		DiscoverInterval: 200 * time.Millisecond, Logger: d.log, Stats: &stats,
		ReaderOptions: []stream.Option{stream.WithPollInterval(50 * time.Millisecond), stream.WithCaughtUpRule(3, 300*time.Millisecond)},
	})
	stop()
	if err != nil {
		return err
	}
	d.say("followed the stream from the export time: %s; %d shards, watermark %s",
		followed(fres.Applied, d.changed), fres.Shards, fres.Watermark.UTC().Format(time.RFC3339))
	return nil
}

// followed explains the changes a follow applied when after of them were
// made after the export. The rest are writes from shortly before it: the
// follow replays from DefaultReplayMargin before the export time, because an
// export's instant is not exact, and applying a change twice is harmless.
func followed(applied, after int64) string {
	replayed := applied - after
	if replayed <= 0 {
		return fmt.Sprintf("%d changes applied, of the %d made after the export", applied, after)
	}
	return fmt.Sprintf("%d changes made after the export, plus %d writes from the %.0f minutes before it, "+
		"replayed because an export's instant is not exact (replaying is idempotent)",
		after, replayed, follow.DefaultReplayMargin.Minutes())
}

// every calls report every d.tick until the returned stop is called, for
// progress lines during a long step. Nothing else writes to d.out until
// stop returns.
func (d *demo) every(ctx context.Context, report func()) (stop func()) {
	return every(ctx, d.tick, report)
}

func (d *demo) createTable(ctx context.Context) error {
	_, err := d.ddb.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(tenure.TableName),
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		BillingMode:          types.BillingModePayPerRequest,
		StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages},
	})
	if err != nil {
		return fmt.Errorf("creating the demo table: %w", err)
	}
	_, err = d.ddb.UpdateContinuousBackups(ctx, &dynamodb.UpdateContinuousBackupsInput{
		TableName:                        aws.String(tenure.TableName),
		PointInTimeRecoverySpecification: &types.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: aws.Bool(true)},
	})
	if err != nil {
		return err
	}
	return d.emu.CreateBucket("demo-exports")
}

// write puts n new tenures, 25 to a call, with a progress line every
// d.writeEvery.
func (d *demo) write(ctx context.Context, n int) error {
	var reqs []types.WriteRequest
	written := 0
	flush := func() error {
		if len(reqs) == 0 {
			return nil
		}
		_, err := d.ddb.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{tenure.TableName: reqs}})
		if err != nil {
			return err
		}
		before := written
		written += len(reqs)
		reqs = nil
		if written < n && written/d.writeEvery > before/d.writeEvery {
			fmt.Fprintf(d.out, "  wrote %d of %d tenures\n", written, n)
		}
		return nil
	}
	for range n {
		id := d.gen.ID()
		d.ids = append(d.ids, id)
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: d.gen.ItemWithID(id)}})
		if len(reqs) == 25 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// changeSome updates, deletes and adds tenures as the Tenure API would.
func (d *demo) changeSome(ctx context.Context, items int) (changes, error) {
	var c changes
	update, gone := planChanges(d.ids, items)
	for _, id := range update {
		out, err := d.ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(tenure.TableName),
			Key: ddbjson.Item{"id": &types.AttributeValueMemberS{Value: id}}})
		if err != nil {
			return c, err
		}
		if out.Item == nil {
			continue
		}
		if _, err := d.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tenure.TableName), Item: d.gen.Update(out.Item)}); err != nil {
			return c, err
		}
		c.updated++
	}
	d.ids = d.ids[:len(d.ids)-len(gone)]
	for _, id := range gone {
		if _, err := d.ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(tenure.TableName),
			Key: ddbjson.Item{"id": &types.AttributeValueMemberS{Value: id}}}); err != nil {
			return c, err
		}
		c.deleted++
	}
	if err := d.write(ctx, len(gone)); err != nil {
		return c, err
	}
	c.added = len(gone)
	return c, nil
}

// changes counts a round of changes, each a stream record.
type changes struct{ updated, deleted, added int }

func (c changes) total() int64 { return int64(c.updated + c.deleted + c.added) }

func (c changes) String() string {
	return fmt.Sprintf("%d tenures were updated, %d deleted and %d added", c.updated, c.deleted, c.added)
}

// planChanges picks the ids of a round of changes to a table of items
// tenures: one in 20 to update, spread over ids, and a tenth as many to
// delete, the newest ones, each once. The deleted ids are a copy, because
// the caller shortens ids and appends the replacements in their place.
func planChanges(ids []string, items int) (update, gone []string) {
	n := max(1, items/20)
	update = make([]string, n)
	for i := range n {
		update[i] = ids[(i*7919+len(ids))%len(ids)]
	}
	del := min(len(ids), max(1, n/10))
	return update, slices.Clone(ids[len(ids)-del:])
}
