package follow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/store"
	"github.com/ddbsync/ddbsync/stream"
)

// loop runs the shard readers and publishes the watermark. Only this
// goroutine touches f.shards, f.lineage, f.tracker and f.watermark; readers
// report through events. The stream is listed at start, every
// DiscoverInterval, when a shard finishes (its children may be new), and
// when the tracker says a listing would move W on (paced by
// ListingInterval); after each page W is published if it moved.
func (f *follower) loop(ctx context.Context, desc stream.Description, listedAt time.Time) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
		if f.share != nil {
			f.leave()
		}
	}()
	events := make(chan shardEvent)
	if err := f.discover(ctx, desc, listedAt); err != nil {
		return err
	}
	var leaseTick <-chan time.Time // a shared follow's rounds: renew, take over, balance
	if f.share != nil {
		if err := f.join(ctx, events, &wg); err != nil {
			return err
		}
		t := time.NewTicker(f.share.d / 3)
		defer t.Stop()
		leaseTick = t.C
	} else {
		f.startReady(ctx, events, &wg)
	}
	ticker := time.NewTicker(f.cfg.DiscoverInterval)
	defer ticker.Stop()
	for {
		if f.cfg.UntilCaughtUp && f.share != nil && f.sharedCaughtUp() {
			f.log.Info("caught up", slog.Time("watermark", f.watermark), slog.Int64("applied", f.cfg.Stats.Applied.Load()))
			return nil
		}
		if f.cfg.UntilCaughtUp && f.share == nil && f.tracker.CaughtUp() {
			// Confirm against a fresh listing: a shard may have appeared.
			if err := f.rediscover(ctx, events, &wg); err != nil {
				return err
			}
			if f.tracker.CaughtUp() {
				return f.publishWatermark(ctx)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-leaseTick:
			if err := f.balance(ctx, events, &wg); err != nil {
				return err
			}
			if err := f.publishShared(ctx); err != nil {
				return err
			}
		case ev := <-events:
			if f.share != nil && !f.heldEvent(ev) {
				continue // a reader of a lease since lost
			}
			if f.share != nil && leaseLost(ev.err) {
				f.log.Info("shard taken over by another follower", slog.String("shard_id", ev.id))
				f.drop(ev.id)
				continue
			}
			if ev.err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return f.fail(ev)
			}
			s := f.shards[ev.id]
			f.tracker.Read(ev.state)
			if ev.state.Progress == stream.ProgressFinished {
				s.state, s.running = store.ShardFinished, false
				f.log.Info("shard finished", slog.String("shard_id", s.id))
				if f.share != nil {
					if err := f.finishShared(ctx, s.id); err != nil {
						return err
					}
				}
				// Its children may not have been listed yet.
				if err := f.rediscover(ctx, events, &wg); err != nil {
					return err
				}
				if f.share != nil {
					if err := f.balance(ctx, events, &wg); err != nil {
						return err
					}
				}
			} else if s.state == store.ShardPending {
				s.state = store.ShardReading
			}
			if err := f.updateWatermark(ctx); err != nil {
				return err
			}
			if err := f.listIfDue(ctx, events, &wg); err != nil {
				return err
			}
			f.countShards()
		case <-ticker.C:
			// The periodic listing is a backstop for shards nothing else
			// lists, so it never waits for the process's DescribeStream
			// budget: a tick that finds it spent is skipped. Waiting held
			// this loop, and with it every reader's next page, for the
			// limiter's pace on each tick (a whole resumed follow, with a
			// discover interval shorter than that pace).
			if f.cfg.DescribeLimiter.Tokens() < 1 {
				continue
			}
			if err := f.rediscover(ctx, events, &wg); err != nil {
				return err
			}
			if err := f.updateWatermark(ctx); err != nil {
				return err
			}
		}
	}
}

// describe lists the stream, DescribeStream paced by the limiter, and
// returns the listing with when it began: the time is taken before the
// call, on the clock of the page times, as a listing shows the stream as of
// some instant after it was asked for ([stream.Tracker.Listed]).
func (f *follower) describe(ctx context.Context) (time.Time, stream.Description, error) {
	listedAt := f.cfg.Now()
	f.listedAt = listedAt
	f.cfg.Stats.Listings.Add(1)
	desc, err := stream.Describe(ctx, pacedDescribe{API: f.cfg.Streams, lim: f.cfg.DescribeLimiter}, f.arn)
	return listedAt, desc, err
}

// listIfDue lists the stream when the tracker says a listing would move W
// on ([stream.Tracker.ListingDue]), at most once every ListingInterval
// since the latest listing began, and publishes the W it allows. On a quiet
// table that is about one listing a second.
func (f *follower) listIfDue(ctx context.Context, events chan<- shardEvent, wg *sync.WaitGroup) error {
	due := f.tracker.ListingDue()
	if f.share != nil {
		due = f.sharedListingDue()
	}
	if !due || f.cfg.Now().Sub(f.listedAt) < f.cfg.ListingInterval {
		return nil
	}
	if err := f.rediscover(ctx, events, wg); err != nil {
		return err
	}
	return f.updateWatermark(ctx)
}

func (f *follower) rediscover(ctx context.Context, events chan<- shardEvent, wg *sync.WaitGroup) error {
	listedAt, desc, err := f.describe(ctx)
	if err != nil {
		if errors.Is(err, stream.ErrStreamNotFound) {
			return &stream.GapError{Table: f.cfg.Table, Reason: fmt.Sprintf("stream %s no longer exists", f.arn), Cause: err}
		}
		return fmt.Errorf("table %s: describing stream %s: %w", f.cfg.Table, f.arn, err)
	}
	if err := f.discover(ctx, desc, listedAt); err != nil {
		return err
	}
	f.startReady(ctx, events, wg)
	return nil
}

// discover takes a shard listing: a shard we know of and had not finished
// that is no longer listed is a gap; new shards are recorded.
func (f *follower) discover(ctx context.Context, desc stream.Description, listedAt time.Time) error {
	lin, err := stream.NewShardLineage(desc.Shards)
	if err != nil {
		return fmt.Errorf("table %s: %w", f.cfg.Table, err)
	}
	var unfinished []string
	for id, s := range f.shards {
		if s.state != store.ShardFinished {
			unfinished = append(unfinished, id)
		}
	}
	if gone := lin.Unlisted(unfinished); len(gone) > 0 {
		gap := &stream.GapError{Table: f.cfg.Table, Shards: gone, From: f.watermark,
			Reason: "shards vanished from the stream (trimmed after 24 hours) before ddbsync read them to their end"}
		for _, id := range gone {
			f.shards[id].state = store.ShardGap
		}
		f.countShards()
		f.markGap(gone, gap.Error())
		return gap
	}
	for _, id := range lin.Order() {
		if _, ok := f.shards[id]; ok {
			continue
		}
		sh, _ := lin.Shard(id)
		parent := sh.ParentID
		if err := f.exec(ctx, func() error { return store.Shards.Add(ctx, f.pool, f.cfg.Table, id, parent) }); err != nil {
			return fmt.Errorf("table %s: recording shard %s: %w", f.cfg.Table, id, err)
		}
		f.shards[id] = &shardRun{id: id, parent: parent, state: store.ShardPending}
	}
	listed := make([]stream.Shard, 0, lin.Len())
	for _, id := range lin.Order() {
		sh, _ := lin.Shard(id)
		listed = append(listed, sh)
	}
	f.tracker.Listed(listedAt, listed...)
	f.lineage = lin
	f.countShards()
	return nil
}

// startReady starts a reader for every shard whose parent is done.
func (f *follower) startReady(ctx context.Context, events chan<- shardEvent, wg *sync.WaitGroup) {
	finished := f.finishedSet()
	for _, id := range f.lineage.Ready(finished) {
		s := f.shards[id]
		if s == nil || s.running || s.state == store.ShardFinished {
			continue
		}
		readCtx, lease := ctx, (*heldShard)(nil)
		if f.share != nil {
			if lease = f.share.held[id]; lease == nil {
				continue // a peer's, or nobody's yet
			}
			readCtx, lease.cancel = context.WithCancel(ctx)
		}
		orphan := s.parent != "" && f.lineage.ParentState(id, finished) == stream.ParentAbsent
		if orphan && (stream.Orphan{ShardID: id, ParentID: s.parent}).ParentClosedBefore(f.start) {
			// Its id proves the parent closed before S: every change the
			// parent held is in the export the copy was loaded from.
			orphan = false
			f.log.Info("shard's parent is gone, and closed before the replay start: nothing of it is needed",
				slog.String("shard_id", id), slog.String("parent_shard_id", s.parent), slog.Time("replay_from", f.start))
		}
		start := stream.TrimHorizon()
		if s.lastSeq != "" {
			start = stream.AfterSequenceNumber(s.lastSeq)
		}
		s.running = true
		wg.Add(1)
		var l *store.Lease
		if lease != nil {
			l = &lease.lease
		}
		go func() {
			defer wg.Done()
			f.readShard(readCtx, s.id, s.parent, start, orphan, l, events)
		}()
	}
}

// readShard reads one shard to its end (or until ctx is done), applying
// its pages in order. Reading runs one step ahead of applying (see
// [readAhead]): while a batch of pages is written, the next pages are
// fetched and decoded, so neither PostgreSQL nor the stream waits on the
// other. Pages already read when a batch starts are applied together in
// one transaction, with one checkpoint: a crash loses or replays the whole
// batch, as it would a page, and the tracker hears of each page's state,
// in order, only once the batch is in.
func (f *follower) readShard(ctx context.Context, id, parent string, start stream.Position, orphan bool, lease *store.Lease, events chan<- shardEvent) {
	var counter int64
	if lease != nil {
		counter = lease.Counter
	}
	send := func(ev shardEvent) bool {
		ev.counter = counter
		select {
		case events <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	// The readers date their pages on the clock the listings are dated on:
	// the tracker compares the two.
	opts := append([]stream.Option{stream.WithSkipBefore(f.start), stream.WithLogger(f.log),
		stream.WithRetryHook(f.cfg.Stats.countRetry), stream.WithClock(f.cfg.Now)}, f.cfg.ReaderOptions...)
	r, err := stream.NewShardReader(f.cfg.Streams, f.arn, id, start, opts...)
	if err != nil {
		send(shardEvent{id: id, err: err})
		return
	}
	ahead := f.readAhead.start(ctx, func(ctx context.Context) (stream.Page, error) {
		return f.nextPage(ctx, r, id, parent, &orphan, start)
	})
	defer ahead.stop()
	for {
		batch, err := ahead.take()
		if len(batch) > 0 {
			if u, ok := f.batchUpdate(id, lease, batch); ok {
				if err := f.applyWithRetry(ctx, u); err != nil {
					ahead.done(batch)
					send(shardEvent{id: id, err: err})
					return
				}
			}
			ahead.done(batch)
			for _, p := range batch {
				p.Release() // applied: nothing keeps its changes' strings
			}
			for _, p := range batch {
				if !send(shardEvent{id: id, state: p.State}) || p.Finished {
					return
				}
			}
		}
		if err != nil {
			send(shardEvent{id: id, err: err})
			return
		}
	}
}

// nextPage reads the shard's next page, checking an orphan shard's first
// record before any of its changes is let through.
func (f *follower) nextPage(ctx context.Context, r *stream.ShardReader, id, parent string, orphan *bool, start stream.Position) (stream.Page, error) {
	p, err := r.Next(ctx)
	if err != nil {
		return p, err
	}
	checked := !*orphan || start.Kind == stream.PositionAfterSequenceNumber
	if !checked && !p.FirstRecordTime.IsZero() {
		*orphan = false
		if err := f.checkOrphan(ctx, id, parent, p.FirstRecordTime); err != nil {
			return stream.Page{}, err
		}
		checked = true
	}
	if !checked && len(p.Changes) > 0 {
		panic("unreachable: changes from an unchecked orphan shard")
	}
	return p, nil
}

// batchUpdate is the one transaction that applies batch, pages of shard id
// in order: their changes, and the checkpoint after the last. ok is false
// when there is nothing to write (empty pages of an open shard).
func (f *follower) batchUpdate(id string, lease *store.Lease, batch []stream.Page) (u pageUpdate, ok bool) {
	u = pageUpdate{table: f.cfg.Table, shardID: id, lease: lease, leaseIdle: f.cfg.LeaseDuration, pages: len(batch)}
	for _, p := range batch {
		if len(p.Changes) > 0 || p.Skipped > 0 || p.Finished {
			ok = true
		}
		u.changes = append(u.changes, p.Changes...)
	}
	if len(batch) == 1 {
		u.changes = batch[0].Changes // no copy for the usual case
	}
	last := batch[len(batch)-1]
	u.finished, u.first = last.Finished, last.FirstRecordTime
	if last.Position.Kind == stream.PositionAfterSequenceNumber {
		u.position = last.Position.SequenceNumber
	}
	if n := len(u.changes); n > 0 {
		u.last = u.changes[n-1].ApproximateCreationTime
	}
	return u, ok
}

// checkOrphan applies the structural check: a shard whose parent is gone
// and was never finished by us, and whose own oldest record is after the
// replay start, may have lost its parent's changes. It is not called for an
// orphan whose id proves its parent closed before the replay start
// ([stream.Orphan.ParentClosedBefore], in startReady): only its first record
// can prove that for ids that do not carry their creation time.
func (f *follower) checkOrphan(ctx context.Context, id, parent string, first time.Time) error {
	if !first.After(f.start) {
		return nil // the parent closed before the replay start: nothing of it is needed
	}
	reason := fmt.Sprintf("shard %s's parent %s is gone from the stream and was never read by ddbsync, and %s's oldest record (%s) "+
		"is after the replay start, so %s may have held changes that are lost", id, parent, id,
		first.UTC().Format(time.RFC3339), parent)
	if !f.cfg.AcceptGap {
		return &stream.GapError{Table: f.cfg.Table, Shards: []string{parent, id}, From: f.start, To: first,
			Reason: reason, Acceptable: true}
	}
	f.log.Warn("going on past an accepted gap", slog.String("shard_id", id), slog.String("parent_shard_id", parent))
	return f.exec(ctx, func() error {
		return store.Streams.AcceptGap(ctx, f.pool, f.cfg.Table, time.Now().UTC().Format(time.RFC3339)+": "+reason)
	})
}

// applyWithRetry applies a page, retrying while the database is away.
func (f *follower) applyWithRetry(ctx context.Context, u pageUpdate) error {
	err := f.retryDB(ctx, "shard "+u.shardID, func() error {
		n, ttl, err := f.apply.apply(ctx, f.pool, u)
		if err == nil {
			f.cfg.Stats.countEvents(u.changes)
			f.cfg.Stats.Applied.Add(n)
			f.cfg.Stats.TTLRemoves.Add(ttl)
			f.cfg.Stats.Pages.Add(int64(max(u.pages, 1)))
			f.verify.observe(u.changes)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("table %s: applying shard %s: %w", f.cfg.Table, u.shardID, err)
	}
	return nil
}

// countShards publishes the shard states for metrics.
func (f *follower) countShards() {
	var n [4]int64
	for _, s := range f.shards {
		for i, st := range ShardStates {
			if string(s.state) == st {
				n[i]++
			}
		}
	}
	for i := range n {
		f.cfg.Stats.shardStates[i].Store(n[i])
	}
}

// updateWatermark persists W when the tracker moves it on; a shared
// follow publishes its shards' proven times, and W from every shard's.
func (f *follower) updateWatermark(ctx context.Context) error {
	if f.share != nil {
		return f.prove(ctx)
	}
	w := f.tracker.Watermark(f.cfg.Now())
	if !w.Time.After(f.watermark) {
		return nil
	}
	f.watermark = w.Time
	f.cfg.Stats.watermarkNanos.Store(w.Time.UnixNano())
	if err := f.exec(ctx, func() error { return store.Streams.SetWatermark(ctx, f.pool, f.cfg.Table, w.Time, w.ShardID) }); err != nil {
		return err
	}
	return f.exec(ctx, func() error { return f.pruneHistory(ctx) })
}

// exec runs a bookkeeping statement, retrying while the database is away.
func (f *follower) exec(ctx context.Context, op func() error) error {
	return f.retryDB(ctx, "bookkeeping", op)
}

// retryDB runs op until it succeeds, fails for good, or ctx is done,
// waiting with capped, jittered backoff while the database is away
// (a restart, a lost connection).
func (f *follower) retryDB(ctx context.Context, what string, op func() error) error {
	for attempt := 0; ; attempt++ {
		err := op()
		if err == nil || !reconcile.Retryable(err) || ctx.Err() != nil {
			return err
		}
		f.cfg.Stats.ApplyRetries.Add(1)
		d := f.cfg.ApplyBackoff.Delay(attempt, func(m time.Duration) time.Duration { return rand.N(m + 1) })
		f.log.Warn("database unavailable; retrying", slog.String("what", what),
			slog.Int("attempt", attempt+1), slog.Duration("delay", d), slog.String("error", err.Error()))
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (f *follower) publishWatermark(ctx context.Context) error {
	if err := f.updateWatermark(ctx); err != nil {
		return err
	}
	f.log.Info("caught up", slog.Time("watermark", f.watermark), slog.Int64("applied", f.cfg.Stats.Applied.Load()))
	return nil
}

// fail turns a reader's error into the follow's, recording gaps.
func (f *follower) fail(ev shardEvent) error {
	if gap, ok := errors.AsType[*stream.GapError](ev.err); ok {
		if gap.Table == "" { // a reader's gap: add what the follower knows
			g := *gap
			g.Table, g.Shards, g.From = f.cfg.Table, []string{ev.id}, f.watermark
			gap = &g
		}
		shards := gap.Shards
		if len(shards) == 0 {
			shards = []string{ev.id}
		}
		f.markGap(shards, gap.Error())
		return gap
	}
	if errors.Is(ev.err, stream.ErrGap) || errors.Is(ev.err, stream.ErrShardGone) {
		g := &stream.GapError{Table: f.cfg.Table, Shards: []string{ev.id}, From: f.watermark,
			Reason: "the stream no longer holds the changes after this shard's checkpoint", Cause: ev.err}
		f.markGap([]string{ev.id}, g.Error())
		return g
	}
	return fmt.Errorf("table %s: shard %s: %w", f.cfg.Table, ev.id, ev.err)
}

// markGap records the shards where following stopped, for status.
func (f *follower) markGap(shards []string, detail string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, id := range shards {
		if err := store.Shards.MarkGap(ctx, f.pool, f.cfg.Table, id, detail); err != nil {
			f.log.Warn("recording the gap failed", slog.String("shard_id", id), slog.String("error", err.Error()))
		}
	}
}
