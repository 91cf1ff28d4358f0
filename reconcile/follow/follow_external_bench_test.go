package follow_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/awstest"
	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/follow"
	"github.com/ddbsync/ddbsync/reconcile/load"
	"github.com/ddbsync/ddbsync/snapshot"
)

// BenchmarkFollowWatermarkAgeExternal measures the published watermark's
// age (now − W, sampled every 10 ms) against moto or DDBSYNC_TEST_ENDPOINT,
// whose GetRecords and DescribeStream take real time, unlike the
// emulator's: a table loaded from an export built from a Scan, followed with
// ddbsync's defaults for DDBSYNC_BENCH_SECONDS (default 20) while a writer
// makes DDBSYNC_BENCH_RATE puts a second (default 0: a quiet table).
//
//	go test ./reconcile/follow -run '^$' -bench BenchmarkFollowWatermarkAgeExternal -benchtime 1x
func BenchmarkFollowWatermarkAgeExternal(b *testing.B) {
	rate := envInt(b, "DDBSYNC_BENCH_RATE", 0)
	seconds := envInt(b, "DDBSYNC_BENCH_SECONDS", 20)
	cfg, name := awstest.External(b)
	for b.Loop() {
		ctx := b.Context()
		ddb := dynamodb.NewFromConfig(cfg)
		table := fmt.Sprintf("TenureAge%d", time.Now().UnixNano()%1e9)
		_, err := ddb.CreateTable(ctx, &dynamodb.CreateTableInput{
			TableName:            aws.String(table),
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
			BillingMode:          types.BillingModePayPerRequest,
			StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages},
		})
		require.NoError(b, err, name)
		b.Cleanup(func() {
			_, _ = ddb.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
		})
		require.NoError(b, dynamodb.NewTableExistsWaiter(ddb).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, time.Minute))
		gen := tenure.NewGenerator(11)
		var ids []string
		put := func(item ddbjson.Item) error {
			_, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item})
			return err
		}
		for range 20 {
			id := gen.ID()
			ids = append(ids, id)
			require.NoError(b, put(gen.ItemWithID(id)))
		}

		// The export: the table at T, from a Scan with writes paused.
		exportTime := time.Now().UTC()
		desc, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		require.NoError(b, err)
		dir := b.TempDir()
		w, err := snapshot.NewWriter(ctx, snapshot.DirSink(dir), snapshot.WriterConfig{
			TableArn: aws.ToString(desc.Table.TableArn), ExportTime: exportTime, Files: 1})
		require.NoError(b, err)
		pages := dynamodb.NewScanPaginator(ddb, &dynamodb.ScanInput{TableName: aws.String(table)})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			require.NoError(b, err)
			for _, it := range page.Items {
				require.NoError(b, w.Write(it))
			}
		}
		_, err = w.Close(ctx)
		require.NoError(b, err)
		pool := pgtest.New(b)
		src, err := snapshot.NewDirSource(dir)
		require.NoError(b, err)
		exp, err := snapshot.Open(ctx, src)
		require.NoError(b, err)
		l, err := reconcile.NewLayout(table, "", reconciletest.TenureKey)
		require.NoError(b, err)
		_, err = load.Run(ctx, pool, exp, load.Config{Layout: l})
		require.NoError(b, err)

		api := &describeTimes{API: dynamodbstreams.NewFromConfig(cfg)}
		stats := &follow.Stats{}
		followCtx, cancel := context.WithCancel(ctx)
		followDone := make(chan error, 1)
		go func() {
			_, err := follow.Run(followCtx, pool, follow.Config{Table: table, Streams: api, Tables: ddb, Stats: stats})
			followDone <- err
		}()

		var ages []time.Duration
		stop := make(chan struct{})
		var bg sync.WaitGroup
		bg.Go(func() {
			tk := time.NewTicker(10 * time.Millisecond)
			defer tk.Stop()
			from := time.Now().Add(3 * time.Second)
			for {
				select {
				case <-stop:
					return
				case now := <-tk.C:
					if w := stats.Watermark(); !w.IsZero() && now.After(from) {
						ages = append(ages, now.Sub(w))
					}
				}
			}
		})
		var writes int
		if rate > 0 {
			bg.Go(func() {
				next := time.Now()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					case <-time.After(time.Until(next)):
					}
					next = next.Add(time.Second / time.Duration(rate))
					if err := put(gen.ItemWithID(ids[i%len(ids)])); err != nil {
						b.Error(err)
						return
					}
					writes++
				}
			})
		}
		time.Sleep(time.Duration(seconds) * time.Second)
		close(stop)
		bg.Wait()
		cancel()
		require.NoError(b, <-followDone)
		require.NotEmpty(b, ages, "no watermark was published")
		b.ReportMetric(float64(percentile(ages, 0.5).Milliseconds()), "p50-w-age-ms")
		b.ReportMetric(float64(percentile(ages, 0.99).Milliseconds()), "p99-w-age-ms")
		b.ReportMetric(float64(percentile(ages, 1).Milliseconds()), "max-w-age-ms")
		b.ReportMetric(float64(writes)/float64(seconds), "writes/s")
		api.mu.Lock()
		b.ReportMetric(float64(len(api.at))/float64(seconds), "describes/s")
		api.mu.Unlock()
		b.ReportMetric(float64(api.maxPerSecond()), "max-describes-in-1s")
	}
}
