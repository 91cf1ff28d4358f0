package follow_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/emulator"
	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/reconcile/follow"
	"github.com/ddbsync/ddbsync/stream"
)

// listingTimes is a Streams API that records when, on the fake clock, each
// DescribeStream call was made.
type listingTimes struct {
	stream.API
	now func() time.Time
	mu  sync.Mutex
	at  []time.Time
}

func (l *listingTimes) DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error) {
	l.mu.Lock()
	l.at = append(l.at, l.now())
	l.mu.Unlock()
	return l.API.DescribeStream(ctx, in, opts...)
}

// On a quiet table, a listing proves the caught-up shards open only up to
// when it was asked for: W moves on only if the follower lists the stream
// again when the tracker asks, which it does at most once a ListingInterval.
func TestFollow_QuietTableWatermarkMovesOnWithPacedListings(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t, emulator.WithShards(2))
	h.Insert(10)
	h.ExportAndLoad(h.Now())
	h.Tick(time.Second)
	start := h.Now()

	api := &listingTimes{API: h.Emu.Streams(), now: h.Now}
	cfg := h.FollowConfig()
	cfg.Streams = api
	cfg.UntilCaughtUp = false
	cfg.DiscoverInterval = time.Hour // only the start and the watermark list the stream
	cfg.ListingInterval = time.Second
	cfg.ReaderOptions = []stream.Option{
		stream.WithClock(h.Now), // listings and pages on the fake clock
		stream.WithPollInterval(time.Millisecond),
		stream.WithCaughtUpRule(5, 50*time.Millisecond),
		stream.WithPropagationMargin(500 * time.Millisecond),
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { _, err := follow.Run(ctx, h.Pool, cfg); done <- err }()

	// The fake clock moves 10 ms a real millisecond while the table is
	// quiet; stop once W is 20 fake seconds past the start.
	stop := make(chan struct{})
	var ticking sync.WaitGroup
	ticking.Go(func() {
		tk := time.NewTicker(time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				h.Tick(10 * time.Millisecond)
			}
		}
	})
	target := start.Add(20 * time.Second)
	ok := false
	deadline := time.Now().Add(30 * time.Second)
	for !ok && time.Now().Before(deadline) {
		ok = !h.Stats.Watermark().Before(target)
		time.Sleep(time.Millisecond)
	}
	close(stop)
	ticking.Wait()
	cancel()
	require.NoError(t, <-done)
	require.True(t, ok, "W %s never reached %s: the follower did not list when the tracker asked", h.Stats.Watermark(), target)

	api.mu.Lock()
	defer api.mu.Unlock()
	require.GreaterOrEqual(t, len(api.at), 10, "about one listing a second moves W on")
	// Paced from when each listing began, which the calls follow closely
	// (the fake clock moves on between the two).
	for i := 1; i < len(api.at); i++ {
		require.GreaterOrEqual(t, api.at[i].Sub(api.at[i-1]), 900*time.Millisecond,
			"listings %d and %d came %s apart, less than the ListingInterval", i-1, i, api.at[i].Sub(api.at[i-1]))
	}
}
