package emulator_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/stream"
)

// Shard ids carry the emulator clock's time at the shard's creation, in the
// form AWS's are observed to have, so a test can make an orphan whose own id
// proves its gone parent closed before the replay start.
func TestStream_ShardIDsCarryTheirCreationTime(t *testing.T) {
	t.Parallel()
	srv := startEmulator(t)
	db, st := srv.DynamoDB(), srv.Streams()
	srv.Clock().Advance(1234 * time.Millisecond)
	created := srv.Clock().Now()
	name := createTable(t, db, false, true)
	arn := streamArn(t, db, name)
	_, shards := listShards(t, st, arn, 100)
	require.Len(t, shards, 1)
	root := aws.ToString(shards[0].ShardId)
	at, ok := stream.ShardCreated(root)
	require.True(t, ok, root)
	require.Equal(t, created.Truncate(time.Millisecond), at)

	rolledAt := srv.Clock().Advance(4*time.Hour + 7*time.Millisecond)
	children, err := srv.RolloverShards(name)
	require.NoError(t, err)
	at, ok = stream.ShardCreated(children[0])
	require.True(t, ok, children[0])
	require.Equal(t, rolledAt.Truncate(time.Millisecond), at, "a child is numbered when its parent rolls over")

	splitAt := srv.Clock().Advance(time.Hour)
	l, r, err := srv.SplitShard(name, children[0])
	require.NoError(t, err)
	for _, id := range []string{l, r} {
		at, ok = stream.ShardCreated(id)
		require.True(t, ok, id)
		require.Equal(t, splitAt.Truncate(time.Millisecond), at)
	}

	// 24 hours after it closed, the root is trimmed: its child is an orphan
	// whose id proves the root closed before any replay start after the
	// rollover (with a minute's allowance), and proves nothing before it.
	srv.Clock().Advance(24 * time.Hour)
	_, shards = listShards(t, st, arn, 100)
	lin, err := stream.NewShardLineage(shards)
	require.NoError(t, err)
	orphans := lin.Orphans(nil)
	require.Equal(t, []stream.Orphan{{ShardID: children[0], ParentID: root}}, orphans)
	require.True(t, orphans[0].ParentClosedBefore(rolledAt.Add(2*time.Minute)))
	require.False(t, orphans[0].ParentClosedBefore(rolledAt))
}
