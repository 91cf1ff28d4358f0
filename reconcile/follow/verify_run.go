package follow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5"
	"golang.org/x/time/rate"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/store"
	"github.com/ddbsync/ddbsync/stream"
)

// How verification works, round by round (one per tick):
//
//  1. Compare. Every batch read earlier, over [r0, r1], whose r1 + window
//     W has passed, is compared with the copy in one snapshot
//     ([store.Layout.ReadKeys]). Every change created before r1 + window
//     is applied then, so each change the read could have seen (whatever
//     the skew of the clocks, up to the window) is in the copy. A key
//     whose row changed at or after r0 − window (a row with that
//     origin_time, a removal with that time) may have changed between the
//     read and the row: it is in flight, and skipped. Any other difference
//     is a mismatch: recorded in ddbsync.verifications with both images,
//     counted, logged at error level, and then logged only, stopped on, or
//     repaired. A repair writes DynamoDB's image with a compare-and-set on
//     the row as compared ([store.Layout.QueueCASRepair]), in one
//     transaction with the records, under the apply lock: a key the
//     stream changed since is left alone (superseded: the stream's image
//     is newer), and every change applied after the comparison, created
//     at or after W > r1, overwrites the repair, as it must.
//  2. Read. The keys the rate has earned since the last round (at most
//     100): mismatched keys first, then half keys of recent stream changes
//     and half random rows of the copy. r0 is taken before the first
//     BatchGetItem (ConsistentRead), r1 after the last; the capacity cap
//     is paid before each call.

// verifyBatch is one read of keys, waiting for W to pass to + window.
type verifyBatch struct {
	from, to time.Time
	keys     []ddbjson.Item
	ids      []string       // the keys' canonical text (keyString)
	images   []ddbjson.Item // what DynamoDB held (nil: no item)
}

// verifier is a follow's verification. run's goroutine owns everything
// but recent, which readers feed ([verifier.observe]).
type verifier struct {
	f       *follower
	cfg     VerifyConfig
	stats   *VerifyStats
	log     *slog.Logger
	layout  reconcile.Layout
	rows    int64 // the loaded export's item count: a floor for the sample's size estimate
	limiter *rate.Limiter
	debt    float64

	mu     sync.Mutex // guards recent and next
	recent []ddbjson.Item
	next   int

	budget     float64
	last       time.Time
	pending    []*verifyBatch
	unresolved map[string]ddbjson.Item // mismatched keys, by keyString, until they match
	allowed    bool                    // origin verify allowed in the data table
	// unflushed are the counts not yet added to ddbsync.verify_totals, as
	// of lastCheck; flushed is when they last were.
	unflushed          store.VerifyCounts
	lastCheck, flushed time.Time
}

func newVerifier(ctx context.Context, f *follower) (*verifier, error) {
	cfg := f.cfg.Verify
	if f.cfg.Stats.Verify == nil {
		f.cfg.Stats.Verify = &VerifyStats{}
	}
	v := &verifier{f: f, cfg: cfg, stats: f.cfg.Stats.Verify, layout: f.table.Layout,
		log:    f.log.With(slog.String("verify", string(cfg.OnMismatch))),
		recent: make([]ddbjson.Item, verifyRecentKeys), unresolved: map[string]ddbjson.Item{}}
	if cfg.MaxRCU > 0 {
		v.limiter = rate.NewLimiter(rate.Limit(cfg.MaxRCU), max(1, int(math.Ceil(cfg.MaxRCU))))
	}
	pub, err := store.Tables.Get(ctx, f.pool, f.cfg.Table)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", f.cfg.Table, err)
	}
	if pub != nil {
		v.rows = pub.Items
	}
	v.last = f.cfg.Now()
	return v, nil
}

// loopAndVerify runs the follow's loop, and verification beside it when
// it is on. A mismatch with [OnMismatchStop] ends both with its error.
func (f *follower) loopAndVerify(ctx context.Context, desc stream.Description, listedAt time.Time) error {
	if !f.cfg.Verify.on() {
		return f.loop(ctx, desc, listedAt)
	}
	v, err := newVerifier(ctx, f)
	if err != nil {
		return err
	}
	f.verify = v
	vctx, stopVerify := context.WithCancel(ctx)
	lctx, stopLoop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		err := v.run(vctx)
		if err != nil {
			stopLoop()
		}
		done <- err
	}()
	err = f.loop(lctx, desc, listedAt)
	stopVerify()
	verr := <-done
	stopLoop()
	defer v.flush(ctx)
	if verr != nil {
		return verr
	}
	if err == nil && f.cfg.UntilCaughtUp {
		// Caught up: compare what the final W covers.
		if err := v.settle(ctx); err != nil {
			return err
		}
		if n := v.pendingKeys(); n > 0 {
			v.log.Info("keys read but not compared: the watermark had not passed their read", slog.Int("keys", n))
		}
	}
	return err
}

// observe keeps the keys of applied changes to sample from. Safe for
// concurrent use; a nil verifier does nothing.
func (v *verifier) observe(changes []stream.Change) {
	if v == nil || len(changes) == 0 {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, c := range changes {
		// A copy: the change's strings are its page's, reused once applied.
		v.recent[v.next%len(v.recent)] = ddbjson.CloneItem(c.Keys)
		v.next++
	}
}

// run does a round on each tick until ctx is done (nil) or a mismatch
// stops the follow (its error).
func (v *verifier) run(ctx context.Context) error {
	ticks := v.cfg.Ticks
	if ticks == nil {
		tk := time.NewTicker(time.Second)
		defer tk.Stop()
		ticks = tk.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticks:
			err := v.round(ctx)
			v.stats.Rounds.Add(1)
			if err != nil {
				if ctx.Err() != nil && !errors.Is(err, reconcile.ErrInconsistent) {
					return nil
				}
				return err
			}
		}
	}
}

// round compares what W now covers, then reads the keys earned since the
// last round. Only a mismatch that stops the follow is returned; other
// failures are logged, counted and tried again next round.
func (v *verifier) round(ctx context.Context) error {
	if err := v.settle(ctx); err != nil {
		return err
	}
	now := v.f.cfg.Now()
	if d := now.Sub(v.last); d > 0 {
		v.budget = min(v.budget+v.cfg.KeysPerMinute*d.Minutes(), verifyMaxBatch)
	}
	v.last = now
	n := min(int(v.budget), verifyMaxPending-v.pendingKeys())
	if n <= 0 {
		return nil
	}
	keys, ids, err := v.sample(ctx, n)
	if err == nil && len(keys) > 0 {
		var b *verifyBatch
		if b, err = v.read(ctx, keys, ids); err == nil {
			v.pending = append(v.pending, b)
			v.budget -= float64(len(keys))
		}
	}
	if err != nil && ctx.Err() == nil {
		v.stats.ReadErrors.Add(1)
		v.log.Warn("verify: reading keys failed; trying again next round", slog.String("error", err.Error()))
	}
	return nil
}

func (v *verifier) pendingKeys() int {
	n := 0
	for _, b := range v.pending {
		n += len(b.keys)
	}
	return n
}

// sample picks up to n distinct keys: mismatched ones first, then half
// from recent stream changes and the rest from the copy at random.
func (v *verifier) sample(ctx context.Context, n int) ([]ddbjson.Item, []string, error) {
	var keys []ddbjson.Item
	var ids []string
	seen := map[string]bool{}
	add := func(k ddbjson.Item) {
		key, err := v.layout.Key.KeyOf(k)
		if err != nil {
			return
		}
		id, err := keyString(v.layout.Key, key)
		if err != nil || seen[id] || len(keys) >= n {
			return
		}
		seen[id] = true
		keys, ids = append(keys, key), append(ids, id)
	}
	recheck := 0
	for _, k := range v.unresolved {
		if recheck++; recheck > min(n, verifyRecheck) {
			break
		}
		add(k)
	}
	v.mu.Lock()
	recent := make([]ddbjson.Item, 0, min(v.next, len(v.recent)))
	for _, k := range v.recent {
		if k != nil {
			recent = append(recent, k)
		}
	}
	v.mu.Unlock()
	half := len(keys) + (n-len(keys)+1)/2
	for _, i := range rand.Perm(len(recent)) {
		if len(keys) >= half {
			break
		}
		add(recent[i])
	}
	if rest := n - len(keys); rest > 0 {
		random, err := v.layout.SampleKeys(ctx, v.f.pool, rest, v.rows)
		if err != nil {
			return nil, nil, fmt.Errorf("sampling the copy: %w", err)
		}
		for _, k := range random {
			add(k)
		}
	}
	return keys, ids, nil
}

// read reads keys from DynamoDB with strongly consistent reads, paying
// the capacity cap before each call.
func (v *verifier) read(ctx context.Context, keys []ddbjson.Item, ids []string) (*verifyBatch, error) {
	b := &verifyBatch{keys: keys, ids: ids, images: make([]ddbjson.Item, len(keys))}
	index := make(map[string]int, len(ids))
	for i, id := range ids {
		index[id] = i
	}
	table := v.f.cfg.Table
	todo := make([]map[string]types.AttributeValue, len(keys))
	copy(todo, keys)
	b.from = v.f.cfg.Now()
	for attempt := 0; len(todo) > 0; attempt++ {
		if err := v.pay(ctx); err != nil {
			return nil, err
		}
		call := todo[:min(len(todo), verifyMaxBatch)]
		out, err := v.cfg.Client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
			RequestItems:           map[string]types.KeysAndAttributes{table: {Keys: call, ConsistentRead: aws.Bool(true)}},
			ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal,
		})
		if err != nil {
			return nil, fmt.Errorf("BatchGetItem of %d keys: %w", len(call), err)
		}
		got := out.Responses[table]
		units, measured := 0.0, false
		for _, c := range out.ConsumedCapacity {
			if c.CapacityUnits != nil {
				units, measured = units+*c.CapacityUnits, true
			}
		}
		for _, it := range got {
			id, err := keyString(v.layout.Key, it)
			if err != nil {
				return nil, fmt.Errorf("an item read: %w", err)
			}
			i, ok := index[id]
			if !ok {
				return nil, fmt.Errorf("BatchGetItem returned key %s, which was not asked for", id)
			}
			b.images[i] = it
			if !measured {
				// One unit per 4 KB of each item, as strongly consistent reads cost.
				if raw, err := ddbjson.EncodeItem(it); err == nil {
					units += math.Ceil(float64(len(raw)) / 4096)
				}
			}
		}
		unprocessed := out.UnprocessedKeys[table].Keys
		if !measured {
			units += float64(len(call) - len(got) - len(unprocessed)) // a key without an item costs a unit too
		}
		v.debt += units
		v.stats.MilliRCU.Add(int64(units * 1000))
		v.stats.Read.Add(int64(len(call) - len(unprocessed)))
		todo = append(unprocessed, todo[len(call):]...)
		if len(unprocessed) > 0 {
			// Throttled: back off before asking again.
			d := stream.Backoff{Base: 50 * time.Millisecond, Cap: 5 * time.Second}.Delay(attempt,
				func(m time.Duration) time.Duration { return rand.N(m + 1) })
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	b.to = v.f.cfg.Now()
	return b, nil
}

// pay waits until the limiter grants the whole units of capacity owed,
// in instalments of its burst (as the scan source does).
func (v *verifier) pay(ctx context.Context) error {
	if v.limiter == nil {
		v.debt = 0
		return nil
	}
	owed := int(v.debt)
	v.debt -= float64(owed)
	for owed > 0 {
		n := min(owed, v.limiter.Burst())
		if err := v.limiter.WaitN(ctx, n); err != nil {
			return err
		}
		owed -= n
	}
	return nil
}

// settle compares every batch whose read W has passed, plus the window.
func (v *verifier) settle(ctx context.Context) error {
	w := v.f.cfg.Stats.Watermark()
	for len(v.pending) > 0 && !v.pending[0].to.Add(v.cfg.Window).After(w) {
		if err := v.compare(ctx, v.pending[0], w); err != nil {
			if errors.Is(err, reconcile.ErrInconsistent) {
				return err
			}
			if ctx.Err() == nil {
				v.stats.ReadErrors.Add(1)
				v.log.Warn("verify: comparing with the copy failed; trying again next round", slog.String("error", err.Error()))
			}
			return nil
		}
		v.pending = v.pending[1:]
	}
	return nil
}

// mismatch is one key found to differ.
type mismatch struct {
	i     int
	kind  store.FindingKind
	row   store.KeyRow
	id    int64 // its ddbsync.verifications row
	wrote bool  // a repair wrote DynamoDB's image
}

// compare compares batch b with the copy, W being w, and acts on the
// mismatches.
func (v *verifier) compare(ctx context.Context, b *verifyBatch, w time.Time) error {
	rows, err := v.layout.ReadKeys(ctx, v.f.pool, v.f.cfg.Table, b.keys, b.images)
	if err != nil {
		return err
	}
	since := b.from.Add(-v.cfg.Window)
	var counts store.VerifyCounts
	var found []mismatch
	var matched []string
	still := 0 // mismatched keys recorded before, still mismatched
	for i, r := range rows {
		if r.Same {
			counts.Checked++
			matched = append(matched, b.ids[i])
			continue
		}
		changed := r.Seen.OriginTime
		if !r.Seen.Present {
			changed = r.RemovedAt
		}
		if changed != nil && !changed.Before(since) {
			counts.InFlight++
			continue
		}
		counts.Checked++
		if _, ok := v.unresolved[b.ids[i]]; ok {
			still++ // the same mismatch: recorded and counted once
			continue
		}
		m := mismatch{i: i, row: r, kind: store.FindingDifferent}
		switch {
		case !r.Seen.Present:
			m.kind = store.FindingMissing
		case b.images[i] == nil:
			m.kind = store.FindingExtra
		}
		found = append(found, m)
	}
	counts.Mismatches = int64(len(found))
	at := v.f.cfg.Now()
	if len(found) > 0 && v.cfg.OnMismatch == OnMismatchRepair {
		err = v.repair(ctx, b, w, found, &counts, at)
	} else {
		err = v.record(ctx, b, w, found, counts, at)
	}
	if err != nil {
		return err
	}
	v.stats.Checked.Add(counts.Checked)
	v.stats.InFlight.Add(counts.InFlight)
	v.stats.Mismatches.Add(counts.Mismatches)
	v.stats.LastCheckNanos.Store(at.UnixNano())
	if still > 0 {
		v.log.Debug("verify: keys that mismatched still do", slog.Int("keys", still))
	}
	for _, id := range matched {
		delete(v.unresolved, id)
	}
	for _, m := range found {
		action := v.action(m)
		v.log.Error("verify: the copy differs from DynamoDB", slog.String("kind", string(m.kind)),
			slog.String("key", b.ids[m.i]), slog.String("copy_origin", m.row.Seen.Origin),
			slog.Time("read_at", b.from), slog.Time("watermark", w), slog.String("action", string(action)),
			slog.Int64("verification_id", m.id))
		if action == store.VerifyLogged || action == store.VerifyStopped {
			if len(v.unresolved) < verifyMaxUnresolved {
				v.unresolved[b.ids[m.i]] = b.keys[m.i]
			}
		} else {
			delete(v.unresolved, b.ids[m.i])
		}
	}
	v.stats.Unresolved.Store(int64(len(v.unresolved)))
	if len(found) > 0 && v.cfg.OnMismatch == OnMismatchStop {
		return v.stopError(b, found)
	}
	return nil
}

// action is what became of m, as recorded.
func (v *verifier) action(m mismatch) store.VerifyAction {
	switch v.cfg.OnMismatch {
	case OnMismatchStop:
		return store.VerifyStopped
	case OnMismatchRepair:
		if m.wrote {
			return store.VerifyRepaired
		}
		return store.VerifySuperseded
	}
	return store.VerifyLogged
}

func (v *verifier) verification(b *verifyBatch, w time.Time, m mismatch, a store.VerifyAction) (store.Verification, error) {
	rec := store.Verification{Table: v.f.cfg.Table, Key: []byte(b.ids[m.i]), Kind: m.kind, Seen: m.row.Seen,
		ReadFrom: b.from, ReadTo: b.to, Watermark: w, Window: v.cfg.Window, Action: a}
	if img := b.images[m.i]; img != nil {
		raw, err := ddbjson.AppendItem(nil, img)
		if err != nil {
			return rec, err
		}
		rec.DynamoDBItem = raw
	}
	return rec, nil
}

// record records the mismatches (logged, or stopped on) and the totals in
// one transaction; a round without mismatches only adds its totals to
// those to write, at most every verifyFlushEvery.
func (v *verifier) record(ctx context.Context, b *verifyBatch, w time.Time, found []mismatch, counts store.VerifyCounts, at time.Time) error {
	action := store.VerifyLogged
	if v.cfg.OnMismatch == OnMismatchStop {
		action = store.VerifyStopped
	}
	totals := addCounts(v.unflushed, counts)
	if len(found) == 0 && at.Sub(v.flushed) < verifyFlushEvery {
		v.unflushed, v.lastCheck = totals, at
		return nil
	}
	err := v.f.retryDB(ctx, "verify", func() error {
		return pgx.BeginFunc(ctx, v.f.pool, func(tx pgx.Tx) error {
			for i := range found {
				rec, err := v.verification(b, w, found[i], action)
				if err != nil {
					return err
				}
				if found[i].id, err = store.Verifications.Record(ctx, tx, rec); err != nil {
					return err
				}
			}
			return store.Verifications.AddTotals(ctx, tx, v.f.cfg.Table, totals, at)
		})
	})
	if err == nil {
		v.unflushed, v.lastCheck, v.flushed = store.VerifyCounts{}, at, at
	}
	return err
}

// flush writes the totals not written yet (the follow is ending).
func (v *verifier) flush(ctx context.Context) {
	if v.unflushed == (store.VerifyCounts{}) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := store.Verifications.AddTotals(ctx, v.f.pool, v.f.cfg.Table, v.unflushed, v.lastCheck); err != nil {
		v.log.Warn("verify: recording the totals failed", slog.String("error", err.Error()))
		return
	}
	v.unflushed = store.VerifyCounts{}
}

func addCounts(a, b store.VerifyCounts) store.VerifyCounts {
	return store.VerifyCounts{Checked: a.Checked + b.Checked, InFlight: a.InFlight + b.InFlight,
		Mismatches: a.Mismatches + b.Mismatches, Repaired: a.Repaired + b.Repaired}
}

// repair records the mismatches and writes DynamoDB's image of each, with
// a compare-and-set on its row as compared, in one transaction under the
// apply lock; a key the stream changed since is superseded.
func (v *verifier) repair(ctx context.Context, b *verifyBatch, w time.Time, found []mismatch, counts *store.VerifyCounts, at time.Time) error {
	if !v.allowed {
		if err := v.f.exec(ctx, func() error { return store.AllowOrigin(ctx, v.f.pool, v.layout, reconcile.OriginVerify) }); err != nil {
			return err
		}
		v.allowed = true
	}
	prov := reconcile.Provenance{Origin: reconcile.OriginVerify, Time: b.from}
	var repaired int64
	err := v.f.retryDB(ctx, "verify repair", func() error {
		repaired = 0
		return pgx.BeginFunc(ctx, v.f.pool, func(tx pgx.Tx) error {
			if err := store.LockApplyExclusive(ctx, tx, v.f.cfg.Table); err != nil {
				return err
			}
			batch := &pgx.Batch{}
			for i := range found {
				m := &found[i]
				rec, err := v.verification(b, w, *m, store.VerifySuperseded)
				if err != nil {
					return err
				}
				if m.id, err = store.Verifications.Record(ctx, tx, rec); err != nil {
					return err
				}
				var image ddbjson.Item
				if m.kind != store.FindingExtra {
					image = b.images[m.i]
				}
				if err := v.layout.QueueCASRepair(batch, store.CASRepair{Table: v.f.cfg.Table, Key: b.keys[m.i], Kind: m.kind,
					Seen: m.row.Seen, Image: image, Prov: prov, VerificationID: m.id, History: v.f.apply.history != nil}); err != nil {
					return err
				}
			}
			res := tx.SendBatch(ctx, batch)
			wrote := make([]bool, len(found))
			for i := range found {
				tag, err := res.Exec()
				if err != nil {
					res.Close()
					return err
				}
				wrote[i] = tag.RowsAffected() == 1
			}
			if err := res.Close(); err != nil {
				return err
			}
			for i := range found {
				found[i].wrote = wrote[i]
				if wrote[i] {
					repaired++
					if err := store.Verifications.SetAction(ctx, tx, found[i].id, store.VerifyRepaired); err != nil {
						return err
					}
				}
			}
			c := *counts
			c.Repaired = repaired
			return store.Verifications.AddTotals(ctx, tx, v.f.cfg.Table, addCounts(v.unflushed, c), at)
		})
	})
	if err != nil {
		return err
	}
	v.unflushed, v.lastCheck, v.flushed = store.VerifyCounts{}, at, at
	counts.Repaired = repaired
	v.stats.Repaired.Add(repaired)
	v.stats.Superseded.Add(int64(len(found)) - repaired)
	return nil
}

// stopError is the follow's error for mismatches it stops on.
func (v *verifier) stopError(b *verifyBatch, found []mismatch) error {
	var keys []string
	for i, m := range found {
		if i == 3 {
			keys = append(keys, "…")
			break
		}
		keys = append(keys, fmt.Sprintf("%s %s", m.kind, b.ids[m.i]))
	}
	return &reconcile.TableError{Table: v.f.cfg.Table, Err: fmt.Errorf("table %s: %w: a strongly consistent read of "+
		"DynamoDB at %s found %d key(s) whose row in the copy differs, after the watermark had passed the read "+
		"(%s); recorded in ddbsync.verifications from id %d",
		v.f.cfg.Table, reconcile.ErrInconsistent, b.from.UTC().Format(time.RFC3339), len(found), strings.Join(keys, ", "), found[0].id)}
}
