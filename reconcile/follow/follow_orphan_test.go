package follow_test

import (
	"context"
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

// An orphan whose parent was trimmed a day after it closed: its id proves
// the parent closed long before the replay start, so the parent's changes
// are all in the export, and following goes on even though the orphan's
// first record is after the start (it used to refuse: the scenario seeds
// that recover with a new export after a day away).
func TestFollow_OrphanWhoseIDProvesTheParentClosedBeforeTheStart(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t, emulator.WithShards(1))
	h.Insert(20)
	parent, err := h.Emu.OpenShards(tenure.TableName)
	require.NoError(t, err)
	h.Tick(time.Minute)
	children, err := h.Emu.RolloverShards(tenure.TableName)
	require.NoError(t, err)
	h.Tick(25 * time.Hour) // the parent is trimmed 24 hours after it closed
	h.ExportAndLoad(h.Now())
	h.Tick(time.Minute)
	h.UpdateAll(h.IDs) // the child's first records, after the replay start

	o := stream.Orphan{ShardID: children[0], ParentID: parent[0]}
	require.True(t, o.ParentClosedBefore(h.Now().Add(-10*time.Minute)), "the emulator's ids carry their creation time")
	res, err := h.Follow()
	require.NoError(t, err)
	require.EqualValues(t, len(h.IDs), res.Applied)
	h.RequireCopyEqualsTable()
	require.False(t, res.Watermark.IsZero())
}

// hiddenShard is a Streams API whose DescribeStream never lists one shard,
// as if it had vanished.
type hiddenShard struct {
	stream.API
	id string
}

func (l hiddenShard) DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error) {
	out, err := l.API.DescribeStream(ctx, in, opts...)
	if err != nil {
		return out, err
	}
	kept := out.StreamDescription.Shards[:0]
	for _, sh := range out.StreamDescription.Shards {
		if aws.ToString(sh.ShardId) != l.id {
			kept = append(kept, sh)
		}
	}
	out.StreamDescription.Shards = kept
	return out, nil
}

// An orphan created after the replay start proves nothing by its id: its
// gone parent may have held changes after the start, and the follow
// refuses, naming both shards, with nothing applied.
func TestFollow_RefusesAnOrphanWhoseIDProvesNothing(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t, emulator.WithShards(1))
	h.Insert(20)
	h.ExportAndLoad(h.Now())
	h.Tick(time.Minute)
	h.UpdateAll(h.IDs[:5]) // in the parent, after the replay start
	parent, err := h.Emu.OpenShards(tenure.TableName)
	require.NoError(t, err)
	children, err := h.Emu.RolloverShards(tenure.TableName)
	require.NoError(t, err)
	h.Tick(time.Second)
	h.UpdateAll(h.IDs)

	cfg := h.FollowConfig()
	cfg.Streams = hiddenShard{API: h.Emu.Streams(), id: parent[0]}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	before := h.RowCount()
	_, err = follow.Run(ctx, h.Pool, cfg)
	var gap *stream.GapError
	require.ErrorAs(t, err, &gap)
	require.ErrorIs(t, err, stream.ErrGap)
	require.True(t, gap.Acceptable)
	require.ElementsMatch(t, []string{parent[0], children[0]}, gap.Shards)
	require.Zero(t, h.Stats.Applied.Load())
	require.Equal(t, before, h.RowCount())
}
