package scenario

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/emulator"
	"github.com/ddbsync/ddbsync/reconcile"
)

// ChildEnv, when set in a test binary's environment, makes its TestMain run
// ddbsync with the JSON array of arguments it holds instead of the tests
// (scenario_test.go's TestMain does).
const ChildEnv = "DDBSYNC_SCENARIO_CHILD_ARGS"

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
	key     ddbjson.KeySchema // layout's key, for copycheck
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

	opts Options

	// early draws which writes' records are dated early (dateEarly).
	early *rand.Rand
	// instants draws the instants the history is read as of (checkHistory).
	instants *rand.Rand

	// emptiesPending is how many forced empty pages were still to come
	// when GetRecords had been called emptiesCalls times (pendingEmpties).
	emptiesPending, emptiesCalls int
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
		r:        rand.New(rand.NewPCG(plan.Seed, 0xd41e)),
		instants: rand.New(rand.NewPCG(plan.Seed, 0x4158)),
		emu:      emu,
		ddb:      emu.DynamoDB(),
		tables:   emu.DynamoDB(func(o *dynamodb.Options) { o.Retryer = fastRetryer() }),
		plain:    emu.Streams(),
		dbURL:    dbURL,
		m:        newModel(),
	}
	e.streams = countingStreams{
		reads:    emu.Streams(func(o *dynamodbstreams.Options) { o.Retryer = aws.NopRetryer{} }),
		describe: emu.Streams(func(o *dynamodbstreams.Options) { o.Retryer = fastRetryer() }),
		errs:     &e.apiRetries,
	}
	e.g = gen{r: rand.New(rand.NewPCG(plan.Seed, 0x17e3))}
	e.early = rand.New(rand.NewPCG(plan.Seed, 0xea71))
	pool, err := pgxpool.New(t.Context(), e.dbURL)
	e.must(err, "connecting to the test database")
	t.Cleanup(pool.Close)
	e.pool = pool
	e.key, err = ddbjson.ParseKeySchema(keySpec)
	e.must(err, "key schema")
	ks, err := reconcile.ParseKeySchema(keySpec)
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
	e.t.Fatalf("DIVERGENCE: %s\n%s\nlast events:\n  %s\nreplay: %s",
		fmt.Sprintf(format, args...), e.plan, strings.Join(hist, "\n  "), e.replay())
}

func (e *env) must(err error, what string) {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("seed %d: %s: %v\nreplay: %s", e.plan.Seed, what, err, e.replay())
	}
}

// replay is the command that plays the scenario again.
func (e *env) replay() string {
	cmd := fmt.Sprintf("go test ./internal/scenario -run 'TestScenarios$' -seed=%d -v", e.plan.Seed)
	if n := e.opts.ExtraEmptyPages; n != 0 {
		cmd += fmt.Sprintf(" -extra-empty-pages=%d", n)
	}
	return cmd
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
