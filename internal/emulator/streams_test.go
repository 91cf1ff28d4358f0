package emulator_test

import (
	"context"
	"math/big"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/stretchr/testify/require"
)

// streamArn returns the table's latest stream ARN from DescribeTable.
func streamArn(t *testing.T, db *dynamodb.Client, table string) string {
	t.Helper()
	out, err := db.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	require.NoError(t, err)
	require.NotEmpty(t, aws.ToString(out.Table.LatestStreamArn))
	return aws.ToString(out.Table.LatestStreamArn)
}

// listShards pages through DescribeStream with the given page size.
func listShards(t *testing.T, st *dynamodbstreams.Client, arn string, limit int32) (*streamtypes.StreamDescription, []streamtypes.Shard) {
	t.Helper()
	var shards []streamtypes.Shard
	var start *string
	for {
		out, err := st.DescribeStream(context.Background(), &dynamodbstreams.DescribeStreamInput{
			StreamArn: aws.String(arn), Limit: aws.Int32(limit), ExclusiveStartShardId: start,
		})
		require.NoError(t, err)
		shards = append(shards, out.StreamDescription.Shards...)
		if out.StreamDescription.LastEvaluatedShardId == nil {
			return out.StreamDescription, shards
		}
		start = out.StreamDescription.LastEvaluatedShardId
	}
}

// readShard reads a shard from an iterator of the given type until its end
// (closed shard: NextShardIterator nil) or the first empty page (open
// shard), and reports whether it reached the end.
func readShard(t *testing.T, st *dynamodbstreams.Client, arn, shardID string, typ streamtypes.ShardIteratorType, seq *string) ([]streamtypes.Record, bool) {
	t.Helper()
	ctx := context.Background()
	it, err := st.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
		StreamArn: aws.String(arn), ShardId: aws.String(shardID), ShardIteratorType: typ, SequenceNumber: seq,
	})
	require.NoError(t, err)
	iter := it.ShardIterator
	var recs []streamtypes.Record
	for range 10000 {
		out, err := st.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(100)})
		require.NoError(t, err)
		recs = append(recs, out.Records...)
		if out.NextShardIterator == nil {
			return recs, true
		}
		if len(out.Records) == 0 {
			return recs, false
		}
		iter = out.NextShardIterator
	}
	t.Fatal("shard did not end")
	return nil, false
}

func seqNum(t *testing.T, s *string) *big.Int {
	t.Helper()
	v, ok := new(big.Int).SetString(aws.ToString(s), 10)
	require.True(t, ok, "sequence number %q", aws.ToString(s))
	return v
}

func put(t *testing.T, db *dynamodb.Client, table string, item map[string]types.AttributeValue) {
	t.Helper()
	_, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item})
	require.NoError(t, err)
}

func TestStream_InsertModifyRemove(t *testing.T) {
	t.Parallel()
	forEachTarget(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		db, st := tg.ddb(), tg.streams()
		name := createTable(t, db, false, true)
		arn := streamArn(t, db, name)

		put(t, db, name, map[string]types.AttributeValue{"pk": s("a"), "v": s("1")})
		put(t, db, name, map[string]types.AttributeValue{"pk": s("a"), "v": s("2")})
		_, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(name), Key: map[string]types.AttributeValue{"pk": s("a")}})
		require.NoError(t, err)

		ls, err := st.ListStreams(ctx, &dynamodbstreams.ListStreamsInput{TableName: aws.String(name)})
		require.NoError(t, err)
		require.NotEmpty(t, ls.Streams)
		require.Equal(t, arn, aws.ToString(ls.Streams[len(ls.Streams)-1].StreamArn))

		desc, shards := listShards(t, st, arn, 100)
		require.Equal(t, streamtypes.StreamViewTypeNewAndOldImages, desc.StreamViewType)
		require.Equal(t, name, aws.ToString(desc.TableName))
		require.Len(t, shards, 1)
		shardID := aws.ToString(shards[0].ShardId)

		recs, _ := readShard(t, st, arn, shardID, streamtypes.ShardIteratorTypeTrimHorizon, nil)
		require.Len(t, recs, 3)
		want := []streamtypes.OperationType{streamtypes.OperationTypeInsert, streamtypes.OperationTypeModify, streamtypes.OperationTypeRemove}
		for i, r := range recs {
			require.Equal(t, want[i], r.EventName)
			require.Equal(t, "aws:dynamodb", aws.ToString(r.EventSource))
			require.Equal(t, &streamtypes.AttributeValueMemberS{Value: "a"}, r.Dynamodb.Keys["pk"])
			require.NotNil(t, r.Dynamodb.ApproximateCreationDateTime)
			if i > 0 {
				require.Equal(t, 1, seqNum(t, r.Dynamodb.SequenceNumber).Cmp(seqNum(t, recs[i-1].Dynamodb.SequenceNumber)))
			}
		}
		require.Equal(t, &streamtypes.AttributeValueMemberS{Value: "1"}, recs[0].Dynamodb.NewImage["v"])
		require.Nil(t, recs[0].Dynamodb.OldImage)
		require.Equal(t, &streamtypes.AttributeValueMemberS{Value: "1"}, recs[1].Dynamodb.OldImage["v"])
		require.Equal(t, &streamtypes.AttributeValueMemberS{Value: "2"}, recs[1].Dynamodb.NewImage["v"])
		require.Equal(t, &streamtypes.AttributeValueMemberS{Value: "2"}, recs[2].Dynamodb.OldImage["v"])
		require.Nil(t, recs[2].Dynamodb.NewImage)

		after, _ := readShard(t, st, arn, shardID, streamtypes.ShardIteratorTypeAfterSequenceNumber, recs[0].Dynamodb.SequenceNumber)
		require.Len(t, after, 2)
		require.Equal(t, aws.ToString(recs[1].Dynamodb.SequenceNumber), aws.ToString(after[0].Dynamodb.SequenceNumber))
	})
}
