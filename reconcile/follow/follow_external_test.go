package follow_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/awstest"
	"github.com/ddbsync/ddbsync/internal/copycheck"
	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/follow"
	"github.com/ddbsync/ddbsync/reconcile/load"
	"github.com/ddbsync/ddbsync/snapshot"
	"github.com/ddbsync/ddbsync/stream"
)

// TestFollow_EndToEndOnExternalEndpoint runs the happy path against moto (or
// DDBSYNC_TEST_ENDPOINT): create a table, write, export, load, write more,
// follow until caught up, and compare the copy with a Scan. moto writes
// exports without manifests, so the export is built here from a Scan taken
// while writes are paused, in the real layout.
func TestFollow_EndToEndOnExternalEndpoint(t *testing.T) {
	t.Parallel()
	cfg, name := awstest.External(t)
	ctx := t.Context()
	ddb := dynamodb.NewFromConfig(cfg)
	table := fmt.Sprintf("Tenure%d", time.Now().UnixNano()%1e9)
	_, err := ddb.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		BillingMode:          types.BillingModePayPerRequest,
		StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages},
	})
	require.NoError(t, err, name)
	t.Cleanup(func() {
		_, _ = ddb.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	require.NoError(t, dynamodb.NewTableExistsWaiter(ddb).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, time.Minute))

	gen := tenure.NewGenerator(9)
	var ids []string
	put := func(item ddbjson.Item) {
		_, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item})
		require.NoError(t, err)
	}
	for range 40 {
		id := gen.ID()
		ids = append(ids, id)
		put(gen.ItemWithID(id))
	}

	// The export: the table's state at T, from a Scan with writes paused.
	exportTime := time.Now().UTC()
	desc, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	require.NoError(t, err)
	dir := t.TempDir()
	w, err := snapshot.NewWriter(ctx, snapshot.DirSink(dir), snapshot.WriterConfig{
		TableArn: aws.ToString(desc.Table.TableArn), ExportTime: exportTime, Files: 2})
	require.NoError(t, err)
	for _, it := range scanAll(t, ddb, table) {
		require.NoError(t, w.Write(it))
	}
	_, err = w.Close(ctx)
	require.NoError(t, err)

	pool := pgtest.New(t)
	src, err := snapshot.NewDirSource(dir)
	require.NoError(t, err)
	exp, err := snapshot.Open(ctx, src)
	require.NoError(t, err)
	l, err := reconcile.NewLayout(table, "", reconciletest.TenureKey)
	require.NoError(t, err)
	_, err = load.Run(ctx, pool, exp, load.Config{Layout: l})
	require.NoError(t, err)

	// More writes after the export: updates, deletes, a delete and re-insert.
	for _, id := range ids[:10] {
		out, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: ddbjson.Item{"id": &types.AttributeValueMemberS{Value: id}}})
		require.NoError(t, err)
		put(gen.Update(out.Item))
	}
	for _, id := range ids[10:15] {
		_, err := ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: ddbjson.Item{"id": &types.AttributeValueMemberS{Value: id}}})
		require.NoError(t, err)
	}
	put(gen.ItemWithID(ids[12]))
	for range 5 {
		put(gen.Item())
	}

	followCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	res, err := follow.Run(followCtx, pool, follow.Config{
		Table: table, Streams: dynamodbstreams.NewFromConfig(cfg), Tables: ddb, UntilCaughtUp: true,
		DiscoverInterval: 200 * time.Millisecond,
		ReaderOptions:    []stream.Option{stream.WithPollInterval(20 * time.Millisecond), stream.WithCaughtUpRule(3, 100*time.Millisecond)},
	})
	require.NoError(t, err)
	require.False(t, res.Watermark.IsZero())

	check, err := copycheck.Check(t.Context(), ddb, table, pool, l.Ident(), tenure.Key)
	require.NoError(t, err)
	require.True(t, check.Exact(), "the copy differs from a Scan: %s", check)
}

func scanAll(t *testing.T, ddb *dynamodb.Client, table string) []ddbjson.Item {
	t.Helper()
	var out []ddbjson.Item
	p := dynamodb.NewScanPaginator(ddb, &dynamodb.ScanInput{TableName: aws.String(table)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		require.NoError(t, err)
		out = append(out, page.Items...)
	}
	return out
}
