package emulator_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/ddbsync/ddbsync/internal/emulator"
)

// BenchmarkGetRecords reads a stream of 40,000 records over 4 shards
// through the SDK client, 1000 records a call, one reader per shard as
// consumers do (b.RunParallel), and reports records/s. The SDK's decoding of
// the records, in the same process, costs more CPU than serving them.
func BenchmarkGetRecords(b *testing.B) {
	srv, err := emulator.New(emulator.WithShards(4))
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	db, st := srv.DynamoDB(), srv.Streams()
	_, err = db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String("bench"), BillingMode: types.BillingModePayPerRequest,
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages},
	})
	if err != nil {
		b.Fatal(err)
	}
	const records = 40000
	for i := 0; i < records; i += 25 {
		var w []types.WriteRequest
		for j := i; j < i+25; j++ {
			w = append(w, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
				"pk": &types.AttributeValueMemberS{Value: fmt.Sprintf("key-%06d", j)},
				"n":  &types.AttributeValueMemberN{Value: fmt.Sprint(j)},
				"s":  &types.AttributeValueMemberS{Value: "some payload text of moderate length"},
			}}})
		}
		if _, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"bench": w}}); err != nil {
			b.Fatal(err)
		}
	}
	d, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("bench")})
	if err != nil {
		b.Fatal(err)
	}
	arn := d.Table.LatestStreamArn
	desc, err := st.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: arn})
	if err != nil {
		b.Fatal(err)
	}
	shards := desc.StreamDescription.Shards

	b.ReportAllocs()
	b.ResetTimer()
	var total atomic.Int64
	var next atomic.Int32
	b.RunParallel(func(pb *testing.PB) {
		shard := shards[int(next.Add(1)-1)%len(shards)].ShardId
		var iter *string
		for pb.Next() {
			if iter == nil {
				it, err := st.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: arn, ShardId: shard,
					ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon})
				if err != nil {
					b.Error(err)
					return
				}
				iter = it.ShardIterator
			}
			out, err := st.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(1000)})
			if err != nil {
				b.Error(err)
				return
			}
			total.Add(int64(len(out.Records)))
			iter = out.NextShardIterator
			if len(out.Records) == 0 {
				iter = nil // caught up: start over
			}
		}
	})
	b.ReportMetric(float64(total.Load())/b.Elapsed().Seconds(), "records/s")
}
