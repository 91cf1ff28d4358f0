package reconciletest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/reconcile/follow"
	"github.com/ddbsync/ddbsync/stream"
)

// Background is a follow running in the background.
type Background struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// FollowInBackground runs a follow with cfg (Harness.FollowConfig's, say,
// with UntilCaughtUp off) until it is stopped; the test stops it if it
// has not.
func (h *Harness) FollowInBackground(cfg follow.Config) *Background {
	h.T.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &Background{cancel: cancel, done: make(chan struct{})}
	go func() {
		_, b.err = follow.Run(ctx, h.Pool, cfg)
		close(b.done)
	}()
	h.T.Cleanup(func() { _ = b.Stop() })
	return b
}

// Stop stops the follow and returns its error.
func (b *Background) Stop() error {
	b.cancel()
	<-b.done
	return b.err
}

// Wait waits up to d for the follow to end by itself, and returns its
// error; it fails the test if the follow is still running.
func (b *Background) Wait(t testing.TB, d time.Duration) error {
	t.Helper()
	select {
	case <-b.done:
		return b.err
	case <-time.After(d):
		t.Fatalf("the follow did not end within %s", d)
		return nil
	}
}

// RunClock advances the emulator's clock by step every millisecond, until
// the returned stop is called (or the test ends): a table that lives on,
// fast, while a follower runs. A test that uses it asserts what holds
// whenever the clock moves.
func (h *Harness) RunClock(step time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		tk := time.NewTicker(time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				h.Tick(step)
			}
		}
	})
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	h.T.Cleanup(stop)
	return stop
}

// WaitWatermark waits, up to 30 s, until the last FollowConfig's follower
// has published a watermark at or after at.
func (h *Harness) WaitWatermark(at time.Time) {
	h.T.Helper()
	require.Eventually(h.T, func() bool { return !h.Stats.Watermark().Before(at) }, 30*time.Second, time.Millisecond,
		"the follower's watermark did not reach %s", at)
}

// FollowConfigOnEmulatorClock is [Harness.FollowConfig] with the shard
// readers on the emulator's clock, as the follower's listings are. With
// FollowConfig's readers on the wall clock, a run of empty pages always
// looks recent, so W follows the listings' (emulator) times and may pass a
// change not read yet once the emulator's clock moves; on one clock, W
// never does. Three empty pages in a row make a shard caught up, however
// little the clock moved meanwhile (it may stand still).
func (h *Harness) FollowConfigOnEmulatorClock() follow.Config {
	cfg := h.FollowConfig()
	cfg.ReaderOptions = append(cfg.ReaderOptions, stream.WithClock(h.Now), stream.WithCaughtUpRule(3, 0))
	return cfg
}
