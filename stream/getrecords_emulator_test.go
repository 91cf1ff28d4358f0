package stream_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/emulator"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/stream"
)

// TestGetRecords_EmulatorAsSDK reads the test emulator's stream of
// tenure-shaped inserts, updates, deletes and a TTL deletion both ways:
// the pages must be identical.
func TestGetRecords_EmulatorAsSDK(t *testing.T) {
	t.Parallel()
	srv, err := emulator.New()
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	t.Cleanup(func() { srv.Close() })
	ctx := t.Context()
	db := srv.DynamoDB()
	table := aws.String(tenure.TableName)
	_, err = db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            table,
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: ddbtypes.KeyTypeHash}},
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		StreamSpecification:  &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewTypeNewAndOldImages},
	})
	require.NoError(t, err)
	g := tenure.NewGenerator(3)
	var items []ddbjson.Item
	for range 30 {
		items = append(items, g.Item())
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: items[len(items)-1]})
		require.NoError(t, err)
	}
	for _, it := range items[:10] {
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: g.Update(it)})
		require.NoError(t, err)
	}
	for _, it := range items[10:15] {
		_, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: table, Key: ddbjson.Item{"id": it["id"]}})
		require.NoError(t, err)
	}
	expired, err := srv.ExpireItem(tenure.TableName, ddbjson.Item{"id": items[20]["id"]})
	require.NoError(t, err)
	require.True(t, expired)
	const want = 30 + 10 + 5 + 1

	d, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: table})
	require.NoError(t, err)
	st := srv.Streams()
	desc, err := st.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: d.Table.LatestStreamArn})
	require.NoError(t, err)
	require.Len(t, desc.StreamDescription.Shards, 1)
	shardID := *desc.StreamDescription.Shards[0].ShardId

	// read reads the shard to its want changes; with release, each page is
	// copied out and released as soon as it is read.
	read := func(api stream.API, release bool) []stream.Change {
		r, err := stream.NewShardReader(api, *d.Table.LatestStreamArn, shardID, stream.TrimHorizon(), stream.WithLimit(7))
		require.NoError(t, err)
		var all []stream.Change
		for len(all) < want {
			p, err := r.Next(ctx)
			require.NoError(t, err)
			if !release {
				all = append(all, p.Changes...)
				continue
			}
			all = append(all, decodedChanges(t, cloneChanges(p.Changes))...)
			p.Release()
			p.Release() // once is what counts
		}
		return all
	}
	direct, typed := read(st, false), read(typedOnly{st}, false)
	require.Equal(t, typed, decodedChanges(t, direct))
	require.Len(t, direct, want)
	require.True(t, direct[want-1].TTL)
	require.Equal(t, stream.EventRemove, direct[want-1].EventName)

	// Pages released as soon as they are read (their memory reused for the
	// next) give the same changes: the reader keeps nothing of a released
	// page (its iterator, its position), and a page's changes are whole
	// until it is released.
	require.Equal(t, typed, read(st, true))
}

// cloneChanges copies changes out of their page's memory.
func cloneChanges(changes []stream.Change) []stream.Change {
	out := make([]stream.Change, len(changes))
	for i, c := range changes {
		c.SequenceNumber, c.EventID = strings.Clone(c.SequenceNumber), strings.Clone(c.EventID)
		c.EventName = stream.EventName(strings.Clone(string(c.EventName)))
		c.NewImageText = strings.Clone(c.NewImageText)
		c.Keys, c.NewImage = ddbjson.CloneItem(c.Keys), ddbjson.CloneItem(c.NewImage)
		out[i] = c
	}
	return out
}
