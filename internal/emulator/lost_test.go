package emulator_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/stretchr/testify/require"
)

func TestWriteUnstreamed_ChangesTheTableWithoutARecord(t *testing.T) {
	t.Parallel()
	srv := startEmulator(t)
	db, st := srv.DynamoDB(), srv.Streams()
	name := createTable(t, db, false, true)
	arn := streamArn(t, db, name)
	put(t, db, name, map[string]types.AttributeValue{"pk": s("a"), "v": n("1")})

	had, err := srv.WriteUnstreamed(name, nil, map[string]types.AttributeValue{"pk": s("a"), "v": n("2")})
	require.NoError(t, err)
	require.True(t, had)
	had, err = srv.WriteUnstreamed(name, nil, map[string]types.AttributeValue{"pk": s("b"), "v": n("1")})
	require.NoError(t, err)
	require.False(t, had)
	had, err = srv.WriteUnstreamed(name, map[string]types.AttributeValue{"pk": s("b")}, nil)
	require.NoError(t, err)
	require.True(t, had)
	put(t, db, name, map[string]types.AttributeValue{"pk": s("c"), "v": n("1")}) // streamed again

	got, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(name),
		Key: map[string]types.AttributeValue{"pk": s("a")}, ConsistentRead: aws.Bool(true)})
	require.NoError(t, err)
	require.Equal(t, "2", got.Item["v"].(*types.AttributeValueMemberN).Value, "the table has the write")

	_, shards := listShards(t, st, arn, 100)
	var keys []string
	for _, sh := range shards {
		recs, _ := readShard(t, st, arn, aws.ToString(sh.ShardId), streamtypes.ShardIteratorTypeTrimHorizon, nil)
		for _, r := range recs {
			keys = append(keys, r.Dynamodb.Keys["pk"].(*streamtypes.AttributeValueMemberS).Value)
		}
	}
	require.ElementsMatch(t, []string{"a", "c"}, keys, "the stream has only the streamed writes")

	_, err = srv.WriteUnstreamed("nope", nil, map[string]types.AttributeValue{"pk": s("a")})
	require.Error(t, err)
}
