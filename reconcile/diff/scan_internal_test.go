package diff

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/store"
)

// fakeScan serves pages of one item each, every page costing cost units.
type fakeScan struct {
	pages int
	cost  float64
	calls int
}

func (f *fakeScan) Scan(_ context.Context, in *dynamodb.ScanInput, _ ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	f.calls++
	out := &dynamodb.ScanOutput{Items: []map[string]types.AttributeValue{{"id": &types.AttributeValueMemberS{Value: fmt.Sprint(f.calls)}}}}
	if in.ReturnConsumedCapacity == types.ReturnConsumedCapacityTotal && f.cost > 0 {
		out.ConsumedCapacity = &types.ConsumedCapacity{CapacityUnits: aws.Float64(f.cost)}
	}
	if f.calls < f.pages {
		out.LastEvaluatedKey = out.Items[0]
	}
	return out, nil
}

func scanAll(t *testing.T, api ScanAPI, limiter *rate.Limiter) (*ScanStats, time.Duration) {
	t.Helper()
	l, err := reconcile.NewLayout("T", "", reconcile.KeySchema{Hash: reconcile.KeyAttribute{Name: "id", Type: "S"}})
	require.NoError(t, err)
	stats := &ScanStats{}
	items := &scanItems{ctx: t.Context(), api: api, in: &dynamodb.ScanInput{ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal},
		limiter: limiter, stats: stats}
	rows := newScanCopy(items, store.NewEncoder(l, store.ImageColumns), reconcile.Provenance{Origin: reconcile.OriginScan})
	start := time.Now()
	for rows.Next() {
		_, err := rows.Values()
		require.NoError(t, err)
	}
	require.NoError(t, rows.Err())
	return stats, time.Since(start)
}

func TestScanRows_MaxRCUCapsTheRate(t *testing.T) {
	t.Parallel()
	// 10 pages of 50 units at 200 units/s with a burst of 200: the first 9
	// pages' 450 units are paid before pages 2..10, 250 beyond the burst,
	// so at least 1.25 s.
	api := &fakeScan{pages: 10, cost: 50}
	stats, took := scanAll(t, api, rate.NewLimiter(200, 200))
	require.EqualValues(t, 10, stats.Items.Load())
	require.EqualValues(t, 10, stats.Pages.Load())
	require.EqualValues(t, 500_000, stats.MilliRCU.Load())
	require.GreaterOrEqual(t, took, 1200*time.Millisecond)
	require.Less(t, took, 5*time.Second)
}

func TestScanRows_EstimatesCapacityWhenNotReported(t *testing.T) {
	t.Parallel()
	api := &fakeScan{pages: 3}
	stats, took := scanAll(t, api, nil)
	require.EqualValues(t, 3, stats.Items.Load())
	require.Positive(t, stats.MilliRCU.Load(), "one unit per 4 KB, counted from the items")
	require.Less(t, took, time.Second)
}
