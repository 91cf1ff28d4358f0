package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/emulator"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/snapshot"
	"github.com/ddbsync/ddbsync/stream"
)

// ChildEnv, when set in a test binary's environment, makes its TestMain run
// ddbsync with the JSON array of arguments it holds instead of the tests
// (see [RunChild]).
const ChildEnv = "DDBSYNC_SCENARIO_CHILD_ARGS"

// Totals are the figures of a run of scenarios, safe for concurrent use.
type Totals struct {
	Scenarios     atomic.Int64
	LoadCrashes   atomic.Int64 // loads cancelled or killed, then resumed
	FollowCancels atomic.Int64 // in-process follows cancelled at a random point
	ChildKills    atomic.Int64 // ddbsync child processes killed with SIGKILL
	APIRetries    atomic.Int64 // throttles, 5xx and expired iterators the readers met and retried
	EmptyPages    atomic.Int64 // forced empty GetRecords pages
	ClockJumps    atomic.Int64 // fake-clock jumps past the iterator life
	ShardEvents   atomic.Int64 // rollovers and splits
	Changes       atomic.Int64 // stream changes applied (per shard checkpoints, summed)
	Checks        atomic.Int64 // watermark checks passed
	Refusals      atomic.Int64 // gap refusals that were required or allowed, and correct
	Divergences   atomic.Int64 // scenarios that failed an assertion
	Diffs         atomic.Int64 // ddbsync diff runs that found nothing
}

// Crashes is the number of crashes injected.
func (t *Totals) Crashes() int64 {
	return t.LoadCrashes.Load() + t.FollowCancels.Load() + t.ChildKills.Load()
}

// Faults is the number of faults injected.
func (t *Totals) Faults() int64 {
	return t.APIRetries.Load() + t.EmptyPages.Load() + t.ClockJumps.Load() + t.ShardEvents.Load()
}

func (t *Totals) String() string {
	return fmt.Sprintf("scenarios run: %d\ncrashes injected: %d (load %d, follow cancelled %d, child SIGKILL %d)\n"+
		"faults injected: %d (API errors and expired iterators retried %d, forced empty pages %d, clock jumps %d, shard rollovers and splits %d)\n"+
		"changes applied: %d\nwatermark checks: %d\ndiffs with 0 findings: %d\ndivergences found: %d\nrefusals that were correct: %d",
		t.Scenarios.Load(), t.Crashes(), t.LoadCrashes.Load(), t.FollowCancels.Load(), t.ChildKills.Load(),
		t.Faults(), t.APIRetries.Load(), t.EmptyPages.Load(), t.ClockJumps.Load(), t.ShardEvents.Load(),
		t.Changes.Load(), t.Checks.Load(), t.Diffs.Load(), t.Divergences.Load(), t.Refusals.Load())
}

// env is one scenario's world: the emulator, the database, the model.
type env struct {
	t      T
	plan   Plan
	r      *rand.Rand
	g      gen
	totals *Totals

	emu     *emulator.Server
	ddb     *dynamodb.Client        // the driver's
	tables  *dynamodb.Client        // the follower's (fast retries)
	streams countingStreams         // the follower's
	plain   *dynamodbstreams.Client // the checker's
	dbURL   string
	pool    *pgxpool.Pool
	layout  reconcile.Layout
	m       *model

	// clockMu serialises moves of the fake clock: the ticker's and the
	// driver's writes, so a write's time is the clock's when it returns.
	clockMu sync.Mutex

	exportTime  time.Time
	lastW       time.Time // the last published watermark seen
	faultsOn    bool
	transient   int // follow errors tolerated while faults were on
	apiRetries  atomic.Int64
	log         []string
	hotKeys     []int
	writesTotal int
}

func fastRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 20
		o.RateLimiter = ratelimit.None
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
	})
}

func newEnv(t T, plan Plan, dbURL string, totals *Totals) *env {
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	if plan.Kind == KindCLI {
		// A child ddbsync reads the wall clock: keep the fake one ahead of
		// it, so the child's caught-up watermark (wall time minus a margin)
		// stays behind every write.
		start = time.Now().UTC().Add(time.Hour).Truncate(time.Second)
	}
	emu, err := emulator.New(emulator.WithStartTime(start), emulator.WithSeed(plan.Seed),
		emulator.WithShards(plan.Shards), emulator.WithExportFiles(plan.ExportFiles),
		emulator.WithIteratorTTL(plan.IteratorTTL))
	if err == nil {
		err = emu.Start()
	}
	if err != nil {
		t.Fatalf("seed %d: starting the emulator: %v", plan.Seed, err)
	}
	t.Cleanup(emu.Close)
	e := &env{
		t: t, plan: plan, totals: totals,
		r:      rand.New(rand.NewPCG(plan.Seed, 0xd41e)),
		emu:    emu,
		ddb:    emu.DynamoDB(),
		tables: emu.DynamoDB(func(o *dynamodb.Options) { o.Retryer = fastRetryer() }),
		plain:  emu.Streams(),
		dbURL:  dbURL,
		m:      newModel(),
	}
	e.streams = countingStreams{
		reads:    emu.Streams(func(o *dynamodbstreams.Options) { o.Retryer = aws.NopRetryer{} }),
		describe: emu.Streams(func(o *dynamodbstreams.Options) { o.Retryer = fastRetryer() }),
		errs:     &e.apiRetries,
	}
	e.g = gen{r: rand.New(rand.NewPCG(plan.Seed, 0x17e3))}
	pool, err := pgxpool.New(t.Context(), e.dbURL)
	e.must(err, "connecting to the test database")
	t.Cleanup(pool.Close)
	e.pool = pool
	ks, err := ddbjson.ParseKeySchema(keySpec)
	e.must(err, "key schema")
	e.layout, err = reconcile.NewLayout(tableName, "", ks)
	e.must(err, "layout")
	for i := range plan.HotKeys {
		e.hotKeys = append(e.hotKeys, (i*7)%plan.Keys)
	}
	_, err = e.ddb.CreateTable(t.Context(), &dynamodb.CreateTableInput{
		TableName: aws.String(tableName),
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange},
		},
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeN},
		},
		BillingMode:         types.BillingModePayPerRequest,
		StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages},
	})
	e.must(err, "creating the table")
	return e
}

// fail stops the scenario with its seed, plan, history and replay command.
func (e *env) fail(format string, args ...any) {
	e.t.Helper()
	e.totals.Divergences.Add(1)
	hist := e.log
	if len(hist) > 40 {
		hist = hist[len(hist)-40:]
	}
	e.t.Fatalf("DIVERGENCE: %s\n%s\nlast events:\n  %s\nreplay: go test ./internal/scenario -run 'TestScenarios$' -seed=%d -v",
		fmt.Sprintf(format, args...), e.plan, strings.Join(hist, "\n  "), e.plan.Seed)
}

func (e *env) must(err error, what string) {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("seed %d: %s: %v\nreplay: go test ./internal/scenario -run 'TestScenarios$' -seed=%d -v", e.plan.Seed, what, err, e.plan.Seed)
	}
}

func (e *env) logf(format string, args ...any) {
	e.log = append(e.log, e.emu.Clock().Now().Format("15:04:05.000")+" "+fmt.Sprintf(format, args...))
}

func (e *env) now() time.Time { return e.emu.Clock().Now() }

// advance moves the fake clock under clockMu.
func (e *env) advance(d time.Duration) {
	e.clockMu.Lock()
	defer e.clockMu.Unlock()
	e.emu.Clock().Advance(d)
}

// ticking keeps the fake clock moving (20 ms of fake time per real
// millisecond) until the returned stop is called, so that readers using it
// see time pass while the driver waits.
func (e *env) ticking() (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tk := time.NewTicker(time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-done:
				return
			case <-tk.C:
				e.advance(20 * time.Millisecond)
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// pickKey chooses a key, hot keys taking HotShare of the writes.
func (e *env) pickKey() int {
	if e.r.Float64() < e.plan.HotShare {
		return e.hotKeys[e.r.IntN(len(e.hotKeys))]
	}
	return e.r.IntN(e.plan.Keys)
}

// write makes one random write and records its outcome in the model.
func (e *env) write() {
	e.t.Helper()
	ctx := e.t.Context()
	i := e.pickKey()
	key := keyItem(i)
	ck, err := canonicalKey(key)
	e.must(err, "key")
	var gap time.Duration
	switch x := e.r.IntN(10); {
	case x < 3: // same second as the previous write
	case x < 9:
		gap = time.Duration(e.r.IntN(2500)) * time.Millisecond
	default:
		gap = time.Duration(5+e.r.IntN(60)) * time.Second
	}
	e.clockMu.Lock()
	defer e.clockMu.Unlock()
	e.emu.Clock().Advance(gap)
	op := ""
	switch x := e.r.IntN(100); {
	case x < 30:
		op = "put"
		_, err = e.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tableName), Item: e.g.item(key)})
	case x < 45:
		op = "save" // read, change, write back the whole item
		cur := e.getLocked(key)
		if cur == nil {
			cur = e.g.item(key)
		}
		cur[attrNames[e.g.r.IntN(len(attrNames))]] = e.g.value(1)
		_, err = e.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tableName), Item: cur})
	case x < 75:
		op = "update"
		expr, names, values := e.g.update()
		_, err = e.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(tableName), Key: key,
			UpdateExpression: aws.String(expr), ExpressionAttributeNames: names, ExpressionAttributeValues: values})
	case x < 91:
		op = "delete"
		_, err = e.ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(tableName), Key: key})
	default:
		op = "ttl"
		_, err = e.emu.ExpireItem(tableName, key)
	}
	e.must(err, op)
	at := e.emu.Clock().Now()
	enc := ""
	if it := e.getLocked(key); it != nil {
		b, err := ddbjson.EncodeItem(it)
		e.must(err, "encoding")
		enc = string(b)
	}
	e.m.record(ck, at, enc)
	e.writesTotal++
}

func (e *env) getLocked(key ddbjson.Item) ddbjson.Item {
	out, err := e.ddb.GetItem(e.t.Context(), &dynamodb.GetItemInput{TableName: aws.String(tableName), Key: key, ConsistentRead: aws.Bool(true)})
	e.must(err, "GetItem")
	return out.Item
}

func (e *env) writes(n int) {
	e.t.Helper()
	for range n {
		e.write()
	}
	e.logf("%d writes", n)
}

// exportAt writes an export of the table as of at into a new folder.
func (e *env) exportAt(at time.Time) string {
	dir := e.t.TempDir()
	_, err := e.emu.ExportToDir(e.t.Context(), tableName, at, dir)
	e.must(err, "exporting")
	e.logf("export as of %s", at.Format("15:04:05.000"))
	return dir
}

func (e *env) loadOnce(ctx context.Context, dir string, stats *reconcile.LoadStats) error {
	src, err := snapshot.NewDirSource(dir)
	if err != nil {
		return err
	}
	exp, err := snapshot.Open(ctx, src)
	if err != nil {
		return err
	}
	_, err = reconcile.Load(ctx, e.pool, exp, reconcile.LoadConfig{Layout: e.layout, Workers: 1 + e.r.IntN(3), Stats: stats})
	return err
}

// load loads the export in dir as of at, interrupting it first as the plan
// says, and checks the copy is exactly the table as of at.
func (e *env) load(dir string, at time.Time, crash LoadCrash) {
	e.t.Helper()
	switch crash {
	case LoadCancelFiles, LoadCancelAtOnce:
		ctx, cancel := context.WithCancel(e.t.Context())
		stats := &reconcile.LoadStats{}
		after := int64(e.r.IntN(e.plan.ExportFiles))
		delay := time.Duration(e.r.IntN(4000)) * time.Microsecond
		go func() {
			if crash == LoadCancelAtOnce {
				time.Sleep(delay)
			} else {
				for stats.FilesDone.Load() < after && ctx.Err() == nil {
					time.Sleep(100 * time.Microsecond)
				}
			}
			cancel()
		}()
		err := e.loadOnce(ctx, dir, stats)
		cancel()
		e.logf("load cancelled (files done %d): %v", stats.FilesDone.Load(), err)
		e.totals.LoadCrashes.Add(1)
	case LoadKillChild:
		cmd, out := e.child("load", "--export", dir, "--key", keySpec, "--workers", "1", "--progress", "none")
		e.waitUntil(3*time.Second, func() bool { return e.count(`SELECT count(*) FROM ddbsync.load_files`) >= 1 || exited(cmd) })
		e.kill(cmd, out, "load")
	}
	// A killed process's session, and so its advisory lock, outlives it
	// until the server notices.
	var err error
	for range 200 {
		if err = e.loadOnce(e.t.Context(), dir, nil); err == nil || !strings.Contains(err.Error(), "is running") {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.must(err, "loading")
	e.lastW, e.exportTime = time.Time{}, at
	e.logf("loaded")
	got := e.pgItems()
	for k := range e.m.keys {
		if want := e.m.stateAt(k, at); got[k] != want {
			e.fail("after load of the export as of %s, key %s is %q, want %q", at, k, got[k], want)
		}
		delete(got, k)
	}
	for k := range got {
		e.fail("after load, key %s is in the copy but was never written", k)
	}
}

// followConfig is a follow on the fake clock with millisecond timing.
func (e *env) followConfig(stats *reconcile.FollowStats, untilCaughtUp bool) reconcile.FollowConfig {
	clock := e.emu.Clock().Now
	return reconcile.FollowConfig{
		Table:            tableName,
		Streams:          e.streams,
		Tables:           e.tables,
		UntilCaughtUp:    untilCaughtUp,
		DiscoverInterval: 20 * time.Millisecond,
		Now:              clock,
		ApplyBackoff:     stream.Backoff{Base: 2 * time.Millisecond, Cap: 20 * time.Millisecond},
		Stats:            stats,
		ReaderOptions: []stream.Option{
			stream.WithPollInterval(time.Millisecond),
			stream.WithCaughtUpRule(3, 500*time.Millisecond),
			stream.WithClock(clock),
			stream.WithBackoff(stream.Backoff{Base: time.Millisecond, Cap: 10 * time.Millisecond}),
		},
	}
}

// followErr judges an error of a follow that should not have met a gap.
func (e *env) followErr(err error, what string) {
	e.t.Helper()
	switch {
	case err == nil:
	case errors.Is(err, stream.ErrGap):
		e.fail("%s refused with a gap in a scenario that never crossed the retention: %v", what, err)
	case e.faultsOn || errors.Is(err, reconcile.ErrBusy):
		e.transient++
		e.logf("%s failed while faults were on (tolerated): %v", what, err)
	default:
		e.fail("%s failed: %v", what, err)
	}
}

// follow runs an in-process follow until caught up.
func (e *env) follow(what string) (reconcile.FollowResult, error) {
	e.t.Helper()
	stop := e.ticking()
	defer stop()
	ctx, cancel := context.WithTimeout(e.t.Context(), 90*time.Second)
	defer cancel()
	stats := &reconcile.FollowStats{}
	res, err := reconcile.Follow(ctx, e.pool, e.followConfig(stats, true))
	if ctx.Err() != nil && e.t.Context().Err() == nil {
		e.fail("%s did not catch up within 90 s (applied %d)", what, stats.Applied.Load())
	}
	e.logf("%s: applied %d, watermark %s, err %v", what, stats.Applied.Load(), res.Watermark.Format("15:04:05.000"), err)
	return res, err
}

// followCancel runs a follow and cancels it after n changes, or after d
// of real time when n is 0: between or inside page transactions.
func (e *env) followCancel(n int, d time.Duration) {
	e.t.Helper()
	stop := e.ticking()
	defer stop()
	ctx, cancel := context.WithTimeout(e.t.Context(), 90*time.Second)
	defer cancel()
	stats := &reconcile.FollowStats{}
	go func() {
		if n == 0 {
			time.Sleep(d)
		}
		for stats.Applied.Load() < int64(n) && ctx.Err() == nil {
			time.Sleep(50 * time.Microsecond)
		}
		cancel()
	}()
	_, err := reconcile.Follow(ctx, e.pool, e.followConfig(stats, true))
	e.totals.FollowCancels.Add(1)
	e.logf("follow cancelled after %d/%s: applied %d, err %v", n, d, stats.Applied.Load(), err)
	e.followErr(err, "cancelled follow")
}

// background follows while n writes go on, checking the watermark between
// them, then cancels the follower.
func (e *env) background(n int) {
	e.t.Helper()
	stop := e.ticking()
	defer stop()
	ctx, cancel := context.WithCancel(e.t.Context())
	defer cancel()
	stats := &reconcile.FollowStats{}
	done := make(chan error, 1)
	go func() {
		_, err := reconcile.Follow(ctx, e.pool, e.followConfig(stats, false))
		done <- err
	}()
	for i := range n {
		e.write()
		if i%8 == 7 {
			time.Sleep(time.Millisecond)
			e.checkWatermark("during a background follow")
		}
	}
	// Let it read some of the writes, then stop it wherever it is.
	target := stats.Pages.Load() + int64(e.r.IntN(4))
	e.waitUntil(2*time.Second, func() bool { return stats.Pages.Load() >= target })
	cancel()
	err := <-done
	e.totals.FollowCancels.Add(1)
	e.logf("background follow during %d writes: applied %d, err %v", n, stats.Applied.Load(), err)
	e.followErr(err, "background follow")
}

// waitUntil polls cond every millisecond for up to d of real time.
func (e *env) waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return cond()
}

func (e *env) count(query string, args ...any) int64 {
	var n int64
	e.must(e.pool.QueryRow(e.t.Context(), query, args...).Scan(&n), query)
	return n
}

// pgItems reads the copy: canonical key → canonical item JSON.
func (e *env) pgItems() map[string]string {
	e.t.Helper()
	rows, err := e.pool.Query(e.t.Context(), fmt.Sprintf("SELECT item::text FROM %s", e.layout.Ident().Sanitize()))
	e.must(err, "reading the copy")
	out := map[string]string{}
	for rows.Next() {
		var raw string
		e.must(rows.Scan(&raw), "scanning the copy")
		it, err := ddbjson.DecodeItem([]byte(raw))
		e.must(err, "decoding an item column")
		k, err := canonicalKey(it)
		e.must(err, "key of a row")
		b, err := ddbjson.EncodeItem(it)
		e.must(err, "encoding a row")
		out[k] = string(b)
	}
	e.must(rows.Err(), "reading the copy")
	return out
}

// watermark is the published W (zero when none).
func (e *env) watermark() time.Time {
	var w *time.Time
	err := e.pool.QueryRow(e.t.Context(), `SELECT watermark FROM ddbsync.streams WHERE table_name = $1`, tableName).Scan(&w)
	if errors.Is(err, pgx.ErrNoRows) || w == nil {
		return time.Time{}
	}
	e.must(err, "reading the watermark")
	return w.UTC()
}

// checkWatermark asserts the promise at the published W: every key's row is
// its state after its last change created before W, or a later one.
func (e *env) checkWatermark(when string) {
	e.t.Helper()
	w := e.watermark()
	if w.IsZero() {
		return
	}
	if w.Before(e.lastW) {
		e.fail("%s: the watermark went back from %s to %s", when, e.lastW, w)
	}
	e.lastW = w
	if w.After(e.now()) {
		e.fail("%s: the watermark %s is in the future (now %s)", when, w, e.now())
	}
	got := e.pgItems()
	for k := range e.m.keys {
		allowed := e.m.allowed(k, w)
		ok := false
		for _, a := range allowed {
			if got[k] == a {
				ok = true
				break
			}
		}
		if !ok {
			e.fail("%s: watermark %s, but key %s is %q; its states since its last change before W are %q",
				when, w.Format(time.RFC3339Nano), k, got[k], allowed)
		}
		delete(got, k)
	}
	for k := range got {
		e.fail("%s: key %s is in the copy but was never written", when, k)
	}
	e.checkOnce(when)
	e.totals.Checks.Add(1)
}

// checkFinal asserts the copy is exactly the table, and every shard's
// checkpoint is at its last record with each change applied once.
func (e *env) checkFinal() {
	e.t.Helper()
	got := e.pgItems()
	want := e.scan()
	for k, w := range want {
		if got[k] != w {
			e.fail("final copy: key %s is %q, the table has %q", k, got[k], w)
		}
		if m := e.m.current(k); m != w {
			e.fail("model disagrees with the emulator on %s: %q vs %q", k, m, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			e.fail("final copy: key %s is %q, but the table does not have it", k, g)
		}
	}
	e.checkShards()
	e.checkDiff()
}

// checkDiff runs `ddbsync diff` against a new export as of just before W:
// it must find nothing missing, extra or different.
func (e *env) checkDiff() {
	e.t.Helper()
	w := e.watermark()
	at := w.Add(-time.Second)
	if !at.After(e.exportTime) {
		return // W is not past the copy's own export (a child's wall-clock W)
	}
	dir := e.exportAt(at)
	src, err := snapshot.NewDirSource(dir)
	e.must(err, "diff source")
	exp, err := snapshot.Open(e.t.Context(), src)
	e.must(err, "opening the diff's export")
	sum, err := reconcile.Diff(e.t.Context(), e.pool, reconcile.DiffConfig{Table: tableName, Export: exp, Workers: 1, Now: e.emu.Clock().Now})
	if err != nil {
		e.fail("ddbsync diff against an export as of %s (W %s) failed: %v", at, w, err)
	}
	e.logf("diff: %d source items, %d rows, %d in flight", sum.SourceItems, sum.CopyRows, sum.InFlight)
	if sum.Missing+sum.Extra+sum.Different != 0 {
		e.fail("ddbsync diff against an export as of %s (W %s) found %d missing, %d extra, %d different",
			at, w, sum.Missing, sum.Extra, sum.Different)
	}
	e.totals.Diffs.Add(1)
}

func (e *env) scan() map[string]string {
	out := map[string]string{}
	var start map[string]types.AttributeValue
	for {
		page, err := e.ddb.Scan(e.t.Context(), &dynamodb.ScanInput{TableName: aws.String(tableName), ExclusiveStartKey: start})
		e.must(err, "Scan")
		for _, it := range page.Items {
			k, err := canonicalKey(it)
			e.must(err, "key")
			b, err := ddbjson.EncodeItem(it)
			e.must(err, "encoding")
			out[k] = string(b)
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out
		}
		start = page.LastEvaluatedKey
	}
}

// checkShards compares each listed shard's checkpoint with its records.
func (e *env) checkShards() {
	e.t.Helper()
	ctx := e.t.Context()
	var startTime time.Time
	e.must(e.pool.QueryRow(ctx, `SELECT start_time FROM ddbsync.streams WHERE table_name = $1`, tableName).Scan(&startTime), "start time")
	out, err := e.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(tableName)})
	e.must(err, "DescribeTable")
	desc, err := stream.Describe(ctx, e.plain, aws.ToString(out.Table.LatestStreamArn))
	e.must(err, "DescribeStream")
	// Records older than the retention are gone: counts are exact only
	// while none of those the follower needed can have been trimmed.
	exactCounts := e.now().Sub(startTime) < 23*time.Hour
	var applied int64
	for _, s := range desc.Shards {
		sh := struct{ ID, EndingSequenceNumber string }{ID: aws.ToString(s.ShardId)}
		if s.SequenceNumberRange != nil {
			sh.EndingSequenceNumber = aws.ToString(s.SequenceNumberRange.EndingSequenceNumber)
		}
		n, last := e.shardRecords(desc.StreamArn, sh.ID, startTime)
		var state string
		var lastSeq *string
		var changes int64
		err := e.pool.QueryRow(ctx, `SELECT state, last_sequence::text, changes_applied FROM ddbsync.shards
			WHERE table_name = $1 AND shard_id = $2`, tableName, sh.ID).Scan(&state, &lastSeq, &changes)
		e.must(err, "checkpoint of "+sh.ID)
		applied += changes
		closed := sh.EndingSequenceNumber != ""
		if closed != (state == "finished") {
			e.fail("shard %s: closed=%v but its checkpoint state is %s", sh.ID, closed, state)
		}
		if state == "gap" {
			e.fail("shard %s is marked as a gap", sh.ID)
		}
		switch {
		case last == "" && lastSeq != nil && exactCounts:
			e.fail("shard %s has no records but its checkpoint is at %s", sh.ID, *lastSeq)
		case last != "" && (lastSeq == nil || !sameNumber(*lastSeq, last)):
			e.fail("shard %s: checkpoint at %v, its last record is %s", sh.ID, deref(lastSeq), last)
		}
		if exactCounts && changes != n {
			e.fail("shard %s: %d changes applied, the shard holds %d since the replay start %s (each must be applied once)",
				sh.ID, changes, n, startTime)
		}
	}
	e.totals.Changes.Add(applied)
}

func deref(s *string) string {
	if s == nil {
		return "<none>"
	}
	return *s
}

func sameNumber(a, b string) bool {
	x, ok1 := new(big.Int).SetString(a, 10)
	y, ok2 := new(big.Int).SetString(b, 10)
	return ok1 && ok2 && x.Cmp(y) == 0
}

// shardRecords reads a shard from TRIM_HORIZON: how many records were
// created at or after since, and the last record's sequence number.
func (e *env) shardRecords(arn, shardID string, since time.Time) (int64, string) {
	n, last, _ := e.shardRecordsUpTo(arn, shardID, since, "")
	return n, last
}

// shardRecordsUpTo is shardRecords counting only records at or before
// upTo (all when ""); it also returns the sequence numbers counted.
func (e *env) shardRecordsUpTo(arn, shardID string, since time.Time, upTo string) (int64, string, []string) {
	var seqs []string
	ctx := e.t.Context()
	it, err := e.plain.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arn),
		ShardId: aws.String(shardID), ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon})
	e.must(err, "GetShardIterator")
	iter := it.ShardIterator
	var n int64
	last := ""
	for iter != nil {
		page, err := e.plain.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter})
		e.must(err, "GetRecords")
		for _, r := range page.Records {
			seq := aws.ToString(r.Dynamodb.SequenceNumber)
			if upTo != "" && cmpNumber(seq, upTo) > 0 {
				continue
			}
			if !r.Dynamodb.ApproximateCreationDateTime.Before(since) {
				n++
				seqs = append(seqs, seq)
			}
			last = seq
		}
		if len(page.Records) == 0 {
			break
		}
		iter = page.NextShardIterator
	}
	return n, last, seqs
}

func cmpNumber(a, b string) int {
	x, _ := new(big.Int).SetString(a, 10)
	y, _ := new(big.Int).SetString(b, 10)
	if x == nil || y == nil {
		return 0
	}
	return x.Cmp(y)
}

// checkOnce asserts, for every checkpointed shard, that changes_applied is
// the number of the shard's records since the replay start up to the
// checkpoint: every change applied once, however the follower was stopped.
func (e *env) checkOnce(when string) {
	e.t.Helper()
	ctx := e.t.Context()
	var startTime time.Time
	var arn string
	err := e.pool.QueryRow(ctx, `SELECT start_time, stream_arn FROM ddbsync.streams WHERE table_name = $1`, tableName).Scan(&startTime, &arn)
	if errors.Is(err, pgx.ErrNoRows) || e.now().Sub(startTime) >= 23*time.Hour || e.faultsOn {
		return // the checker's own reads would meet the faults
	}
	e.must(err, "start time")
	rows, err := e.pool.Query(ctx, `SELECT shard_id, last_sequence::text, changes_applied FROM ddbsync.shards
		WHERE table_name = $1 AND last_sequence IS NOT NULL`, tableName)
	e.must(err, "checkpoints")
	type ck struct {
		id, seq string
		n       int64
	}
	var cks []ck
	for rows.Next() {
		var c ck
		e.must(rows.Scan(&c.id, &c.seq, &c.n), "checkpoint")
		cks = append(cks, c)
	}
	e.must(rows.Err(), "checkpoints")
	for _, c := range cks {
		n, _, seqs := e.shardRecordsUpTo(arn, c.id, startTime, c.seq)
		if n != c.n {
			e.fail("%s: shard %s: %d changes applied up to its checkpoint %s, the shard holds %d since the replay start %s (each must be applied once): %v",
				when, c.id, c.n, c.seq, n, startTime, seqs)
		}
	}
}

// child starts ddbsync as a child process (this test binary, see
// [RunChild]) against the emulator and the database.
func (e *env) child(args ...string) (*exec.Cmd, *bytes.Buffer) {
	e.t.Helper()
	args = append(args, "--endpoint-url", e.emu.URL(), "--database-url", e.dbURL, "--log-level", "error")
	raw, err := json.Marshal(args)
	e.must(err, "child args")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), ChildEnv+"="+string(raw), "AWS_ACCESS_KEY_ID=AKIDSCENARIO",
		"AWS_SECRET_ACCESS_KEY=scenario", "AWS_REGION="+e.emu.Region(), "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	e.must(cmd.Start(), "starting a ddbsync child")
	e.t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, out
}

func exited(cmd *exec.Cmd) bool {
	return cmd.ProcessState != nil || syscall.Kill(cmd.Process.Pid, 0) != nil
}

// kill SIGKILLs a child, wherever it is.
func (e *env) kill(cmd *exec.Cmd, out *bytes.Buffer, what string) {
	_ = cmd.Process.Signal(syscall.SIGKILL)
	err := cmd.Wait()
	e.totals.ChildKills.Add(1)
	e.logf("child %s killed (%v): %s", what, err, strings.TrimSpace(out.String()))
}

// cliFollow runs `ddbsync follow --until-caught-up` as a child to its end.
func (e *env) cliFollow() {
	e.t.Helper()
	cmd, out := e.child("follow", "--table", tableName, "--until-caught-up", "--poll-interval", "10ms", "--discover-interval", "100ms")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		e.logf("child follow: %v: %s", err, strings.TrimSpace(out.String()))
		if err != nil {
			msg := out.String()
			if strings.Contains(msg, "gap") || strings.Contains(msg, "new export") {
				e.fail("ddbsync follow refused in a scenario that never crossed the retention: %s", msg)
			}
			if !e.faultsOn && !strings.Contains(msg, "of this table (") {
				e.fail("ddbsync follow failed: %v: %s", err, msg)
			}
			e.transient++
		}
	case <-time.After(90 * time.Second):
		e.fail("ddbsync follow --until-caught-up did not finish in 90 s: %s", out.String())
	}
}

// cliKill runs `ddbsync follow` as a child and SIGKILLs it once it has
// applied n more changes (or after a few seconds).
func (e *env) cliKill(n int) {
	e.t.Helper()
	before := e.count(`SELECT coalesce(sum(changes_applied), 0) FROM ddbsync.shards WHERE table_name = $1`, tableName)
	cmd, out := e.child("follow", "--table", tableName, "--poll-interval", "10ms", "--discover-interval", "100ms")
	e.waitUntil(4*time.Second, func() bool {
		return exited(cmd) || e.count(`SELECT coalesce(sum(changes_applied), 0) FROM ddbsync.shards WHERE table_name = $1`, tableName) >= before+int64(n)
	})
	e.kill(cmd, out, "follow")
}

// shardEvent rolls every shard over or splits one.
func (e *env) shardEvent(split bool) {
	e.clockMu.Lock()
	defer e.clockMu.Unlock()
	if !split {
		ids, err := e.emu.RolloverShards(tableName)
		e.must(err, "rollover")
		e.logf("rollover: %v", ids)
	} else {
		open, err := e.emu.OpenShards(tableName)
		e.must(err, "open shards")
		sort.Strings(open)
		if len(open) == 0 || len(open) >= 16 {
			return
		}
		l, r, err := e.emu.SplitShard(tableName, open[e.r.IntN(len(open))])
		if err != nil {
			e.logf("split refused: %v", err)
			return
		}
		e.logf("split into %s, %s", l, r)
	}
	e.totals.ShardEvents.Add(1)
}

var faultOps = []string{"GetRecords", "GetShardIterator", "DescribeStream", "DescribeTable"}
var faultKinds = []emulator.FaultKind{emulator.FaultThrottle, emulator.FaultProvisionedThroughput, emulator.FaultInternal}

func (e *env) faults(s Step) {
	for _, op := range faultOps {
		if e.r.IntN(2) == 0 {
			rate := s.Rate
			if op == "DescribeTable" {
				rate /= 4
			}
			e.emu.FailRate(op, faultKinds[e.r.IntN(len(faultKinds))], rate)
		}
	}
	if s.N > 0 {
		e.emu.FailNext("GetRecords", emulator.FaultEmptyPage, s.N)
		e.totals.EmptyPages.Add(int64(s.N))
	}
	e.faultsOn = true
	e.logf("faults on: rate %.2f, %d empty pages", s.Rate, s.N)
}

func (e *env) clearFaults() {
	e.emu.ClearFaults()
	e.faultsOn = false
	e.logf("faults off")
}
