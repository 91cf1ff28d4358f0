package emulator_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"
)

func TestTable_CreateDescribeDelete(t *testing.T) {
	t.Parallel()
	forEachTarget(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		db := tg.ddb()
		name := createTable(t, db, true, true)

		out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		require.NoError(t, err)
		tbl := out.Table
		require.Equal(t, name, aws.ToString(tbl.TableName))
		require.Contains(t, aws.ToString(tbl.TableArn), ":table/"+name)
		require.Equal(t, types.TableStatusActive, tbl.TableStatus)
		require.Len(t, tbl.KeySchema, 2)
		require.Equal(t, "pk", aws.ToString(tbl.KeySchema[0].AttributeName))
		require.Equal(t, types.KeyTypeHash, tbl.KeySchema[0].KeyType)
		require.Equal(t, types.KeyTypeRange, tbl.KeySchema[1].KeyType)
		require.NotNil(t, tbl.StreamSpecification)
		require.True(t, aws.ToBool(tbl.StreamSpecification.StreamEnabled))
		require.Equal(t, types.StreamViewTypeNewAndOldImages, tbl.StreamSpecification.StreamViewType)
		require.Contains(t, aws.ToString(tbl.LatestStreamArn), "/stream/"+aws.ToString(tbl.LatestStreamLabel))

		_, err = db.CreateTable(ctx, &dynamodb.CreateTableInput{
			TableName:            aws.String(name),
			BillingMode:          types.BillingModePayPerRequest,
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		})
		var inUse *types.ResourceInUseException
		require.ErrorAs(t, err, &inUse)

		_, err = db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
		require.NoError(t, err)
		_, err = db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		var nf *types.ResourceNotFoundException
		require.ErrorAs(t, err, &nf)
	})
}

func TestItem_PutGetUpdateDelete(t *testing.T) {
	t.Parallel()
	forEachTarget(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		db := tg.ddb()
		name := createTable(t, db, true, false)
		key := map[string]types.AttributeValue{"pk": s("a"), "sk": n("1")}

		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(name), Item: map[string]types.AttributeValue{
			"pk": s("a"), "sk": n("1"), "name": s("first"), "count": n("5"),
			"tags": &types.AttributeValueMemberSS{Value: []string{"x", "y"}},
			"doc":  &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"inner": s("v")}},
		}})
		require.NoError(t, err)

		got, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(name), Key: key})
		require.NoError(t, err)
		require.Equal(t, s("first"), got.Item["name"])
		require.Equal(t, n("5"), got.Item["count"])
		require.ElementsMatch(t, []string{"x", "y"}, got.Item["tags"].(*types.AttributeValueMemberSS).Value)

		up, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(name),
			Key:                       key,
			UpdateExpression:          aws.String("SET #n = :name, #c = #c + :one, doc.#in = :v2 REMOVE tags"),
			ExpressionAttributeNames:  map[string]string{"#n": "name", "#c": "count", "#in": "inner"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":name": s("second"), ":one": n("1"), ":v2": s("w")},
			ReturnValues:              types.ReturnValueAllNew,
		})
		require.NoError(t, err)
		require.Equal(t, s("second"), up.Attributes["name"])
		require.Equal(t, n("6"), up.Attributes["count"])
		require.NotContains(t, up.Attributes, "tags")
		require.Equal(t, s("w"), up.Attributes["doc"].(*types.AttributeValueMemberM).Value["inner"])

		// UpdateItem on a missing key creates the item.
		_, err = db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(name),
			Key:                       map[string]types.AttributeValue{"pk": s("b"), "sk": n("2")},
			UpdateExpression:          aws.String("SET v = :v"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":v": s("new")},
		})
		require.NoError(t, err)
		got, err = db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(name), Key: map[string]types.AttributeValue{"pk": s("b"), "sk": n("2")}})
		require.NoError(t, err)
		require.Equal(t, s("new"), got.Item["v"])

		del, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(name), Key: key, ReturnValues: types.ReturnValueAllOld})
		require.NoError(t, err)
		require.Equal(t, s("second"), del.Attributes["name"])
		got, err = db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(name), Key: key})
		require.NoError(t, err)
		require.Nil(t, got.Item)

		_, err = db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("missing-table-xyz"), Key: key})
		var nf *types.ResourceNotFoundException
		require.ErrorAs(t, err, &nf)
	})
}

func TestItem_BatchWriteAndGet(t *testing.T) {
	t.Parallel()
	forEachTarget(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		db := tg.ddb()
		name := createTable(t, db, false, false)
		var writes []types.WriteRequest
		for i := range 10 {
			writes = append(writes, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
				"pk": s(fmt.Sprint("k", i)), "v": n(fmt.Sprint(i)),
			}}})
		}
		_, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{name: writes}})
		require.NoError(t, err)
		_, err = db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{name: {
			{DeleteRequest: &types.DeleteRequest{Key: map[string]types.AttributeValue{"pk": s("k0")}}},
		}}})
		require.NoError(t, err)

		out, err := db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{name: {
			Keys: []map[string]types.AttributeValue{{"pk": s("k0")}, {"pk": s("k3")}, {"pk": s("k9")}},
		}}})
		require.NoError(t, err)
		var got []string
		for _, it := range out.Responses[name] {
			got = append(got, it["pk"].(*types.AttributeValueMemberS).Value)
		}
		require.ElementsMatch(t, []string{"k3", "k9"}, got)
	})
}

// scanAll pages through a scan (optionally one segment) and returns the pk
// values it saw.
func scanAll(t *testing.T, db *dynamodb.Client, name string, limit int32, seg, total *int32) []string {
	t.Helper()
	var keys []string
	var start map[string]types.AttributeValue
	for pages := 0; ; pages++ {
		require.Less(t, pages, 1000)
		out, err := db.Scan(context.Background(), &dynamodb.ScanInput{
			TableName: aws.String(name), Limit: aws.Int32(limit), ExclusiveStartKey: start,
			Segment: seg, TotalSegments: total,
		})
		require.NoError(t, err)
		require.LessOrEqual(t, len(out.Items), int(limit))
		for _, it := range out.Items {
			keys = append(keys, it["pk"].(*types.AttributeValueMemberS).Value)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return keys
		}
		start = out.LastEvaluatedKey
	}
}

func TestScan_PagesWithLimit(t *testing.T) {
	t.Parallel()
	forEachTarget(t, func(t *testing.T, tg target) {
		db := tg.ddb()
		name := createTable(t, db, false, false)
		var want []string
		for i := range 23 {
			k := fmt.Sprintf("item-%02d", i)
			want = append(want, k)
			_, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(name),
				Item: map[string]types.AttributeValue{"pk": s(k)}})
			require.NoError(t, err)
		}
		got := scanAll(t, db, name, 7, nil, nil)
		sort.Strings(got)
		require.Equal(t, want, got)
	})
}

func TestScan_SegmentsPartitionTheTable(t *testing.T) {
	t.Parallel()
	srv := startEmulator(t)
	db := srv.DynamoDB()
	name := createTable(t, db, false, false)
	for i := range 50 {
		_, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(name),
			Item: map[string]types.AttributeValue{"pk": s(fmt.Sprint(i))}})
		require.NoError(t, err)
	}
	seen := map[string]int{}
	for seg := range int32(4) {
		keys := scanAll(t, db, name, 5, aws.Int32(seg), aws.Int32(4))
		require.NotEmpty(t, keys, "segment %d", seg)
		for _, k := range keys {
			seen[k]++
		}
	}
	require.Len(t, seen, 50)
	for k, c := range seen {
		require.Equal(t, 1, c, "key %s in %d segments", k, c)
	}
}

func TestTable_ItemCountAndNumberNormalization(t *testing.T) {
	t.Parallel()
	srv := startEmulator(t)
	db := srv.DynamoDB()
	ctx := context.Background()
	name := createTable(t, db, false, false)
	_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(name),
		Item: map[string]types.AttributeValue{"pk": s("a"), "v": n("1.50"), "w": n("00042")}})
	require.NoError(t, err)
	got, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(name), Key: map[string]types.AttributeValue{"pk": s("a")}})
	require.NoError(t, err)
	require.Equal(t, n("1.5"), got.Item["v"])
	require.Equal(t, n("42"), got.Item["w"])
	d, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	require.NoError(t, err)
	require.EqualValues(t, 1, aws.ToInt64(d.Table.ItemCount))

	_, err = db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(name), Item: map[string]types.AttributeValue{"v": s("no key")}})
	var apiErr interface{ ErrorCode() string }
	require.True(t, errors.As(err, &apiErr))
	require.Equal(t, "ValidationException", apiErr.ErrorCode())
}

// The table's size is kept as items are written, not summed over the table
// when it is described: each case's size is DynamoDB's reckoning of the
// items that exist then (attribute names and S values by their bytes).
func TestTable_SizeBytesFollowsWritesAndDeletes(t *testing.T) {
	t.Parallel()
	srv := startEmulator(t)
	db := srv.DynamoDB()
	ctx := context.Background()
	name := createTable(t, db, false, false)
	size := func() int64 {
		t.Helper()
		d, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		require.NoError(t, err)
		return aws.ToInt64(d.Table.TableSizeBytes)
	}
	put := func(pk, v string) {
		t.Helper()
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(name),
			Item: map[string]types.AttributeValue{"pk": s(pk), "v": s(v)}})
		require.NoError(t, err)
	}
	require.EqualValues(t, 0, size())
	put("a", "1234") // pk a, v 1234: 2+1 + 1+4
	require.EqualValues(t, 8, size())
	put("bb", "12") // 2+2 + 1+2
	require.EqualValues(t, 8+7, size())
	put("a", "123456789") // a grows by 5
	require.EqualValues(t, 13+7, size())
	_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(name),
		Key: map[string]types.AttributeValue{"pk": s("bb")}, UpdateExpression: aws.String("SET w = :w"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":w": s("xyz")}})
	require.NoError(t, err)
	require.EqualValues(t, 13+7+4, size())
	_, err = db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(name), Key: map[string]types.AttributeValue{"pk": s("a")}})
	require.NoError(t, err)
	require.EqualValues(t, 11, size())
	_, err = db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(name), Key: map[string]types.AttributeValue{"pk": s("bb")}})
	require.NoError(t, err)
	require.EqualValues(t, 0, size())
}
