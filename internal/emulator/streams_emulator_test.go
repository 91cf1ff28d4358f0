package emulator_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/emulator"
)

func TestStream_RecordFieldsAsAWS(t *testing.T) {
	t.Parallel()
	srv := startEmulator(t, emulator.WithRegion("eu-west-1"))
	db, st := srv.DynamoDB(), srv.Streams()
	name := createTable(t, db, false, true)
	arn := streamArn(t, db, name)
	srv.Clock().Advance(1500 * time.Millisecond)

	for i := range 600 {
		put(t, db, name, map[string]types.AttributeValue{"pk": s("a"), "v": n(fmt.Sprint(i))})
	}
	// A write that changes nothing writes no record.
	put(t, db, name, map[string]types.AttributeValue{"pk": s("a"), "v": n("599")})
	_, shards := listShards(t, st, arn, 100)
	recs, ended := readShard(t, st, arn, aws.ToString(shards[0].ShardId), streamtypes.ShardIteratorTypeTrimHorizon, nil)
	require.False(t, ended, "an open shard never ends")
	require.Len(t, recs, 600)

	lengths := map[int]bool{}
	for i, r := range recs {
		require.Equal(t, "1.1", aws.ToString(r.EventVersion))
		require.Equal(t, "eu-west-1", aws.ToString(r.AwsRegion))
		require.Len(t, aws.ToString(r.EventID), 32)
		require.Nil(t, r.UserIdentity)
		d := r.Dynamodb
		require.Equal(t, streamtypes.StreamViewTypeNewAndOldImages, d.StreamViewType)
		require.Positive(t, aws.ToInt64(d.SizeBytes))
		require.Zero(t, d.ApproximateCreationDateTime.Nanosecond(), "whole seconds")
		require.Equal(t, srv.Clock().Now().Truncate(time.Second), d.ApproximateCreationDateTime.UTC())
		seq := aws.ToString(d.SequenceNumber)
		require.GreaterOrEqual(t, len(seq), 21)
		require.LessOrEqual(t, len(seq), 40)
		lengths[len(seq)] = true
		if i > 0 {
			prev := seqNum(t, recs[i-1].Dynamodb.SequenceNumber)
			diff := seqNum(t, d.SequenceNumber)
			diff.Sub(diff, prev)
			require.Positive(t, diff.Sign())
		}
	}
	require.Len(t, lengths, 2, "sequence numbers gain a digit within the shard, so string order is wrong")
}

func TestStream_TTLRemovalCarriesServiceIdentity(t *testing.T) {
	t.Parallel()
	srv := startEmulator(t)
	db, st := srv.DynamoDB(), srv.Streams()
	ctx := context.Background()
	name := createTable(t, db, false, true)
	arn := streamArn(t, db, name)
	_, err := db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{Enabled: aws.Bool(true), AttributeName: aws.String("exp")}})
	require.NoError(t, err)
	now := srv.Clock().Now().Unix()
	put(t, db, name, map[string]types.AttributeValue{"pk": s("old"), "exp": n(fmt.Sprint(now - 10))})
	put(t, db, name, map[string]types.AttributeValue{"pk": s("new"), "exp": n(fmt.Sprint(now + 3600))})
	put(t, db, name, map[string]types.AttributeValue{"pk": s("kept")})
	_, err = db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(name), Key: map[string]types.AttributeValue{"pk": s("kept")}})
	require.NoError(t, err)

	expired, err := srv.ExpireTTL(name)
	require.NoError(t, err)
	require.Equal(t, 1, expired)
	ok, err := srv.ExpireItem(name, map[string]types.AttributeValue{"pk": s("new")})
	require.NoError(t, err)
	require.True(t, ok)

	_, shards := listShards(t, st, arn, 100)
	recs, _ := readShard(t, st, arn, aws.ToString(shards[0].ShardId), streamtypes.ShardIteratorTypeTrimHorizon, nil)
	require.Len(t, recs, 6)
	require.Nil(t, recs[3].UserIdentity, "an ordinary delete has no identity")
	for _, r := range recs[4:] {
		require.Equal(t, streamtypes.OperationTypeRemove, r.EventName)
		require.Equal(t, &streamtypes.Identity{PrincipalId: aws.String("dynamodb.amazonaws.com"), Type: aws.String("Service")}, r.UserIdentity)
	}
}

func TestStream_SplitKeepsPerKeyOrderAlongLineage(t *testing.T) {
	t.Parallel()
	srv := startEmulator(t)
	db, st := srv.DynamoDB(), srv.Streams()
	ctx := context.Background()
	name := createTable(t, db, false, true)
	arn := streamArn(t, db, name)
	writeAll := func(version int) {
		for k := range 40 {
			put(t, db, name, map[string]types.AttributeValue{"pk": s(fmt.Sprint("k", k)), "v": n(fmt.Sprint(version))})
		}
	}
	writeAll(1)
	open, err := srv.OpenShards(name)
	require.NoError(t, err)
	require.Len(t, open, 1)
	parent := open[0]
	left, right, err := srv.SplitShard(name, parent)
	require.NoError(t, err)
	writeAll(2)
	children, err := srv.RolloverShards(name)
	require.NoError(t, err)
	require.Len(t, children, 2)
	writeAll(3)

	_, shards := listShards(t, st, arn, 2)
	require.Len(t, shards, 5)
	byID := map[string]streamtypes.Shard{}
	for _, sh := range shards {
		byID[aws.ToString(sh.ShardId)] = sh
	}
	require.NotNil(t, byID[parent].SequenceNumberRange.EndingSequenceNumber, "parent closed")
	require.Equal(t, parent, aws.ToString(byID[left].ParentShardId))
	require.Equal(t, parent, aws.ToString(byID[right].ParentShardId))
	require.NotNil(t, byID[left].SequenceNumberRange.EndingSequenceNumber, "rolled over")
	require.Nil(t, byID[children[0]].SequenceNumberRange.EndingSequenceNumber, "open")

	kids, err := st.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn),
		ShardFilter: &streamtypes.ShardFilter{Type: streamtypes.ShardFilterTypeChildShards, ShardId: aws.String(parent)}})
	require.NoError(t, err)
	var kidIDs []string
	for _, sh := range kids.StreamDescription.Shards {
		kidIDs = append(kidIDs, aws.ToString(sh.ShardId))
	}
	require.ElementsMatch(t, []string{left, right}, kidIDs)

	// Read parents before children; every key's versions arrive in order.
	versions := map[string][]string{}
	read := map[string]bool{}
	for len(read) < len(shards) {
		for _, sh := range shards {
			id, p := aws.ToString(sh.ShardId), aws.ToString(sh.ParentShardId)
			if read[id] || (p != "" && !read[p]) {
				continue
			}
			recs, ended := readShard(t, st, arn, id, streamtypes.ShardIteratorTypeTrimHorizon, nil)
			require.Equal(t, sh.SequenceNumberRange.EndingSequenceNumber != nil, ended)
			if n := len(recs); ended && n > 0 {
				require.Equal(t, aws.ToString(sh.SequenceNumberRange.EndingSequenceNumber), aws.ToString(recs[n-1].Dynamodb.SequenceNumber))
			}
			for _, r := range recs {
				k := r.Dynamodb.Keys["pk"].(*streamtypes.AttributeValueMemberS).Value
				versions[k] = append(versions[k], r.Dynamodb.NewImage["v"].(*streamtypes.AttributeValueMemberN).Value)
			}
			read[id] = true
		}
	}
	require.Len(t, versions, 40)
	for k, v := range versions {
		require.Equal(t, []string{"1", "2", "3"}, v, "key %s", k)
	}
}

func TestStream_DescribeStreamPages(t *testing.T) {
	t.Parallel()
	srv := startEmulator(t, emulator.WithShards(4))
	db, st := srv.DynamoDB(), srv.Streams()
	name := createTable(t, db, false, true)
	arn := streamArn(t, db, name)
	for range 2 {
		_, err := srv.RolloverShards(name)
		require.NoError(t, err)
	}
	_, all := listShards(t, st, arn, 100)
	require.Len(t, all, 12)
	_, paged := listShards(t, st, arn, 5)
	require.Equal(t, all, paged)
}

func TestStream_RetentionTrimsRecordsAndShards(t *testing.T) {
	t.Parallel()
	srv := startEmulator(t)
	db, st := srv.DynamoDB(), srv.Streams()
	ctx := context.Background()
	name := createTable(t, db, false, true)
	arn := streamArn(t, db, name)
	put(t, db, name, map[string]types.AttributeValue{"pk": s("a"), "v": n("1")})
	_, shards := listShards(t, st, arn, 100)
	first := aws.ToString(shards[0].ShardId)
	old, _ := readShard(t, st, arn, first, streamtypes.ShardIteratorTypeTrimHorizon, nil)
	require.Len(t, old, 1)
	children, err := srv.RolloverShards(name)
	require.NoError(t, err)

	srv.Clock().Advance(12 * time.Hour)
	put(t, db, name, map[string]types.AttributeValue{"pk": s("a"), "v": n("2")})
	put(t, db, name, map[string]types.AttributeValue{"pk": s("a"), "v": n("3")})
	it, err := st.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arn),
		ShardId: aws.String(children[0]), ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon})
	require.NoError(t, err)
	recs, _ := readShard(t, st, arn, children[0], streamtypes.ShardIteratorTypeTrimHorizon, nil)
	require.Len(t, recs, 2)

	srv.Clock().Advance(12*time.Hour + time.Minute)
	_, err = st.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it.ShardIterator})
	var expired *streamtypes.ExpiredIteratorException
	require.ErrorAs(t, err, &expired)

	// The closed first shard is older than 24h: gone, with its records.
	_, shards = listShards(t, st, arn, 100)
	require.Len(t, shards, 1)
	require.Equal(t, children[0], aws.ToString(shards[0].ShardId))
	require.Equal(t, first, aws.ToString(shards[0].ParentShardId), "a child may name a parent that is gone")
	_, err = st.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arn),
		ShardId: aws.String(first), ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon})
	var nf *streamtypes.ResourceNotFoundException
	require.ErrorAs(t, err, &nf)

	// An iterator taken before a trim fails with TrimmedDataAccessException.
	srv.Clock().Advance(12*time.Hour - 6*time.Minute)
	it, err = st.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arn),
		ShardId: aws.String(children[0]), ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon})
	require.NoError(t, err)
	srv.Clock().Advance(10 * time.Minute)
	var trimmed *streamtypes.TrimmedDataAccessException
	_, err = st.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it.ShardIterator})
	require.ErrorAs(t, err, &trimmed)
	_, err = st.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arn),
		ShardId: aws.String(children[0]), ShardIteratorType: streamtypes.ShardIteratorTypeAtSequenceNumber,
		SequenceNumber: recs[0].Dynamodb.SequenceNumber})
	require.ErrorAs(t, err, &trimmed)
	// AFTER the last trimmed record loses nothing, so it is allowed.
	after, _ := readShard(t, st, arn, children[0], streamtypes.ShardIteratorTypeAfterSequenceNumber, recs[1].Dynamodb.SequenceNumber)
	require.Empty(t, after)
	left, _ := readShard(t, st, arn, children[0], streamtypes.ShardIteratorTypeTrimHorizon, nil)
	require.Empty(t, left)
}

func TestStream_IteratorExpiresAfter15Minutes(t *testing.T) {
	t.Parallel()
	srv := startEmulator(t)
	db, st := srv.DynamoDB(), srv.Streams()
	ctx := context.Background()
	name := createTable(t, db, false, true)
	arn := streamArn(t, db, name)
	_, shards := listShards(t, st, arn, 100)
	it, err := st.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arn),
		ShardId: shards[0].ShardId, ShardIteratorType: streamtypes.ShardIteratorTypeLatest})
	require.NoError(t, err)
	srv.Clock().Advance(14 * time.Minute)
	out, err := st.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it.ShardIterator})
	require.NoError(t, err)
	require.Empty(t, out.Records)
	require.NotNil(t, out.NextShardIterator, "open shards always give a next iterator")
	srv.Clock().Advance(15*time.Minute + time.Second)
	_, err = st.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: out.NextShardIterator})
	var expired *streamtypes.ExpiredIteratorException
	require.ErrorAs(t, err, &expired)
}

func TestStream_ExpireIteratorsExpiresOnlyThoseHandedOut(t *testing.T) {
	t.Parallel()
	srv := startEmulator(t)
	db, st := srv.DynamoDB(), srv.Streams()
	ctx := context.Background()
	name := createTable(t, db, false, true)
	arn := streamArn(t, db, name)
	_, shards := listShards(t, st, arn, 100)
	getIterator := func() *string {
		t.Helper()
		out, err := st.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arn),
			ShardId: shards[0].ShardId, ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon})
		require.NoError(t, err)
		return out.ShardIterator
	}
	before := srv.IteratorsIssued()
	old := getIterator()
	page, err := st.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: old})
	require.NoError(t, err)
	require.Equal(t, before+2, srv.IteratorsIssued(), "GetShardIterator and GetRecords each hand one out")

	require.Equal(t, before+2, srv.ExpireIterators())
	var expired *streamtypes.ExpiredIteratorException
	_, err = st.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: old})
	require.ErrorAs(t, err, &expired)
	_, err = st.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: page.NextShardIterator})
	require.ErrorAs(t, err, &expired)

	fresh := getIterator()
	put(t, db, name, map[string]types.AttributeValue{"pk": s("a")})
	page, err = st.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: fresh})
	require.NoError(t, err, "an iterator handed out after ExpireIterators works")
	require.Len(t, page.Records, 1)
}

func TestStream_DisableAndReenableMakesNewStream(t *testing.T) {
	t.Parallel()
	srv := startEmulator(t)
	db, st := srv.DynamoDB(), srv.Streams()
	ctx := context.Background()
	name := createTable(t, db, false, true)
	oldArn := streamArn(t, db, name)
	put(t, db, name, map[string]types.AttributeValue{"pk": s("a")})

	_, err := db.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String(name),
		StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(false)}})
	require.NoError(t, err)
	put(t, db, name, map[string]types.AttributeValue{"pk": s("b")}) // not streamed
	desc, shards := listShards(t, st, oldArn, 100)
	require.Equal(t, streamtypes.StreamStatusDisabled, desc.StreamStatus)
	recs, ended := readShard(t, st, oldArn, aws.ToString(shards[0].ShardId), streamtypes.ShardIteratorTypeTrimHorizon, nil)
	require.True(t, ended, "disabling closes the shards")
	require.Len(t, recs, 1)

	newArn, err := srv.EnableStream(name, "NEW_IMAGE")
	require.NoError(t, err)
	require.NotEqual(t, oldArn, newArn)
	require.Equal(t, newArn, streamArn(t, db, name))
	ls, err := st.ListStreams(ctx, &dynamodbstreams.ListStreamsInput{TableName: aws.String(name), Limit: aws.Int32(1)})
	require.NoError(t, err)
	require.Len(t, ls.Streams, 1)
	require.NotNil(t, ls.LastEvaluatedStreamArn)
	ls, err = st.ListStreams(ctx, &dynamodbstreams.ListStreamsInput{TableName: aws.String(name), ExclusiveStartStreamArn: ls.LastEvaluatedStreamArn})
	require.NoError(t, err)
	require.Len(t, ls.Streams, 1)
	require.Equal(t, newArn, aws.ToString(ls.Streams[0].StreamArn))

	_, err = db.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String(name),
		StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewImage}})
	var apiErr interface{ ErrorCode() string }
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, "ValidationException", apiErr.ErrorCode())
}

func TestStream_GetRecordsLimit(t *testing.T) {
	t.Parallel()
	srv := startEmulator(t)
	db, st := srv.DynamoDB(), srv.Streams()
	ctx := context.Background()
	name := createTable(t, db, false, true)
	arn := streamArn(t, db, name)
	for i := range 30 {
		put(t, db, name, map[string]types.AttributeValue{"pk": s(fmt.Sprint(i))})
	}
	_, shards := listShards(t, st, arn, 100)
	it, err := st.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arn),
		ShardId: shards[0].ShardId, ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon})
	require.NoError(t, err)
	out, err := st.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it.ShardIterator, Limit: aws.Int32(7)})
	require.NoError(t, err)
	require.Len(t, out.Records, 7)
	out, err = st.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: out.NextShardIterator})
	require.NoError(t, err)
	require.Len(t, out.Records, 23)
	_, err = st.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: out.NextShardIterator, Limit: aws.Int32(1001)})
	require.Error(t, err)
}
