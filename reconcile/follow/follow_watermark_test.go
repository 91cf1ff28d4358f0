package follow_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/emulator"
	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile/follow"
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
	h := reconciletest.NewHarness(t, emulator.WithShards(1))
	h.Insert(20)
	h.ExportAndLoad(h.Now())
	h.Tick(time.Minute)
	h.UpdateAll(h.IDs)
	parentLast := h.Now()
	shards, err := h.Emu.OpenShards(tenure.TableName)
	require.NoError(t, err)
	_, err = h.Emu.RolloverShards(tenure.TableName)
	require.NoError(t, err)
	h.Tick(10 * time.Minute)
	h.UpdateAll(h.IDs) // in the child, which the listing hides for now

	api := &laggingListing{API: h.Emu.Streams(), parent: shards[0]}
	api.hide.Store(true)
	cfg := h.FollowConfig()
	cfg.Streams = api
	cfg.UntilCaughtUp = false
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { _, err := follow.Run(ctx, h.Pool, cfg); done <- err }()

	require.Eventually(t, func() bool {
		var finished bool
		_ = h.Pool.QueryRow(t.Context(), `SELECT state = 'finished' FROM ddbsync.shards WHERE shard_id = $1`, shards[0]).Scan(&finished)
		return finished
	}, 20*time.Second, 5*time.Millisecond)
	// Several discover rounds with the child still unlisted.
	listed := api.hidden.Load()
	require.Eventually(t, func() bool { return api.hidden.Load() >= listed+3 }, 20*time.Second, time.Millisecond)
	w := h.Stats.Watermark()
	require.False(t, w.After(parentLast.Add(time.Second)),
		"watermark %s passed changes in an unlisted child (parent's last change %s)", w, parentLast)

	api.hide.Store(false)
	require.Eventually(t, func() bool { return h.Stats.Watermark().After(parentLast.Add(5 * time.Minute)) }, 20*time.Second, 5*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	h.RequireCopyEqualsTable()
}
