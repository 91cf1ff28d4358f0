package scenario

import (
	"context"
	"errors"
	"time"

	"golang.org/x/time/rate"

	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/follow"
	"github.com/ddbsync/ddbsync/stream"
)

// The assumptions the harness's followers rest on, in one place: the
// caught-up rule and the margins they are configured with ([stream.Tracker]
// states what each rests on), and the faults the harness may inject without
// breaking them. They are the stream package's defaults, which the ddbsync
// child processes use too, except the span, shortened for fake time.
const (
	// caughtUpPages and caughtUpSpan are the caught-up rule: k empty pages
	// in a row, the last at least the span after the first (fake time).
	caughtUpPages = stream.DefaultCaughtUpPages
	caughtUpSpan  = 500 * time.Millisecond
	// maxSpuriousEmpties is assumption E: GetRecords never returns more
	// than k−1 spurious empty pages in a row. The harness never has more
	// forced empty pages pending than this (env.faults), so no shard meets
	// more of them in a row, with records waiting or not.
	maxSpuriousEmpties = caughtUpPages - 1
	// propagationMargin is m (assumption P) and creationTimeTolerance τ
	// (assumption O).
	propagationMargin     = stream.DefaultPropagationMargin
	creationTimeTolerance = stream.DefaultCreationTimeTolerance
	// maxDatedEarly is how much earlier than its write a record may be
	// dated (env.dateEarly): then a later record of a shard may carry an
	// earlier creation time than one before it, by up to τ once rounded
	// down to the second (assumption O), and a record becomes readable up
	// to this long after the instant it names (assumption P: within m).
	maxDatedEarly = min(propagationMargin, creationTimeTolerance)
)

// followConfig is a follow on the fake clock with millisecond timing.
func (e *env) followConfig(stats *follow.Stats, untilCaughtUp bool) follow.Config {
	clock := e.emu.Clock().Now
	return follow.Config{
		Table:            tableName,
		Streams:          e.streams,
		Tables:           e.tables,
		UntilCaughtUp:    untilCaughtUp,
		DiscoverInterval: 20 * time.Millisecond,
		DescribeLimiter:  rate.NewLimiter(rate.Inf, 1), // the emulator has no call limit
		Now:              clock,
		ApplyBackoff:     stream.Backoff{Base: 2 * time.Millisecond, Cap: 20 * time.Millisecond},
		Stats:            stats,
		ReaderOptions: []stream.Option{
			stream.WithPollInterval(time.Millisecond),
			stream.WithCaughtUpRule(caughtUpPages, caughtUpSpan),
			stream.WithPropagationMargin(propagationMargin),
			stream.WithCreationTimeTolerance(creationTimeTolerance),
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
func (e *env) follow(what string) (follow.Result, error) {
	e.t.Helper()
	stop := e.ticking()
	defer stop()
	ctx, cancel := context.WithTimeout(e.t.Context(), 90*time.Second)
	defer cancel()
	stats := &follow.Stats{}
	res, err := follow.Run(ctx, e.pool, e.followConfig(stats, true))
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
	stats := &follow.Stats{}
	go func() {
		if n == 0 {
			time.Sleep(d)
		}
		for stats.Applied.Load() < int64(n) && ctx.Err() == nil {
			time.Sleep(50 * time.Microsecond)
		}
		cancel()
	}()
	_, err := follow.Run(ctx, e.pool, e.followConfig(stats, true))
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
	stats := &follow.Stats{}
	done := make(chan error, 1)
	go func() {
		_, err := follow.Run(ctx, e.pool, e.followConfig(stats, false))
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
