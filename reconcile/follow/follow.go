package follow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/time/rate"

	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/store"
	"github.com/ddbsync/ddbsync/stream"
)

// Defaults of [Config].
const (
	// DefaultReplayMargin is how far before the export time T replay starts. Stream
	// times are rounded down to the second and exports are fuzzy by about a
	// minute; AWS's own data-prepper uses the same 5 minutes.
	DefaultReplayMargin = 5 * time.Minute
	// DefaultRetention is how long DynamoDB Streams keeps records.
	DefaultRetention = 24 * time.Hour
	// DefaultRetentionMargin is kept free of the retention window: records
	// "may be trimmed at any time" after 24 h, and reading takes time.
	DefaultRetentionMargin = time.Hour
	// DefaultDiscoverInterval is how often the shard listing is refreshed
	// at the least (DescribeStream allows 10 calls a second per account).
	DefaultDiscoverInterval = 30 * time.Second
	// DefaultListingInterval is the least time between the start of two
	// listings of a table's stream when the watermark asks for one
	// ([stream.Tracker.ListingDue]): a listing proves a caught-up shard open
	// only up to when it was asked for, so on a quiet table W moves on by
	// about a second per listing, and one a second keeps it fresh.
	DefaultListingInterval = time.Second
	// DefaultDescribeRate is how many DescribeStream calls a second the
	// followers of one process make at most, together, unless
	// [Config].DescribeLimiter says otherwise: half of AWS's 10.
	DefaultDescribeRate = 5
)

// TableAPI is the DynamoDB call the follower makes: DescribeTable, to find
// the table's current stream. *dynamodb.Client satisfies it.
type TableAPI interface {
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// Config configures [Run].
type Config struct {
	// Table is the DynamoDB table; it must have been loaded.
	Table string
	// Streams reads the stream. Required.
	Streams stream.API
	// Tables finds the table's LatestStreamArn; required unless StreamArn is set.
	Tables TableAPI
	// StreamArn overrides DescribeTable's LatestStreamArn.
	StreamArn string
	// UntilCaughtUp stops once every shard has reached the present.
	UntilCaughtUp bool
	// AcceptGap goes on past a structural gap (a shard whose parent is
	// gone and may have held changes after the start instant), recording it.
	// A diff should follow.
	AcceptGap bool
	// ReplayMargin, Retention, RetentionMargin, DiscoverInterval: see the defaults.
	// ReplayMargin counts on the first run after a load only: it fixes the replay
	// start S = T − ReplayMargin, which is stored, and later runs keep it.
	ReplayMargin     time.Duration
	Retention        time.Duration
	RetentionMargin  time.Duration
	DiscoverInterval time.Duration
	// ListingInterval is the least time, on the Now clock, from the start of
	// one listing of the stream to a listing made because the watermark
	// asks for one (default [DefaultListingInterval]). The stream is also
	// listed at start, every DiscoverInterval and when a shard finishes.
	ListingInterval time.Duration
	// DescribeLimiter paces DescribeStream calls. Default: one limiter of
	// [DefaultDescribeRate] calls a second, shared by every Run of the
	// process, whatever its table. Tests on an emulator pass
	// rate.NewLimiter(rate.Inf, 1).
	DescribeLimiter *rate.Limiter
	// ReaderOptions are passed to every [stream.ShardReader] (poll interval,
	// caught-up rule, margins, backoff). The readers' clock is Now unless
	// one of them sets another: the watermark compares page times with
	// listing times, which are taken on Now.
	ReaderOptions []stream.Option
	// Now is the wall clock (default time.Now) of the listings and, unless
	// ReaderOptions set another, of the readers; tests use the emulator's.
	Now func() time.Time
	// ApplyBackoff bounds the wait between retries of a page the database
	// failed to take (default 100 ms to 10 s).
	ApplyBackoff stream.Backoff
	// Stats, when set, is updated as changes are applied.
	Stats *Stats
	// Logger receives lifecycle events (default: discard).
	Logger *slog.Logger
	// LockTimeout is how long to wait for another ddbsync process to let
	// go of the table (0: [reconcile.DefaultLockTimeout]; negative: do not wait).
	LockTimeout time.Duration
	// Verify checks the copy against strongly consistent reads of DynamoDB
	// while following (the zero value: off); see [VerifyConfig].
	Verify VerifyConfig
	// Shared makes this Run one of any number of processes following the
	// table together: they share its shards through leases in
	// ddbsync.leases, each taking a fair share and the shards of a peer
	// whose lease expired, and W is computed from every shard's proven
	// time in the database. Without it a Run follows the table alone, and
	// a second one refuses. The two modes exclude each other.
	Shared bool
	// LeaseDuration is how long a shared Run's lease lasts unless renewed
	// (0: [DefaultLeaseDuration]); a dead peer's shards are taken over
	// within about 4/3 of it.
	LeaseDuration time.Duration
	// Owner names a shared Run in ddbsync.leases (default: host:pid:random).
	Owner string
	// History turns the table's history on (it stays on once it is; see
	// [store.StartHistory]), refusing with [reconcile.ErrHistoryUnknown]
	// when the copy has changed since its export.
	History bool
	// HistoryRetention, when positive, replaces the history's retention.
	HistoryRetention time.Duration
}

// Stats are a follower's running totals, safe to read while it runs.
type Stats struct {
	Applied        atomic.Int64 // changes applied (before coalescing)
	TTLRemoves     atomic.Int64
	Pages          atomic.Int64
	Listings       atomic.Int64 // shard listings begun (each one or more DescribeStream calls)
	ApplyRetries   atomic.Int64 // database errors retried
	watermarkNanos atomic.Int64
	retries        [8]atomic.Int64 // by stream.RetryCause
	events         [3]atomic.Int64 // by event: insert, modify, remove
	shardStates    [4]atomic.Int64 // shards by state: pending, reading, finished, gap
	// LeasesHeld is how many shards a shared follow holds a lease of.
	LeasesHeld        atomic.Int64
	leaseRenewedNanos atomic.Int64
	leaseDuration     atomic.Int64
	// Verify are verification's totals, nil unless Config.Verify is on.
	// A follow that verifies sets it when it is nil; set it before Run to
	// read it while the follow runs.
	Verify *VerifyStats
}

// ShardStates are the follow's shard states, in [Stats.Shards] order.
var ShardStates = func() []string {
	out := make([]string, len(store.ShardStates))
	for i, s := range store.ShardStates {
		out[i] = string(s)
	}
	return out
}()

// Shards returns how many shards are in each of [ShardStates].
func (s *Stats) Shards() [4]int64 {
	var out [4]int64
	for i := range out {
		out[i] = s.shardStates[i].Load()
	}
	return out
}

// Events returns the changes applied by event name (before coalescing).
func (s *Stats) Events() map[stream.EventName]int64 {
	return map[stream.EventName]int64{
		stream.EventInsert: s.events[0].Load(),
		stream.EventModify: s.events[1].Load(),
		stream.EventRemove: s.events[2].Load(),
	}
}

func (s *Stats) countEvents(changes []stream.Change) {
	for _, c := range changes {
		switch c.EventName {
		case stream.EventInsert:
			s.events[0].Add(1)
		case stream.EventModify:
			s.events[1].Add(1)
		case stream.EventRemove:
			s.events[2].Add(1)
		}
	}
}

// Retries returns how many stream calls were retried, or iterators renewed,
// for cause.
func (s *Stats) Retries(cause stream.RetryCause) int64 {
	if int(cause) < 0 || int(cause) >= len(s.retries) {
		return 0
	}
	return s.retries[cause].Load()
}

func (s *Stats) countRetry(ev stream.RetryEvent) {
	if int(ev.Cause) >= 0 && int(ev.Cause) < len(s.retries) {
		s.retries[ev.Cause].Add(1)
	}
}

// Shared tells whether the follow is shared, and if so when it last
// renewed its leases and for how long they last: a shared follow that has
// not renewed them within that time may have lost them all.
func (s *Stats) Shared() (shared bool, renewed time.Time, lease time.Duration) {
	d := s.leaseDuration.Load()
	if d == 0 {
		return false, time.Time{}, 0
	}
	if n := s.leaseRenewedNanos.Load(); n != 0 {
		renewed = time.Unix(0, n)
	}
	return true, renewed, time.Duration(d)
}

// Watermark returns the last published watermark (zero if none).
func (s *Stats) Watermark() time.Time {
	n := s.watermarkNanos.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// Result describes a follow that ended.
type Result struct {
	StreamArn string
	Watermark time.Time // zero when none could be established
	Applied   int64
	Shards    int // shards listed at the end
}

func (c *Config) defaults() error {
	if c.Streams == nil {
		return errors.New("follow: no Streams client")
	}
	if c.Tables == nil && c.StreamArn == "" {
		return errors.New("follow: no DynamoDB client and no stream ARN")
	}
	if c.ReplayMargin <= 0 {
		c.ReplayMargin = DefaultReplayMargin
	}
	if c.Retention <= 0 {
		c.Retention = DefaultRetention
	}
	if c.RetentionMargin <= 0 {
		c.RetentionMargin = DefaultRetentionMargin
	}
	if c.DiscoverInterval <= 0 {
		c.DiscoverInterval = DefaultDiscoverInterval
	}
	if c.ListingInterval <= 0 {
		c.ListingInterval = DefaultListingInterval
	}
	if c.DescribeLimiter == nil {
		c.DescribeLimiter = describeLimiter
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.ApplyBackoff.Base <= 0 {
		c.ApplyBackoff = stream.Backoff{Base: 100 * time.Millisecond, Cap: 10 * time.Second}
	}
	if c.Stats == nil {
		c.Stats = &Stats{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.LeaseDuration <= 0 {
		c.LeaseDuration = DefaultLeaseDuration
	}
	if c.Owner == "" {
		c.Owner = newOwner()
	}
	return c.Verify.defaults()
}

// Run replays the table's stream into its data table, from the loaded
// export's time T onward, and keeps following until ctx is done (or, with
// UntilCaughtUp, until every shard has reached the present).
//
// It obeys the rules of the design: the first run reads every shard from
// TRIM_HORIZON and skips changes created before T − ReplayMargin, after proving the
// stream still holds them; parents are read to their end before their
// children; each page of a shard is applied in one transaction with the
// shard's checkpoint; later runs resume after the checkpoints. When it cannot
// prove it has every change (a trimmed checkpoint, a vanished shard, a
// changed stream, a follower away longer than the retention), it stops with a
// [*stream.GapError] or [reconcile.ErrStreamChanged] and applies nothing past the gap.
// Cancelling ctx stops it cleanly: committed pages stay, the page in flight
// is rolled back, and the error is nil.
func Run(ctx context.Context, pool *pgxpool.Pool, cfg Config) (Result, error) {
	if err := cfg.defaults(); err != nil {
		return Result{}, err
	}
	f := &follower{cfg: cfg, pool: pool, log: cfg.Logger.With(slog.String("table", cfg.Table)), readAhead: newReadAhead()}
	if cfg.Shared {
		f.share = &sharing{owner: cfg.Owner, d: cfg.LeaseDuration, held: map[string]*heldShard{}, since: cfg.Now()}
		cfg.Stats.leaseDuration.Store(int64(cfg.LeaseDuration))
	}
	res, err := f.run(ctx)
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) && !errors.Is(err, stream.ErrGap) {
		err = nil // a requested stop, wherever it found the follower (even while starting)
	}
	return res, err
}

// follower is one Run call.
type follower struct {
	cfg   Config
	pool  *pgxpool.Pool
	log   *slog.Logger
	table reconcile.LoadedTable
	apply *applier
	arn   string
	// readAhead bounds the pages read and not yet applied, over all shards.
	readAhead *readAhead
	start     time.Time // S: T − skew, as the first run after the load stored it

	// Owned by the run loop.
	shards  map[string]*shardRun
	lineage *stream.ShardLineage
	tracker *stream.Tracker // decides W
	// watermark is the last W persisted.
	watermark time.Time
	// verify is the verification beside the loop (nil: off).
	verify *verifier
	// listedAt is when the latest listing began, on the Now clock.
	listedAt time.Time
	// share is a shared follow's leases (nil: the follow is alone).
	share *sharing
	// prunedAt is when the history's retention last ran.
	prunedAt time.Time
}

// shardRun is the run loop's view of one shard.
type shardRun struct {
	id      string
	parent  string
	state   store.ShardState
	lastSeq string
	running bool
}

// shardEvent is what a shard's reader goroutine reports after each page:
// the shard's state once the page is applied ([stream.Page].State), or err.
type shardEvent struct {
	id    string
	state stream.ShardState
	err   error
	// counter is the lease counter the reader holds the shard with, in a
	// shared follow: an event of a former lease is stale.
	counter int64
}

func (f *follower) run(ctx context.Context) (Result, error) {
	var err error
	if f.table, err = reconcile.ReadLoadedTable(ctx, f.pool, f.cfg.Table); err != nil {
		return Result{}, err
	}
	f.apply = newApplier(f.table.Layout)

	lockTable := store.LockTable
	if f.share != nil {
		lockTable = store.LockTableShared
	}
	lock, err := lockTable(ctx, f.pool, store.LockWait(f.cfg.LockTimeout), store.LockFollow, f.cfg.Table)
	if err != nil {
		return Result{}, err
	}
	defer lock.Release(ctx)

	hist, err := f.startHistory(ctx)
	if err != nil {
		return Result{}, err
	}
	if hist != nil {
		f.apply.history = newHistoryRecorder(f.table.Layout, hist.From)
		if err := f.pruneHistory(ctx); err != nil {
			return Result{}, err
		}
	}

	if f.arn, err = f.streamArn(ctx); err != nil {
		return Result{}, err
	}
	listedAt, desc, err := f.describe(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("table %s: describing stream %s: %w", f.cfg.Table, f.arn, err)
	}
	if err := stream.CheckViewType(desc.ViewType); err != nil {
		return Result{}, fmt.Errorf("table %s: %w", f.cfg.Table, err)
	}
	if err := f.beginOrResume(ctx); err != nil {
		return f.result(), err
	}
	err = f.loopAndVerify(ctx, desc, listedAt)
	return f.result(), err
}

func (f *follower) result() Result {
	return Result{StreamArn: f.arn, Watermark: f.watermark, Applied: f.cfg.Stats.Applied.Load(), Shards: len(f.shards)}
}

func (f *follower) streamArn(ctx context.Context) (string, error) {
	if f.cfg.StreamArn != "" {
		return f.cfg.StreamArn, nil
	}
	out, err := f.cfg.Tables.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(f.cfg.Table)})
	if err != nil {
		return "", fmt.Errorf("table %s: finding its stream with DescribeTable: %w", f.cfg.Table, err)
	}
	arn := aws.ToString(out.Table.LatestStreamArn)
	if arn == "" || out.Table.StreamSpecification == nil || !aws.ToBool(out.Table.StreamSpecification.StreamEnabled) {
		return "", fmt.Errorf("table %s has no enabled stream: enable DynamoDB Streams with view type NEW_AND_OLD_IMAGES or NEW_IMAGE, "+
			"then take a new export and load it (changes made while the stream was off are in no stream)", f.cfg.Table)
	}
	return arn, nil
}

// beginOrResume starts following (first run: the replay start S, and the
// coverage proof) or resumes (same stream, not away too long, S as the
// first run stored it), and reads the shard checkpoints.
func (f *follower) beginOrResume(ctx context.Context) error {
	now := f.cfg.Now()
	oldest := now.Add(-f.cfg.Retention)
	var arn string
	var start time.Time
	var wm *time.Time
	cur, err := store.Streams.Get(ctx, f.pool, f.cfg.Table)
	if cur != nil {
		arn, start, wm = cur.Arn, cur.Start, cur.Watermark
	}
	switch {
	case err == nil && cur == nil:
		// First run: the stream must still hold every change since T − skew.
		f.start = f.table.ExportTime.Add(-f.cfg.ReplayMargin)
		f.tracker = stream.NewTracker(f.start)
		if !f.start.After(oldest.Add(f.cfg.RetentionMargin)) {
			return &stream.GapError{Table: f.cfg.Table, From: f.start, To: oldest,
				Reason: fmt.Sprintf("the loaded export is as of %s, but the stream only keeps changes for %s (it covers %s onward, "+
					"less a safety margin of %s), so changes made after the export may already be gone",
					f.table.ExportTime.UTC().Format(time.RFC3339), f.cfg.Retention, oldest.UTC().Format(time.RFC3339), f.cfg.RetentionMargin)}
		}
		if err := store.Streams.Begin(ctx, f.pool, f.cfg.Table, f.arn, f.start); err != nil {
			if f.share == nil {
				return err
			}
			// A peer of the shared follow began first: follow from its S.
			peer, gerr := store.Streams.Get(ctx, f.pool, f.cfg.Table)
			if gerr != nil || peer == nil || peer.Arn != f.arn {
				return err
			}
			f.start = peer.Start
			f.tracker = stream.NewTracker(f.start)
		}
		f.log.Info("following from the export time", slog.String("stream_arn", f.arn),
			slog.Time("export_time", f.table.ExportTime), slog.Time("replay_from", f.start))
	case err != nil:
		return err
	case arn != f.arn:
		return &reconcile.TableError{Table: f.cfg.Table, Err: fmt.Errorf("%w: table %s was followed on stream %s and now has stream %s "+
			"(was the stream disabled and re-enabled?); changes made in between are in no stream, and only a new export "+
			"of the table can restore a complete copy: %w", reconcile.ErrStreamChanged, f.cfg.Table, arn, f.arn, stream.ErrGap)}
	default:
		// S is what the first run decided; a changed skew applies to the
		// next load, not to a replay under way.
		f.start = start
		f.tracker = stream.NewTracker(f.start)
		since := f.start
		if wm != nil {
			since = *wm
			f.watermark = *wm
			f.tracker.Resume(*wm)
			f.cfg.Stats.watermarkNanos.Store(wm.UnixNano())
		}
		if !since.After(oldest) {
			return &stream.GapError{Table: f.cfg.Table, From: since, To: oldest,
				Reason: fmt.Sprintf("the follower was away longer than the stream keeps changes (%s)", f.cfg.Retention)}
		}
		f.log.Info("resuming", slog.String("stream_arn", f.arn), slog.Time("replay_from", f.start), slog.Time("watermark", since))
	}
	return f.readShards(ctx)
}

func (f *follower) readShards(ctx context.Context) error {
	f.shards = make(map[string]*shardRun)
	rows, err := store.Shards.List(ctx, f.pool, f.cfg.Table)
	if err != nil {
		return err
	}
	for _, r := range rows {
		s := &shardRun{id: r.ID, parent: r.Parent, state: r.State, lastSeq: r.LastSeq}
		if s.state == store.ShardGap {
			return &stream.GapError{Table: f.cfg.Table, Shards: []string{s.id},
				Reason: "a previous run stopped at a gap in this shard"}
		}
		if s.state == store.ShardFinished {
			f.tracker.Finished(s.id)
		}
		f.shards[s.id] = s
	}
	return nil
}

func (f *follower) finishedSet() map[string]bool {
	m := make(map[string]bool, len(f.shards))
	for id, s := range f.shards {
		if s.state == store.ShardFinished {
			m[id] = true
		}
	}
	return m
}
