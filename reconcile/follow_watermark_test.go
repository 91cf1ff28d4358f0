package reconcile_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/emulator"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/stream"
)

// laggingListing is a Streams API whose DescribeStream does not list the
// children of one shard yet, as DescribeStream may lag behind a rollover.
type laggingListing struct {
	stream.API
	parent string
	hide   atomic.Bool
	hidden atomic.Int64 // listings that hid the children
}

func (l *laggingListing) DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error) {
	out, err := l.API.DescribeStream(ctx, in, opts...)
	if err != nil || !l.hide.Load() {
		return out, err
	}
	defer l.hidden.Add(1)
	kept := out.StreamDescription.Shards[:0]
	for _, sh := range out.StreamDescription.Shards {
		if aws.ToString(sh.ParentShardId) != l.parent {
			kept = append(kept, sh)
		}
	}
	out.StreamDescription.Shards = kept
	return out, nil
}

func TestFollow_WatermarkWaitsForUnlistedChildren(t *testing.T) {
	t.Parallel()
	h := newFollowHarness(t, emulator.WithShards(1))
	h.insert(20)
	h.exportAndLoad(h.now())
	h.tick(time.Minute)
	h.updateAll(h.ids)
	parentLast := h.now()
	shards, err := h.emu.OpenShards(tenure.TableName)
	require.NoError(t, err)
	_, err = h.emu.RolloverShards(tenure.TableName)
	require.NoError(t, err)
	h.tick(10 * time.Minute)
	h.updateAll(h.ids) // in the child, which the listing hides for now

	api := &laggingListing{API: h.emu.Streams(), parent: shards[0]}
	api.hide.Store(true)
	cfg := h.followConfig()
	cfg.Streams = api
	cfg.UntilCaughtUp = false
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { _, err := reconcile.Follow(ctx, h.pool, cfg); done <- err }()

	require.Eventually(t, func() bool {
		var finished bool
		_ = h.pool.QueryRow(t.Context(), `SELECT state = 'finished' FROM ddbsync.shards WHERE shard_id = $1`, shards[0]).Scan(&finished)
		return finished
	}, 20*time.Second, 5*time.Millisecond)
	// Several discover rounds with the child still unlisted.
	listed := api.hidden.Load()
	require.Eventually(t, func() bool { return api.hidden.Load() >= listed+3 }, 20*time.Second, time.Millisecond)
	w := h.stats.Watermark()
	require.False(t, w.After(parentLast.Add(time.Second)),
		"watermark %s passed changes in an unlisted child (parent's last change %s)", w, parentLast)

	api.hide.Store(false)
	require.Eventually(t, func() bool { return h.stats.Watermark().After(parentLast.Add(5 * time.Minute)) }, 20*time.Second, 5*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	h.requireCopyEqualsTable()
}
