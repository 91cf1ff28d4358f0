package emulator_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/emulator"
)

// BackdateRecords dates the records of later writes earlier than the
// writes: a record may then carry an earlier creation time than the one
// before it in its shard, as AWS allows.
func TestStream_BackdateRecords(t *testing.T) {
	t.Parallel()
	srv := startEmulator(t, emulator.WithStartTime(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)))
	db, st := srv.DynamoDB(), srv.Streams()
	name := createTable(t, db, false, true)
	arn := streamArn(t, db, name)

	srv.Clock().Advance(time.Second) // 12:00:01.000
	put(t, db, name, map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "a"}})
	srv.Clock().Advance(200 * time.Millisecond)
	srv.BackdateRecords(500 * time.Millisecond) // 12:00:01.200 dated 12:00:00.700
	put(t, db, name, map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "b"}})
	srv.BackdateRecords(0)
	put(t, db, name, map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "c"}})

	_, shards := listShards(t, st, arn, 100)
	recs, _ := readShard(t, st, arn, aws.ToString(shards[0].ShardId), streamtypes.ShardIteratorTypeTrimHorizon, nil)
	require.Len(t, recs, 3)
	var got []time.Time
	for _, r := range recs {
		got = append(got, aws.ToTime(r.Dynamodb.ApproximateCreationDateTime).UTC())
	}
	sec := func(s int) time.Time { return time.Date(2026, 3, 1, 12, 0, s, 0, time.UTC) }
	require.Equal(t, []time.Time{sec(1), sec(0), sec(1)}, got, "the second record is dated before the first")
}
