package stream_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/stream"
)

func TestBackoff_CeilingDoublesUpToCap(t *testing.T) {
	t.Parallel()
	b := stream.Backoff{Base: 100 * time.Millisecond, Cap: time.Second}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		require.Equal(t, w*time.Millisecond, b.Ceiling(i), "attempt %d", i)
	}
	require.Equal(t, time.Second, b.Ceiling(1<<30), "no overflow")
}

func TestBackoff_DelayIsFullJitterUnderCeiling(t *testing.T) {
	t.Parallel()
	b := stream.Backoff{Base: time.Millisecond, Cap: 8 * time.Millisecond}
	var asked time.Duration
	d := b.Delay(2, func(max time.Duration) time.Duration { asked = max; return max / 2 })
	require.Equal(t, 4*time.Millisecond, asked)
	require.Equal(t, 2*time.Millisecond, d)
}

func TestRetryCause_Names(t *testing.T) {
	t.Parallel()
	for c, name := range map[stream.RetryCause]string{
		stream.CauseThrottle: "throttle", stream.CauseServer: "server_error", stream.CauseNetwork: "network",
		stream.CauseExpiredIterator: "expired_iterator", stream.CauseIteratorAge: "iterator_age", stream.CauseTrimHorizon: "trim_horizon",
	} {
		require.Equal(t, name, c.String())
	}
}
