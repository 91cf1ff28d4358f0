package stream_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/stream"
)

func TestShardReader_ReportsTheLatestCreationTimeRead(t *testing.T) {
	t.Parallel()
	sim := newShardSim("shard-1", 4) // created 11:00:00 .. 11:00:03
	t0 := aws.ToTime(sim.records[0].Dynamodb.ApproximateCreationDateTime)
	// AWS does not promise creation order within a shard: the third record
	// is dated before the second.
	back := t0
	sim.records[2].Dynamodb.ApproximateCreationDateTime = &back
	r, err := stream.NewShardReader(sim.api(), testArn, "shard-1", stream.TrimHorizon(),
		fastOpts(newClock(), stream.WithCreationTimeTolerance(2*time.Second))...)
	require.NoError(t, err)

	p, err := r.Next(t.Context()) // records 0 and 1
	require.NoError(t, err)
	require.Equal(t, t0.Add(time.Second), p.State.Time)
	p, err = r.Next(t.Context()) // records 2 (dated t0) and 3
	require.NoError(t, err)
	require.Equal(t, stream.ShardState{ShardID: "shard-1", Progress: stream.ProgressReading, Time: t0.Add(3 * time.Second),
		Margin: 5 * time.Second, Tolerance: 2 * time.Second}, p.State)

	sim.records = sim.records[:3] // a read that ends on the earlier record
	sim.iters = map[string]int{}
	r, err = stream.NewShardReader(sim.api(), testArn, "shard-1", stream.TrimHorizon(), fastOpts(newClock())...)
	require.NoError(t, err)
	_, err = r.Next(t.Context())
	require.NoError(t, err)
	p, err = r.Next(t.Context())
	require.NoError(t, err)
	require.Equal(t, t0.Add(time.Second), p.State.Time, "the latest, not the last")
	require.Equal(t, t0, p.OldestRecordTime)
}

func TestShardReader_DefaultRuleNeedsFiveEmptyPages(t *testing.T) {
	t.Parallel()
	sim := newShardSim("shard-1", 0)
	clk := newClock()
	sim.onGetRecords = func() { clk.Advance(500 * time.Millisecond) }
	r, err := stream.NewShardReader(sim.api(), testArn, "shard-1", stream.TrimHorizon(),
		stream.WithPollInterval(time.Millisecond), stream.WithClock(clk.Now))
	require.NoError(t, err)
	t0 := clk.Now()
	for i := 1; i <= stream.DefaultCaughtUpPages; i++ {
		p, err := r.Next(t.Context())
		require.NoError(t, err)
		require.Equal(t, i == stream.DefaultCaughtUpPages, p.CaughtUp, "empty page %d", i)
		if p.CaughtUp {
			require.Equal(t, t0.Add(-stream.DefaultPropagationMargin), p.CaughtUpAt, "the first page was asked for at t0")
			require.Equal(t, stream.DefaultPropagationMargin, p.State.Margin)
		}
	}
}

func TestShardReader_EmptyPagesCountFromWhenTheyWereAskedFor(t *testing.T) {
	t.Parallel()
	sim := newShardSim("shard-1", 0)
	clk := newClock()
	t0 := clk.Now()
	// The first call is throttled and retried for 10 s: the page it returns
	// shows the shard's end at some instant after the successful attempt was
	// sent, not before.
	sim.recordFaults = []error{apiErr("LimitExceededException", 0)}
	sim.onGetRecords = func() { clk.Advance(5 * time.Second) }
	r, err := stream.NewShardReader(sim.api(), testArn, "shard-1", stream.TrimHorizon(),
		fastOpts(clk, stream.WithCaughtUpRule(3, 0), stream.WithPropagationMargin(0))...)
	require.NoError(t, err)
	var p stream.Page
	for range 3 {
		p, err = r.Next(t.Context())
		require.NoError(t, err)
	}
	require.True(t, p.CaughtUp)
	require.Equal(t, t0.Add(5*time.Second), p.CaughtUpAt, "sent after the failed attempt, answered 5 s later")
}
