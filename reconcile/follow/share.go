package follow

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/ddbsync/ddbsync/reconcile/store"
)

// DefaultLeaseDuration is how long a shared follow's lease of a shard
// lasts unless renewed. A dead process's shards are taken over within
// about 4/3 of it: leases are renewed, and peers look for expired ones,
// every third of it.
const DefaultLeaseDuration = 10 * time.Second

// sharing is a shared follow's own state (Config.Shared): the shards it
// holds a lease of. Only the run loop touches it.
type sharing struct {
	owner string
	d     time.Duration
	held  map[string]*heldShard
	// since is when the run began, on the Now clock: with UntilCaughtUp
	// it stops once the published W has passed it.
	since time.Time
}

// heldShard is a lease this process holds, its reader, and the last
// proven_until it published for the shard.
type heldShard struct {
	lease  store.Lease
	cancel context.CancelFunc
	proven time.Time
}

// newOwner names a follow run: host and pid for the operator reading
// status, and random bytes so that two runs never share a name.
func newOwner() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b))
}

// fairShare decides what a follower does in one round, from the census:
// take up to take free or expired shards (its fair share, ready shards
// over live followers, rounded up, less what it holds), or, when none is
// free, take one shard from the peer steal names, the one holding the most,
// when that peer holds two or more than it does. Taking one at a time from
// the richest peer converges to shares that differ by one at most, and
// never moves a shard back and forth.
func fairShare(c store.Census, me string) (take int, steal string) {
	live := max(c.Live, 1)
	target := (c.Ready + live - 1) / live
	mine, leased := c.Held[me], 0
	for _, n := range c.Held {
		leased += n
	}
	if free := c.Ready - leased; free > 0 {
		return min(max(target-mine, 0), free), ""
	}
	most := mine
	for owner, n := range c.Held {
		if owner != me && (n > most || (n == most && owner < steal)) {
			most, steal = n, owner
		}
	}
	if most-mine >= 2 {
		return 0, steal
	}
	return 0, ""
}

// join registers this run as a follower of the table and takes its share.
func (f *follower) join(ctx context.Context, events chan<- shardEvent, wg *sync.WaitGroup) error {
	if err := f.exec(ctx, func() error { return store.Leases.Join(ctx, f.pool, f.cfg.Table, f.share.owner, f.share.d) }); err != nil {
		return err
	}
	f.log.Info("following shared", slog.String("owner", f.share.owner), slog.Duration("lease_duration", f.share.d))
	return f.balance(ctx, events, wg)
}

// leave lets go of every lease at once, so that peers need not wait for
// them to expire.
func (f *follower) leave() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for id := range f.share.held {
		f.drop(id)
	}
	if err := store.Leases.Release(ctx, f.pool, f.cfg.Table, f.share.owner, ""); err != nil {
		f.log.Warn("releasing the leases failed; they expire by themselves", slog.String("error", err.Error()))
	}
}

// balance is one round of the lease protocol: renew this process and its
// leases, stop reading the shards taken over by peers, take a fair share of
// the ready shards, and start reading what it took from the checkpoints.
func (f *follower) balance(ctx context.Context, events chan<- shardEvent, wg *sync.WaitGroup) error {
	s := f.share
	var held []store.Lease
	if err := f.exec(ctx, func() (err error) {
		held, err = store.Leases.Renew(ctx, f.pool, f.cfg.Table, s.owner, s.d)
		return err
	}); err != nil {
		return err
	}
	f.cfg.Stats.leaseRenewedNanos.Store(time.Now().UnixNano())
	still := make(map[string]int64, len(held))
	for _, l := range held {
		still[l.Shard] = l.Counter
	}
	for id, h := range s.held {
		if c, ok := still[id]; !ok || c != h.lease.Counter {
			f.log.Info("shard taken over by another follower", slog.String("shard_id", id))
			f.drop(id)
		}
	}
	var census store.Census
	if err := f.exec(ctx, func() (err error) { census, err = store.Leases.Count(ctx, f.pool, f.cfg.Table); return err }); err != nil {
		return err
	}
	take, steal := fairShare(census, s.owner)
	var taken []store.Lease
	err := f.exec(ctx, func() (err error) {
		switch {
		case take > 0:
			taken, err = store.Leases.Take(ctx, f.pool, f.cfg.Table, s.owner, s.d, take)
		case steal != "":
			taken, err = store.Leases.Steal(ctx, f.pool, f.cfg.Table, s.owner, steal, s.d)
		}
		return err
	})
	if err != nil {
		return err
	}
	if len(taken) > 0 {
		// The checkpoints are read after the leases were taken: a former
		// owner's page either committed before (and is read here) or is
		// fenced off.
		if err := f.refreshShards(ctx); err != nil {
			return err
		}
		for _, l := range taken {
			f.log.Info("shard leased", slog.String("shard_id", l.Shard), slog.Int64("counter", l.Counter))
			s.held[l.Shard] = &heldShard{lease: l}
		}
		for _, l := range taken {
			if _, listed := f.lineage.Shard(l.Shard); !listed {
				// Listed by a peer first: list it here before reading it.
				return f.rediscover(ctx, events, wg)
			}
		}
	} else if err := f.refreshShards(ctx); err != nil {
		return err
	}
	f.cfg.Stats.LeasesHeld.Store(int64(len(s.held)))
	f.startReady(ctx, events, wg)
	return nil
}

// refreshShards rereads every shard's checkpoint: peers finish shards and
// move checkpoints this process only sees in the database.
func (f *follower) refreshShards(ctx context.Context) error {
	var rows []store.Shard
	if err := f.exec(ctx, func() (err error) { rows, err = store.Shards.List(ctx, f.pool, f.cfg.Table); return err }); err != nil {
		return err
	}
	for _, r := range rows {
		s := f.shards[r.ID]
		if s == nil {
			s = &shardRun{id: r.ID, parent: r.Parent}
			f.shards[r.ID] = s
		}
		if s.running {
			continue // its reader knows better
		}
		s.state, s.lastSeq = r.State, r.LastSeq
	}
	f.countShards()
	return nil
}

// drop stops reading shard id, whose lease is lost or let go of.
func (f *follower) drop(id string) {
	h := f.share.held[id]
	if h == nil {
		return
	}
	if h.cancel != nil {
		h.cancel()
	}
	delete(f.share.held, id)
	if s := f.shards[id]; s != nil {
		s.running = false
	}
	f.cfg.Stats.LeasesHeld.Store(int64(len(f.share.held)))
}

// heldEvent reports whether a page event of a shared follow comes from the
// reader of a lease still held, not of one since lost.
func (f *follower) heldEvent(ev shardEvent) bool {
	h := f.share.held[ev.id]
	return h != nil && h.lease.Counter == ev.counter
}

// prove publishes what each held shard proves, when it moved on by a whole
// second, and then W, computed from every shard's in the database.
func (f *follower) prove(ctx context.Context) error {
	for id, h := range f.share.held {
		at, ok := f.tracker.Proven(id)
		if !ok || !at.Truncate(time.Second).After(h.proven.Truncate(time.Second)) {
			continue
		}
		l := h.lease
		if err := f.exec(ctx, func() error { return store.Leases.Prove(ctx, f.pool, f.cfg.Table, l, at) }); err != nil {
			return err
		}
		h.proven = at
	}
	return f.publishShared(ctx)
}

// publishShared publishes W from every shard's proven time, whoever read it.
func (f *follower) publishShared(ctx context.Context) error {
	var w time.Time
	var by string
	if err := f.exec(ctx, func() (err error) { w, by, err = store.Leases.PublishWatermark(ctx, f.pool, f.cfg.Table); return err }); err != nil {
		return err
	}
	if w.After(f.watermark) {
		f.watermark = w
		f.cfg.Stats.watermarkNanos.Store(w.UnixNano())
		f.log.Debug("watermark", slog.Time("watermark", w), slog.String("held_back_by", by))
	}
	return nil
}

// sharedListingDue reports whether a listing could move a held shard's
// proven time on ([stream.Tracker.ProvenListingDue]).
func (f *follower) sharedListingDue() bool {
	for id := range f.share.held {
		if f.tracker.ProvenListingDue(id) {
			return true
		}
	}
	return false
}

// leaseLost tells a reader's error that only ends its lease from one that
// ends the follow.
func leaseLost(err error) bool { return errors.Is(err, store.ErrLeaseLost) }

// sharedCaughtUp reports, for UntilCaughtUp, whether the published W has
// passed the run's start: every change made before it began is applied.
func (f *follower) sharedCaughtUp() bool {
	return !f.watermark.Before(f.share.since)
}

// finishShared publishes what the finished shard proves while its lease is
// still held, then lets go of the lease and takes a share of its children.
func (f *follower) finishShared(ctx context.Context, id string) error {
	if err := f.prove(ctx); err != nil {
		return err
	}
	if err := f.exec(ctx, func() error { return store.Leases.Release(ctx, f.pool, f.cfg.Table, f.share.owner, id) }); err != nil {
		return err
	}
	f.drop(id)
	return nil
}
