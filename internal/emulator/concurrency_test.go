package emulator_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/emulator"
)

func TestServer_ConcurrentWritersAndSplits(t *testing.T) {
	t.Parallel()
	srv := startEmulator(t, emulator.WithShards(2))
	db, st := srv.DynamoDB(), srv.Streams()
	name := createTable(t, db, false, true)
	arn := streamArn(t, db, name)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				put(t, db, name, map[string]types.AttributeValue{"pk": s(fmt.Sprintf("w%d-%d", w, i)), "v": n(fmt.Sprint(i))})
			}
		})
	}
	wg.Go(func() {
		for range 3 {
			open, err := srv.OpenShards(name)
			require.NoError(t, err)
			_, _, err = srv.SplitShard(name, open[0])
			require.NoError(t, err)
		}
	})
	wg.Wait()

	_, shards := listShards(t, st, arn, 100)
	require.Len(t, shards, 2+3*2)
	total := 0
	for _, sh := range shards {
		recs, _ := readShard(t, st, arn, *sh.ShardId, streamtypes.ShardIteratorTypeTrimHorizon, nil)
		total += len(recs)
	}
	require.Equal(t, 200, total, "every write is in exactly one shard")
}
