package stream_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/stream"
)

// sdkWrapped wraps err as the SDK does for an operation.
func sdkWrapped(op string, err error) error {
	return &smithy.OperationError{ServiceID: "DynamoDB Streams", OperationName: op, Err: err}
}

func TestShardReader_RenewsExpiredIteratorFromLastRecord(t *testing.T) {
	t.Parallel()
	sim := newShardSim("shard-1", 4)
	sim.closed = true
	sim.recordFaults = []error{nil, sdkWrapped("GetRecords", &types.ExpiredIteratorException{Message: aws.String("expired")})}
	r, err := stream.NewShardReader(sim.api(), testArn, "shard-1", stream.TrimHorizon(), fastOpts(newClock())...)
	require.NoError(t, err)

	p, err := r.Next(t.Context())
	require.NoError(t, err)
	require.Equal(t, []string{seqAt(0), seqAt(1)}, seqs(p.Changes))
	p, err = r.Next(t.Context())
	require.NoError(t, err)
	require.Equal(t, []string{seqAt(2), seqAt(3)}, seqs(p.Changes))
	require.True(t, p.Finished)

	require.Len(t, sim.iterInputs, 2)
	require.Equal(t, types.ShardIteratorTypeAfterSequenceNumber, sim.iterInputs[1].ShardIteratorType)
	require.Equal(t, seqAt(1), aws.ToString(sim.iterInputs[1].SequenceNumber))
	require.Equal(t, map[stream.RetryCause]int64{stream.CauseExpiredIterator: 1}, r.Retries())
}

func TestShardReader_RenewsExpiredIteratorFromStartWhenNothingRead(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		start stream.Position
		want  types.ShardIteratorType
	}{
		{"trim horizon", stream.TrimHorizon(), types.ShardIteratorTypeTrimHorizon},
		{"checkpoint", stream.AfterSequenceNumber(seqAt(0)), types.ShardIteratorTypeAfterSequenceNumber},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim := newShardSim("shard-1", 3)
			sim.recordFaults = []error{apiErr("ExpiredIteratorException", smithy.FaultClient)}
			r, err := stream.NewShardReader(sim.api(), testArn, "shard-1", tc.start, fastOpts(newClock())...)
			require.NoError(t, err)
			_, err = r.Next(t.Context())
			require.NoError(t, err)
			require.Len(t, sim.iterInputs, 2)
			for _, in := range sim.iterInputs {
				require.Equal(t, tc.want, in.ShardIteratorType)
				require.Equal(t, tc.start.SequenceNumber, aws.ToString(in.SequenceNumber))
			}
		})
	}
}

func TestShardReader_RenewsOldIteratorBeforeUse(t *testing.T) {
	t.Parallel()
	sim := newShardSim("shard-1", 4)
	clk := newClock()
	r, err := stream.NewShardReader(sim.api(), testArn, "shard-1", stream.TrimHorizon(),
		fastOpts(clk, stream.WithIteratorMaxAge(time.Minute))...)
	require.NoError(t, err)
	_, err = r.Next(t.Context())
	require.NoError(t, err)

	clk.Advance(59 * time.Second)
	_, err = r.Next(t.Context())
	require.NoError(t, err)
	require.Len(t, sim.iterInputs, 1, "an iterator under the max age is used")

	clk.Advance(61 * time.Second)
	p, err := r.Next(t.Context())
	require.NoError(t, err)
	require.Empty(t, p.Changes)
	require.Len(t, sim.iterInputs, 2)
	require.Equal(t, seqAt(3), aws.ToString(sim.iterInputs[1].SequenceNumber))
	require.Equal(t, map[stream.RetryCause]int64{stream.CauseIteratorAge: 1}, r.Retries())
}

func TestShardReader_RetriesTransientErrorsByCause(t *testing.T) {
	t.Parallel()
	resp503 := &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: http.StatusServiceUnavailable}},
		Err:      errors.New("service unavailable"),
	}
	tests := []struct {
		name  string
		err   error
		cause stream.RetryCause
	}{
		{"LimitExceededException", &types.LimitExceededException{Message: aws.String("slow down")}, stream.CauseThrottle},
		{"ProvisionedThroughputExceededException by code", apiErr("ProvisionedThroughputExceededException", smithy.FaultClient), stream.CauseThrottle},
		{"ThrottlingException by code", apiErr("ThrottlingException", smithy.FaultClient), stream.CauseThrottle},
		{"InternalServerError", &types.InternalServerError{Message: aws.String("oops")}, stream.CauseServer},
		{"server fault by code", apiErr("ServiceUnavailable", smithy.FaultServer), stream.CauseServer},
		{"HTTP 503", resp503, stream.CauseServer},
		{"connection refused", &smithyhttp.RequestSendError{Err: errors.New("dial tcp: connection refused")}, stream.CauseNetwork},
	}
	for _, tc := range tests {
		for _, op := range []string{"GetShardIterator", "GetRecords"} {
			t.Run(tc.name+"/"+op, func(t *testing.T) {
				sim := newShardSim("shard-1", 2)
				faults := []error{sdkWrapped(op, tc.err), sdkWrapped(op, tc.err), sdkWrapped(op, tc.err)}
				if op == "GetRecords" {
					sim.recordFaults = faults
				} else {
					sim.iterFaults = faults
				}
				var mu sync.Mutex
				var events []stream.RetryEvent
				hook := func(ev stream.RetryEvent) { mu.Lock(); events = append(events, ev); mu.Unlock() }
				r, err := stream.NewShardReader(sim.api(), testArn, "shard-1", stream.TrimHorizon(),
					fastOpts(newClock(), stream.WithRetryHook(hook))...)
				require.NoError(t, err)
				p, err := r.Next(t.Context())
				require.NoError(t, err)
				require.Len(t, p.Changes, 2)
				require.Equal(t, map[stream.RetryCause]int64{tc.cause: 3}, r.Retries())
				require.Len(t, events, 3)
				for i, ev := range events {
					require.Equal(t, tc.cause, ev.Cause)
					require.Equal(t, op, ev.Op)
					require.Equal(t, i, ev.Attempt)
					require.Equal(t, "shard-1", ev.ShardID)
					require.LessOrEqual(t, ev.Delay, 2*time.Millisecond)
					require.Error(t, ev.Err)
				}
				if op == "GetRecords" {
					require.Len(t, sim.iterInputs, 1, "a young iterator is kept across retries")
				}
			})
		}
	}
}

func TestShardReader_BackoffEndsWithContext(t *testing.T) {
	t.Parallel()
	sim := newShardSim("shard-1", 2)
	for range 10000 {
		sim.recordFaults = append(sim.recordFaults, &types.LimitExceededException{})
	}
	r, err := stream.NewShardReader(sim.api(), testArn, "shard-1", stream.TrimHorizon(),
		fastOpts(newClock(), stream.WithBackoff(stream.Backoff{Base: time.Millisecond, Cap: 4 * time.Millisecond}))...)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = r.Next(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), time.Second)
	require.Positive(t, r.Retries()[stream.CauseThrottle])
	require.Equal(t, stream.TrimHorizon(), r.Position())
}

func TestShardReader_OtherErrorsAreReturned(t *testing.T) {
	t.Parallel()
	sim := newShardSim("shard-1", 2)
	boom := apiErr("AccessDeniedException", smithy.FaultClient)
	sim.recordFaults = []error{sdkWrapped("GetRecords", boom)}
	r, err := stream.NewShardReader(sim.api(), testArn, "shard-1", stream.TrimHorizon(), fastOpts(newClock())...)
	require.NoError(t, err)
	_, err = r.Next(t.Context())
	require.ErrorIs(t, err, boom)
	require.ErrorContains(t, err, "shard-1")
	require.NotErrorIs(t, err, stream.ErrGap)
}

func TestShardReader_BadRecordLeavesPositionUnchanged(t *testing.T) {
	t.Parallel()
	sim := newShardSim("shard-1", 4)
	sim.records[3].Dynamodb.SequenceNumber = aws.String("not-a-number")
	r, err := stream.NewShardReader(sim.api(), testArn, "shard-1", stream.TrimHorizon(), fastOpts(newClock())...)
	require.NoError(t, err)
	_, err = r.Next(t.Context())
	require.NoError(t, err)
	for range 2 {
		_, err = r.Next(t.Context())
		require.ErrorIs(t, err, stream.ErrBadSequenceNumber)
		require.Equal(t, stream.AfterSequenceNumber(seqAt(1)), r.Position())
	}
}
