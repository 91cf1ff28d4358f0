package emulator_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/emulator"
)

func noRetry(o *dynamodbstreams.Options) { o.Retryer = aws.NopRetryer{} }

func TestFaults_TypedErrorsPerKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		kind   emulator.FaultKind
		status int
		check  func(t *testing.T, err error)
	}{
		{"throttle", emulator.FaultThrottle, http.StatusBadRequest, func(t *testing.T, err error) {
			var e *streamtypes.LimitExceededException
			require.ErrorAs(t, err, &e)
		}},
		{"provisioned throughput", emulator.FaultProvisionedThroughput, http.StatusBadRequest, func(t *testing.T, err error) {
			var e interface{ ErrorCode() string }
			require.ErrorAs(t, err, &e)
			require.Equal(t, "ProvisionedThroughputExceededException", e.ErrorCode())
		}},
		{"internal", emulator.FaultInternal, http.StatusInternalServerError, func(t *testing.T, err error) {
			var e *streamtypes.InternalServerError
			require.ErrorAs(t, err, &e)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startEmulator(t)
			st := srv.Streams(noRetry)
			srv.FailNext("ListStreams", tc.kind, 1)
			_, err := st.ListStreams(context.Background(), &dynamodbstreams.ListStreamsInput{})
			tc.check(t, err)
			var re *awshttp.ResponseError
			require.ErrorAs(t, err, &re)
			require.Equal(t, tc.status, re.HTTPStatusCode())
			_, err = st.ListStreams(context.Background(), &dynamodbstreams.ListStreamsInput{})
			require.NoError(t, err, "only the next call fails")
		})
	}
}

func TestFaults_SDKRetriesThrottlesAnd5xx(t *testing.T) {
	t.Parallel()
	srv := startEmulator(t)
	db := srv.DynamoDB(func(o *dynamodb.Options) {
		o.Retryer = retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts = 5; o.Backoff = noBackoff{} })
	})
	name := createTable(t, db, false, false)
	srv.FailNext("PutItem", emulator.FaultInternal, 2)
	srv.FailNext("PutItem", emulator.FaultProvisionedThroughput, 1)
	put(t, db, name, map[string]types.AttributeValue{"pk": s("a")})
	require.Equal(t, 4, srv.Calls("PutItem"))

	srv.FailRate(emulator.AnyOperation, emulator.FaultThrottle, 1)
	_, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(name), Key: map[string]types.AttributeValue{"pk": s("a")}})
	var le *types.LimitExceededException
	require.ErrorAs(t, err, &le)
	srv.ClearFaults()
	_, err = db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(name), Key: map[string]types.AttributeValue{"pk": s("a")}})
	require.NoError(t, err)
}

type noBackoff struct{}

func (noBackoff) BackoffDelay(int, error) (time.Duration, error) { return 0, nil }

func TestFaults_RateIsRoughlyHonoured(t *testing.T) {
	t.Parallel()
	srv := startEmulator(t, emulator.WithSeed(7))
	st := srv.Streams(noRetry)
	srv.FailRate("ListStreams", emulator.FaultInternal, 0.3)
	failed := 0
	for range 300 {
		if _, err := st.ListStreams(context.Background(), &dynamodbstreams.ListStreamsInput{}); err != nil {
			failed++
		}
	}
	require.InDelta(t, 90, failed, 30)
}

func TestFaults_EmptyPagesDoNotAdvance(t *testing.T) {
	t.Parallel()
	srv := startEmulator(t)
	db, st := srv.DynamoDB(), srv.Streams()
	ctx := context.Background()
	name := createTable(t, db, false, true)
	arn := streamArn(t, db, name)
	put(t, db, name, map[string]types.AttributeValue{"pk": s("a")})
	_, shards := listShards(t, st, arn, 100)
	it, err := st.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arn),
		ShardId: shards[0].ShardId, ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon})
	require.NoError(t, err)
	srv.FailNext("GetRecords", emulator.FaultEmptyPage, 3)
	srv.FailNext("ListStreams", emulator.FaultEmptyPage, 1) // applies to GetRecords only
	_, err = st.ListStreams(ctx, &dynamodbstreams.ListStreamsInput{})
	require.NoError(t, err)
	iter := it.ShardIterator
	for range 3 {
		out, err := st.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter})
		require.NoError(t, err)
		require.Empty(t, out.Records)
		require.NotNil(t, out.NextShardIterator)
		iter = out.NextShardIterator
	}
	out, err := st.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter})
	require.NoError(t, err)
	require.Len(t, out.Records, 1)
}

func TestErrors_UnknownStreamAndShard(t *testing.T) {
	t.Parallel()
	srv := startEmulator(t)
	db, st := srv.DynamoDB(), srv.Streams()
	ctx := context.Background()
	name := createTable(t, db, false, true)
	arn := streamArn(t, db, name)
	var nf *streamtypes.ResourceNotFoundException
	_, err := st.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn + "x")})
	require.ErrorAs(t, err, &nf)
	_, err = st.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arn),
		ShardId: aws.String("shardId-00000000000000000000-00000000"), ShardIteratorType: streamtypes.ShardIteratorTypeLatest})
	require.ErrorAs(t, err, &nf)
	_, err = st.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: aws.String(arn + "|1|garbage")})
	require.Error(t, err)
	require.False(t, errors.As(err, &nf))
}
