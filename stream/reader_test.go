package stream_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/stream"
)

// fastOpts are timing knobs in milliseconds and a fake clock.
func fastOpts(clk *fakeClock, more ...stream.Option) []stream.Option {
	return append([]stream.Option{
		stream.WithPollInterval(time.Millisecond),
		stream.WithBackoff(stream.Backoff{Base: time.Millisecond, Cap: 2 * time.Millisecond}),
		stream.WithClock(clk.Now),
		stream.WithCaughtUpRule(3, 2*time.Second),
		stream.WithPropagationMargin(5 * time.Second),
	}, more...)
}

func seqs(changes []stream.Change) []string {
	out := []string{}
	for _, c := range changes {
		out = append(out, c.SequenceNumber)
	}
	return out
}

func TestShardReader_ReadsClosedShardToItsEnd(t *testing.T) {
	t.Parallel()
	sim := newShardSim("shard-1", 5)
	sim.closed = true
	clk := newClock()
	r, err := stream.NewShardReader(sim.api(), testArn, "shard-1", stream.TrimHorizon(), fastOpts(clk)...)
	require.NoError(t, err)

	var got []string
	var last stream.Page
	for i := 0; i < 3; i++ {
		last, err = r.Next(t.Context())
		require.NoError(t, err)
		got = append(got, seqs(last.Changes)...)
		require.Equal(t, i == 2, last.Finished, "page %d", i)
		require.False(t, last.CaughtUp)
	}
	require.Equal(t, []string{seqAt(0), seqAt(1), seqAt(2), seqAt(3), seqAt(4)}, got)
	require.Equal(t, stream.AfterSequenceNumber(seqAt(4)), last.Position)
	require.Equal(t, stream.ProgressFinished, last.State.Progress)
	require.Equal(t, "shard-1", last.Changes[0].ShardID)

	calls := sim.calls
	again, err := r.Next(t.Context())
	require.NoError(t, err)
	require.True(t, again.Finished)
	require.Empty(t, again.Changes)
	require.Equal(t, calls, sim.calls, "a finished reader makes no more calls")
}

func TestShardReader_EmptyPagesDoNotFinishAShard(t *testing.T) {
	t.Parallel()
	sim := newShardSim("shard-1", 2)
	sim.closed = true
	sim.emptyFirst = 4
	r, err := stream.NewShardReader(sim.api(), testArn, "shard-1", stream.TrimHorizon(), fastOpts(newClock())...)
	require.NoError(t, err)
	for range 4 {
		p, err := r.Next(t.Context())
		require.NoError(t, err)
		require.Empty(t, p.Changes)
		require.False(t, p.Finished)
	}
	p, err := r.Next(t.Context())
	require.NoError(t, err)
	require.Len(t, p.Changes, 2)
	require.True(t, p.Finished)
}

func TestShardReader_CaughtUpAfterEmptyPagesSpanningTheRule(t *testing.T) {
	t.Parallel()
	sim := newShardSim("shard-1", 2)
	clk := newClock()
	t0 := clk.Now()
	// Each call takes a second: asked at t0+n, answered at t0+n+1. A page
	// counts from when it was asked for.
	sim.onGetRecords = func() { clk.Advance(time.Second) }
	r, err := stream.NewShardReader(sim.api(), testArn, "shard-1", stream.TrimHorizon(), fastOpts(clk)...)
	require.NoError(t, err)

	p, err := r.Next(t.Context()) // asked at t0: two records
	require.NoError(t, err)
	require.Len(t, p.Changes, 2)
	require.Equal(t, stream.ProgressReading, p.State.Progress)
	require.Equal(t, p.Changes[1].ApproximateCreationTime, p.State.Time)

	for i := 1; i <= 2; i++ { // asked at t0+1, t0+2: empty, not yet three
		p, err = r.Next(t.Context())
		require.NoError(t, err)
		require.False(t, p.CaughtUp, "empty page asked at t0+%d", i)
		require.Equal(t, stream.ProgressReading, p.State.Progress)
	}
	p, err = r.Next(t.Context()) // asked at t0+3: three empty pages over 2s
	require.NoError(t, err)
	require.True(t, p.CaughtUp)
	require.Equal(t, t0.Add(time.Second-5*time.Second), p.CaughtUpAt)
	require.Equal(t, stream.ShardState{ShardID: "shard-1", Progress: stream.ProgressCaughtUp, Time: p.CaughtUpAt,
		Margin: 5 * time.Second, Tolerance: stream.DefaultCreationTimeTolerance}, p.State)

	p, err = r.Next(t.Context()) // asked at t0+4: the window slides forward
	require.NoError(t, err)
	require.True(t, p.CaughtUp)
	require.Equal(t, t0.Add(2*time.Second-5*time.Second), p.CaughtUpAt)

	sim.add(1, t0) // a record resets the run
	p, err = r.Next(t.Context())
	require.NoError(t, err)
	require.Len(t, p.Changes, 1)
	require.False(t, p.CaughtUp)
	require.Equal(t, stream.ProgressReading, p.State.Progress)
	for range 2 {
		p, err = r.Next(t.Context())
		require.NoError(t, err)
		require.False(t, p.CaughtUp)
	}
	p, err = r.Next(t.Context())
	require.NoError(t, err)
	require.True(t, p.CaughtUp)
}

func TestShardReader_CaughtUpRuleNeedsPagesAndSpan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		pages int
		span  time.Duration
		step  time.Duration
		want  int // 1-based empty page that first counts as caught up
	}{
		{"three pages a second apart", 3, 2 * time.Second, time.Second, 3},
		{"span longer than three pages", 3, 5 * time.Second, time.Second, 6},
		{"more pages than the span needs", 5, time.Second, time.Second, 5},
		{"fast polls need the span", 3, time.Second, 100 * time.Millisecond, 11},
		{"zero span still needs the pages", 4, 0, time.Millisecond, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim := newShardSim("shard-1", 0)
			clk := newClock()
			sim.onGetRecords = func() { clk.Advance(tc.step) }
			r, err := stream.NewShardReader(sim.api(), testArn, "shard-1", stream.TrimHorizon(),
				fastOpts(clk, stream.WithCaughtUpRule(tc.pages, tc.span))...)
			require.NoError(t, err)
			for i := 1; i <= tc.want; i++ {
				p, err := r.Next(t.Context())
				require.NoError(t, err)
				require.Equal(t, i == tc.want, p.CaughtUp, "empty page %d", i)
				if i < tc.want {
					require.Equal(t, stream.ProgressUnknown, p.State.Progress)
				}
			}
		})
	}
}

func TestNewShardReader_RejectsBadSettings(t *testing.T) {
	t.Parallel()
	api := &fakeAPI{}
	tests := []struct {
		name  string
		start stream.Position
		opts  []stream.Option
	}{
		{"fewer than three empty pages", stream.TrimHorizon(), []stream.Option{stream.WithCaughtUpRule(2, time.Second)}},
		{"zero poll interval", stream.TrimHorizon(), []stream.Option{stream.WithPollInterval(0)}},
		{"iterator age past expiry", stream.TrimHorizon(), []stream.Option{stream.WithIteratorMaxAge(16 * time.Minute)}},
		{"backoff cap under base", stream.TrimHorizon(), []stream.Option{stream.WithBackoff(stream.Backoff{Base: time.Second, Cap: time.Millisecond})}},
		{"limit over 1000", stream.TrimHorizon(), []stream.Option{stream.WithLimit(1001)}},
		{"negative propagation margin", stream.TrimHorizon(), []stream.Option{stream.WithPropagationMargin(-time.Second)}},
		{"negative creation time tolerance", stream.TrimHorizon(), []stream.Option{stream.WithCreationTimeTolerance(-time.Second)}},
		{"sequence number not digits", stream.AfterSequenceNumber("12a"), nil},
		{"empty sequence number", stream.AfterSequenceNumber(""), nil},
		{"zero position", stream.Position{}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := stream.NewShardReader(api, testArn, "shard-1", tc.start, tc.opts...)
			require.Error(t, err)
		})
	}
}

func TestShardReader_SkipBeforeDropsOldChangesButMovesPosition(t *testing.T) {
	t.Parallel()
	sim := newShardSim("shard-1", 6) // created 11:00:00 .. 11:00:05
	sim.closed = true
	t0 := aws.ToTime(sim.records[0].Dynamodb.ApproximateCreationDateTime)
	r, err := stream.NewShardReader(sim.api(), testArn, "shard-1", stream.TrimHorizon(),
		fastOpts(newClock(), stream.WithSkipBefore(t0.Add(3*time.Second)))...)
	require.NoError(t, err)

	p, err := r.Next(t.Context())
	require.NoError(t, err)
	require.Empty(t, p.Changes)
	require.Equal(t, 2, p.Skipped)
	require.Equal(t, stream.AfterSequenceNumber(seqAt(1)), p.Position, "checkpoint may pass skipped records")
	require.Equal(t, t0, p.FirstRecordTime, "coverage proof sees skipped records")
	require.Equal(t, stream.ShardState{ShardID: "shard-1", Progress: stream.ProgressReading, Time: t0.Add(time.Second),
		Margin: 5 * time.Second, Tolerance: stream.DefaultCreationTimeTolerance}, p.State)

	p, err = r.Next(t.Context())
	require.NoError(t, err)
	require.Equal(t, []string{seqAt(3)}, seqs(p.Changes))
	require.Equal(t, 1, p.Skipped)
	require.Equal(t, t0, p.FirstRecordTime)
	require.Equal(t, t0, p.OldestRecordTime)
}

func TestShardReader_ResumesAfterSequenceNumber(t *testing.T) {
	t.Parallel()
	sim := newShardSim("shard-1", 5)
	sim.closed = true
	r, err := stream.NewShardReader(sim.api(), testArn, "shard-1", stream.AfterSequenceNumber(seqAt(2)), fastOpts(newClock())...)
	require.NoError(t, err)
	require.Equal(t, stream.AfterSequenceNumber(seqAt(2)), r.Position())
	p, err := r.Next(t.Context())
	require.NoError(t, err)
	require.Equal(t, []string{seqAt(3), seqAt(4)}, seqs(p.Changes))
	require.True(t, p.Finished)
	require.Equal(t, types.ShardIteratorTypeAfterSequenceNumber, sim.iterInputs[0].ShardIteratorType)
	require.Equal(t, seqAt(2), aws.ToString(sim.iterInputs[0].SequenceNumber))
}

func TestShardReader_DropsRedeliveredRecords(t *testing.T) {
	t.Parallel()
	sim := newShardSim("shard-1", 3)
	pages := [][]types.Record{sim.records[0:2], sim.records[1:3]}
	api := &fakeAPI{
		getShardIterator: func(context.Context, *dynamodbstreams.GetShardIteratorInput) (*dynamodbstreams.GetShardIteratorOutput, error) {
			return &dynamodbstreams.GetShardIteratorOutput{ShardIterator: aws.String("it")}, nil
		},
		getRecords: func(context.Context, *dynamodbstreams.GetRecordsInput) (*dynamodbstreams.GetRecordsOutput, error) {
			p := pages[0]
			pages = pages[1:]
			return &dynamodbstreams.GetRecordsOutput{Records: p, NextShardIterator: aws.String("it")}, nil
		},
	}
	r, err := stream.NewShardReader(api, testArn, "shard-1", stream.TrimHorizon(), fastOpts(newClock())...)
	require.NoError(t, err)
	p, err := r.Next(t.Context())
	require.NoError(t, err)
	require.Equal(t, []string{seqAt(0), seqAt(1)}, seqs(p.Changes))
	p, err = r.Next(t.Context())
	require.NoError(t, err)
	require.Equal(t, []string{seqAt(2)}, seqs(p.Changes))
}

func TestShardReader_PollWaitEndsWithContext(t *testing.T) {
	t.Parallel()
	sim := newShardSim("shard-1", 0)
	r, err := stream.NewShardReader(sim.api(), testArn, "shard-1", stream.TrimHorizon(),
		fastOpts(newClock(), stream.WithPollInterval(time.Hour))...)
	require.NoError(t, err)
	p, err := r.Next(t.Context())
	require.NoError(t, err)
	require.Empty(t, p.Changes)

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = r.Next(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), time.Second)
	require.Equal(t, 1, sim.calls, "no call after an empty page until the poll interval passed")
}

func TestShardReader_NilIteratorFromGetShardIteratorFinishesShard(t *testing.T) {
	t.Parallel()
	api := &fakeAPI{getShardIterator: func(context.Context, *dynamodbstreams.GetShardIteratorInput) (*dynamodbstreams.GetShardIteratorOutput, error) {
		return &dynamodbstreams.GetShardIteratorOutput{}, nil // closed shard, nothing after the checkpoint
	}}
	r, err := stream.NewShardReader(api, testArn, "shard-1", stream.AfterSequenceNumber(seqAt(4)), fastOpts(newClock())...)
	require.NoError(t, err)
	p, err := r.Next(t.Context())
	require.NoError(t, err)
	require.True(t, p.Finished)
	require.Equal(t, stream.AfterSequenceNumber(seqAt(4)), p.Position)
	require.Equal(t, stream.ProgressFinished, p.State.Progress)
}

func TestShardReader_PassesLimit(t *testing.T) {
	t.Parallel()
	sim := newShardSim("shard-1", 1)
	api := sim.api()
	var limit int32
	api.getRecords = func(ctx context.Context, in *dynamodbstreams.GetRecordsInput) (*dynamodbstreams.GetRecordsOutput, error) {
		limit = aws.ToInt32(in.Limit)
		return sim.getRecords(ctx, in)
	}
	r, err := stream.NewShardReader(api, testArn, "shard-1", stream.TrimHorizon(), fastOpts(newClock(), stream.WithLimit(17))...)
	require.NoError(t, err)
	_, err = r.Next(t.Context())
	require.NoError(t, err)
	require.EqualValues(t, 17, limit)
}
