package stream_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/stream"
)

func TestShardCreated_ReadsTheObservedFormat(t *testing.T) {
	t.Parallel()
	ms := func(n int64) time.Time { return time.UnixMilli(n).UTC() }
	tests := []struct {
		name string
		id   string
		want time.Time // zero: does not parse
	}{
		{"AWS example, root", "shardId-00000001414562045508-2bac9cd2", ms(1414562045508)},
		{"AWS example, last child", "shardId-00000001414608446368-3a1afbaf", ms(1414608446368)},
		{"quoted from AWS in an issue", "shardId-00000001592367572726-07776efd", ms(1592367572726)},
		{"Kinesis style", "shardId-000000000001", time.Time{}},
		{"twelve digits and a long suffix", "shardId-000000000000-798cedd84a2953c5af70a131f8701f35", time.Time{}},
		{"no prefix", "00000001414562045508-2bac9cd2", time.Time{}},
		{"other prefix", "shardid-00000001414562045508-2bac9cd2", time.Time{}},
		{"19 digits", "shardId-0000001414562045508-2bac9cd2", time.Time{}},
		{"21 digits", "shardId-000000001414562045508-2bac9cd2", time.Time{}},
		{"no dash before the suffix", "shardId-00000001414562045508x2bac9cd2", time.Time{}},
		{"short suffix", "shardId-00000001414562045508-2bac9cd", time.Time{}},
		{"long suffix", "shardId-00000001414562045508-2bac9cd2a", time.Time{}},
		{"uppercase suffix", "shardId-00000001414562045508-2BAC9CD2", time.Time{}},
		{"sign in the number", "shardId-+0000001414562045508-2bac9cd2", time.Time{}},
		{"before 2012", "shardId-00000001300000000000-2bac9cd2", time.Time{}},
		{"zero", "shardId-00000000000000000000-00000000", time.Time{}},
		{"after 2099", "shardId-00000004102444800000-2bac9cd2", time.Time{}},
		{"beyond int64", "shardId-99999999999999999999-2bac9cd2", time.Time{}},
		{"empty", "", time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := stream.ShardCreated(tc.id)
			require.Equal(t, !tc.want.IsZero(), ok)
			require.Equal(t, tc.want, got)
		})
	}
}

// shardID formats an id of the observed form for a creation time.
func shardID(at time.Time, suffix uint32) string {
	return fmt.Sprintf("shardId-%020d-%08x", at.UnixMilli(), suffix)
}

func TestOrphan_ParentClosedBefore(t *testing.T) {
	t.Parallel()
	s := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	parent := shardID(s.Add(-8*time.Hour), 1)
	tests := []struct {
		name   string
		orphan stream.Orphan
		want   bool
	}{
		{"created hours before S", stream.Orphan{ShardID: shardID(s.Add(-4*time.Hour), 2), ParentID: parent}, true},
		{"created just over a minute before S", stream.Orphan{ShardID: shardID(s.Add(-61*time.Second), 2), ParentID: parent}, true},
		{"created a minute before S: too close", stream.Orphan{ShardID: shardID(s.Add(-time.Minute), 2), ParentID: parent}, false},
		{"created after S", stream.Orphan{ShardID: shardID(s.Add(time.Hour), 2), ParentID: parent}, false},
		{"orphan id does not parse", stream.Orphan{ShardID: "shard-7", ParentID: parent}, false},
		{"parent id does not parse", stream.Orphan{ShardID: shardID(s.Add(-4*time.Hour), 2), ParentID: "shard-6"}, false},
		{"parent numbered after its child", stream.Orphan{ShardID: shardID(s.Add(-4*time.Hour), 2), ParentID: shardID(s.Add(-3*time.Hour), 1)}, false},
		{"parent numbered with its child", stream.Orphan{ShardID: shardID(s.Add(-4*time.Hour), 2), ParentID: shardID(s.Add(-4*time.Hour), 1)}, false},
		{"AWS example lineage", stream.Orphan{ShardID: "shardId-00000001414576573621-f55eea83", ParentID: "shardId-00000001414562045508-2bac9cd2"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.orphan.ParentClosedBefore(s))
		})
	}
}

func TestShardLineage_OrphansCarryWhatParentClosedBeforeNeeds(t *testing.T) {
	t.Parallel()
	s := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	gone := shardID(s.Add(-30*time.Hour), 1) // trimmed 24 h after it closed
	old := shardID(s.Add(-26*time.Hour), 2)  // its child, now an orphan
	recent := shardID(s.Add(-10*time.Second), 3)
	l, err := stream.NewShardLineage([]types.Shard{listed(old, gone, false), listed(recent, "vanished", false)})
	require.NoError(t, err)
	orphans := l.Orphans(nil)
	require.Len(t, orphans, 2)
	byID := map[string]stream.Orphan{}
	for _, o := range orphans {
		byID[o.ShardID] = o
	}
	require.True(t, byID[old].ParentClosedBefore(s), "an orphan from before S: its parent's changes all precede S")
	require.False(t, byID[recent].ParentClosedBefore(s), "the parent id does not parse: the safe refusal stands")
}
