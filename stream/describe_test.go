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

func describeOut(last string, shards ...types.Shard) *dynamodbstreams.DescribeStreamOutput {
	created := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	d := &types.StreamDescription{
		StreamArn:               aws.String(testArn),
		StreamLabel:             aws.String("2025-03-01T00:00:00.000"),
		TableName:               aws.String("Tenure"),
		StreamStatus:            types.StreamStatusEnabled,
		StreamViewType:          types.StreamViewTypeNewAndOldImages,
		CreationRequestDateTime: &created,
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange},
		},
		Shards: shards,
	}
	if last != "" {
		d.LastEvaluatedShardId = aws.String(last)
	}
	return &dynamodbstreams.DescribeStreamOutput{StreamDescription: d}
}

func TestDescribe_PagesUntilLastEvaluatedShardIdIsEmpty(t *testing.T) {
	t.Parallel()
	var starts []string
	pages := map[string]*dynamodbstreams.DescribeStreamOutput{
		"":  describeOut("b", listed("a", "", true), listed("b", "a", false)),
		"b": describeOut("c", listed("b", "a", true), listed("c", "b", false)),
		"c": describeOut(""),
	}
	throttled := false
	api := &fakeAPI{describeStream: func(_ context.Context, in *dynamodbstreams.DescribeStreamInput) (*dynamodbstreams.DescribeStreamOutput, error) {
		require.Equal(t, testArn, aws.ToString(in.StreamArn))
		if aws.ToString(in.ExclusiveStartShardId) == "c" && !throttled {
			throttled = true
			return nil, &types.LimitExceededException{}
		}
		starts = append(starts, aws.ToString(in.ExclusiveStartShardId))
		return pages[aws.ToString(in.ExclusiveStartShardId)], nil
	}}
	var events []stream.RetryEvent
	d, err := stream.Describe(t.Context(), api, testArn,
		stream.WithBackoff(stream.Backoff{Base: time.Millisecond, Cap: time.Millisecond}),
		stream.WithRetryHook(func(ev stream.RetryEvent) { events = append(events, ev) }))
	require.NoError(t, err)
	require.Equal(t, []string{"", "b", "c"}, starts)
	require.Len(t, events, 1)
	require.Equal(t, stream.CauseThrottle, events[0].Cause)
	require.Equal(t, "DescribeStream", events[0].Op)

	require.Equal(t, testArn, d.StreamArn)
	require.Equal(t, "Tenure", d.TableName)
	require.Equal(t, types.StreamStatusEnabled, d.Status)
	require.Equal(t, types.StreamViewTypeNewAndOldImages, d.ViewType)
	require.Equal(t, [2]string{"pk", "sk"}, [2]string{d.HashKey, d.RangeKey})
	require.Len(t, d.Shards, 3, "b listed twice is kept once")
	require.Equal(t, "200", aws.ToString(d.Shards[1].SequenceNumberRange.EndingSequenceNumber), "the closed entry of b wins")
}

func TestDescribe_StreamNotFound(t *testing.T) {
	t.Parallel()
	api := &fakeAPI{describeStream: func(context.Context, *dynamodbstreams.DescribeStreamInput) (*dynamodbstreams.DescribeStreamOutput, error) {
		return nil, &types.ResourceNotFoundException{Message: aws.String("Requested resource not found")}
	}}
	_, err := stream.Describe(t.Context(), api, testArn)
	require.ErrorIs(t, err, stream.ErrStreamNotFound)
	require.ErrorContains(t, err, testArn)
}

func TestDescribe_RefusesARepeatedPageToken(t *testing.T) {
	t.Parallel()
	api := &fakeAPI{describeStream: func(context.Context, *dynamodbstreams.DescribeStreamInput) (*dynamodbstreams.DescribeStreamOutput, error) {
		return describeOut("a", listed("a", "", false)), nil
	}}
	_, err := stream.Describe(t.Context(), api, testArn)
	require.ErrorContains(t, err, "LastEvaluatedShardId a twice")
}

func TestDescribeChildren_FiltersToChildren(t *testing.T) {
	t.Parallel()
	api := &fakeAPI{describeStream: func(_ context.Context, in *dynamodbstreams.DescribeStreamInput) (*dynamodbstreams.DescribeStreamOutput, error) {
		require.Equal(t, types.ShardFilterTypeChildShards, in.ShardFilter.Type)
		require.Equal(t, "p", aws.ToString(in.ShardFilter.ShardId))
		// like moto, which ignores the filter
		return describeOut("", listed("p", "", true), listed("c1", "p", false), listed("x", "q", false), listed("c2", "p", false)), nil
	}}
	kids, err := stream.DescribeChildren(t.Context(), api, testArn, "p")
	require.NoError(t, err)
	require.Len(t, kids, 2)
	require.Equal(t, "c1", aws.ToString(kids[0].ShardId))
	require.Equal(t, "c2", aws.ToString(kids[1].ShardId))
}

func TestCheckViewType_RefusesStreamsWithoutNewImages(t *testing.T) {
	t.Parallel()
	require.NoError(t, stream.CheckViewType(types.StreamViewTypeNewAndOldImages))
	require.NoError(t, stream.CheckViewType(types.StreamViewTypeNewImage))
	for _, vt := range []types.StreamViewType{types.StreamViewTypeKeysOnly, types.StreamViewTypeOldImage, ""} {
		err := stream.CheckViewType(vt)
		require.ErrorIs(t, err, stream.ErrViewType, vt)
		require.ErrorContains(t, err, "NEW_AND_OLD_IMAGES")
	}
}
