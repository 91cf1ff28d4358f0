package reconciletest

import (
	"context"
	"sync"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/reconcile/follow"
)

// FollowInBackground runs a follow with cfg (Harness.FollowConfig's, say,
// with UntilCaughtUp off) until the returned stop is called, which returns
// the follow's error. The test ends it if it has not.
func (h *Harness) FollowInBackground(cfg follow.Config) (stop func() error) {
	h.T.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := follow.Run(ctx, h.Pool, cfg)
		done <- err
	}()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			err = <-done
		})
		return err
	}
	h.T.Cleanup(func() { _ = stop() })
	return stop
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
