package stream_test

import (
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/stream"
)

func TestShardReader_GapWhenRecordsAfterPositionAreGone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		start   stream.Position
		shardID string
		prepare func(*shardSim) // before the first Next
		reads   int             // successful Next calls before the trim
		trim    int             // then trim this many records
		after   string
		cause   any
	}{
		{
			name: "checkpoint before the trim horizon", start: stream.AfterSequenceNumber(seqAt(1)), shardID: "shard-1",
			prepare: func(s *shardSim) { s.trimmed = 3 }, after: seqAt(1), cause: new(*types.TrimmedDataAccessException),
		},
		{
			name: "trimmed while reading from TRIM_HORIZON", start: stream.TrimHorizon(), shardID: "shard-1",
			reads: 1, trim: 4, after: seqAt(1), cause: new(*types.TrimmedDataAccessException),
		},
		{
			name: "trimmed while reading from a checkpoint", start: stream.AfterSequenceNumber(seqAt(0)), shardID: "shard-1",
			reads: 1, trim: 5, after: seqAt(2), cause: new(*types.TrimmedDataAccessException),
		},
		{
			name: "checkpointed shard vanished", start: stream.AfterSequenceNumber(seqAt(1)), shardID: "shard-gone",
			after: seqAt(1), cause: new(*types.ResourceNotFoundException),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim := newShardSim("shard-1", 6)
			if tc.prepare != nil {
				tc.prepare(sim)
			}
			r, err := stream.NewShardReader(sim.api(), testArn, tc.shardID, tc.start, fastOpts(newClock())...)
			require.NoError(t, err)
			for range tc.reads {
				_, err := r.Next(t.Context())
				require.NoError(t, err)
			}
			sim.trimmed = max(sim.trimmed, tc.trim)
			_, err = r.Next(t.Context())
			require.ErrorIs(t, err, stream.ErrGap)
			var gap *stream.GapError
			require.ErrorAs(t, err, &gap)
			require.Equal(t, stream.GapError{StreamArn: testArn, ShardID: tc.shardID, After: tc.after, Cause: gap.Cause}, *gap)
			require.ErrorAs(t, err, tc.cause)
			require.ErrorContains(t, err, tc.after)
			require.ErrorContains(t, err, "a new export of the table")
			require.ErrorContains(t, err, "may be missing changes")
		})
	}
}

func TestShardReader_TrimmedHorizonBeforeFirstRecordRestartsFromHorizon(t *testing.T) {
	t.Parallel()
	sim := newShardSim("shard-1", 4)
	sim.recordFaults = []error{&types.TrimmedDataAccessException{Message: aws.String("trimmed under the iterator")}}
	r, err := stream.NewShardReader(sim.api(), testArn, "shard-1", stream.TrimHorizon(), fastOpts(newClock())...)
	require.NoError(t, err)
	p, err := r.Next(t.Context())
	require.NoError(t, err)
	require.Equal(t, []string{seqAt(0), seqAt(1)}, seqs(p.Changes))
	require.Len(t, sim.iterInputs, 2)
	require.Equal(t, types.ShardIteratorTypeTrimHorizon, sim.iterInputs[1].ShardIteratorType)
	require.Equal(t, map[stream.RetryCause]int64{stream.CauseTrimHorizon: 1}, r.Retries())
}

func TestShardReader_UnknownShardFromTrimHorizonIsShardGone(t *testing.T) {
	t.Parallel()
	sim := newShardSim("shard-1", 2)
	r, err := stream.NewShardReader(sim.api(), testArn, "shard-other", stream.TrimHorizon(), fastOpts(newClock())...)
	require.NoError(t, err)
	_, err = r.Next(t.Context())
	require.ErrorIs(t, err, stream.ErrShardGone)
	require.NotErrorIs(t, err, stream.ErrGap)
	require.ErrorContains(t, err, "shard-other")
	require.True(t, errors.As(err, new(*types.ResourceNotFoundException)))
}

func TestShardReader_IteratorUnknownAfterRecordsIsGap(t *testing.T) {
	t.Parallel()
	sim := newShardSim("shard-1", 4)
	r, err := stream.NewShardReader(sim.api(), testArn, "shard-1", stream.TrimHorizon(), fastOpts(newClock())...)
	require.NoError(t, err)
	_, err = r.Next(t.Context())
	require.NoError(t, err)
	sim.iters = map[string]int{} // the shard forgets every iterator: ResourceNotFoundException
	_, err = r.Next(t.Context())
	var gap *stream.GapError
	require.ErrorAs(t, err, &gap)
	require.Equal(t, seqAt(1), gap.After)
}

func TestShardReader_TrimBeforeSkipCutoffIsNoGap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		total   int
		closed  bool
		trim    int
		wantGap bool
		want    []string // changes of the page after the trim
	}{
		{"trimmed records all before the cutoff", 20, false, 5, false, []string{}},
		{"horizon reaches the cutoff", 20, false, 9, false, []string{seqAt(10)}},
		{"trimmed records reach past the cutoff", 20, false, 12, true, nil},
		{"closed shard trimmed to its end", 6, true, 6, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim := newShardSim("shard-1", tc.total) // record i created at t0 + i s
			sim.closed = tc.closed
			t0 := aws.ToTime(sim.records[0].Dynamodb.ApproximateCreationDateTime)
			r, err := stream.NewShardReader(sim.api(), testArn, "shard-1", stream.TrimHorizon(),
				fastOpts(newClock(), stream.WithSkipBefore(t0.Add(10*time.Second)))...)
			require.NoError(t, err)
			p, err := r.Next(t.Context())
			require.NoError(t, err)
			require.Equal(t, 2, p.Skipped)

			sim.trimmed = tc.trim
			p, err = r.Next(t.Context())
			if tc.wantGap {
				var gap *stream.GapError
				require.ErrorAs(t, err, &gap)
				require.Equal(t, seqAt(1), gap.After)
				require.ErrorAs(t, err, new(*types.TrimmedDataAccessException))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, seqs(p.Changes))
			require.Equal(t, stream.AfterSequenceNumber(seqAt(tc.trim+1)), p.Position)
			require.Equal(t, types.ShardIteratorTypeTrimHorizon, sim.iterInputs[len(sim.iterInputs)-1].ShardIteratorType)
			require.Equal(t, map[stream.RetryCause]int64{stream.CauseTrimHorizon: 1}, r.Retries())

			sim.trimmed = tc.trim + 4 // later trims are gaps again unless before the cutoff
			_, err = r.Next(t.Context())
			if tc.trim+4 > 10 {
				require.ErrorIs(t, err, stream.ErrGap)
			} else {
				require.NoError(t, err)
			}
		})
	}
}
