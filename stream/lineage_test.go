package stream_test

import (
	"cmp"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/stream"
)

func listed(id, parent string, closed bool) types.Shard {
	s := types.Shard{ShardId: aws.String(id), SequenceNumberRange: &types.SequenceNumberRange{StartingSequenceNumber: aws.String("100")}}
	if parent != "" {
		s.ParentShardId = aws.String(parent)
	}
	if closed {
		s.SequenceNumberRange.EndingSequenceNumber = aws.String("200")
	}
	return s
}

func set(ids ...string) map[string]bool {
	m := map[string]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return m
}

func TestShardLineage_OrdersAWSExampleChain(t *testing.T) {
	t.Parallel()
	// botocore's DescribeStream example, listed newest first.
	const (
		s1 = "shardId-00000001414562045508-2bac9cd2"
		s2 = "shardId-00000001414576573621-f55eea83"
		s3 = "shardId-00000001414592258131-674fd923"
		s4 = "shardId-00000001414608446368-3a1afbaf"
	)
	l, err := stream.NewShardLineage([]types.Shard{listed(s4, s3, false), listed(s2, s1, true), listed(s3, s2, true), listed(s1, "", true)})
	require.NoError(t, err)
	require.Equal(t, []string{s1, s2, s3, s4}, l.Order())
	require.Equal(t, []string{s1}, l.Ready(nil))
	require.Equal(t, []string{s3}, l.Ready(set(s1, s2)))
	require.Empty(t, l.Ready(set(s1, s2, s3, s4)))
	require.Equal(t, []string{s2}, l.Children(s1))
	require.Empty(t, l.Children(s4))
	require.Empty(t, l.Orphans(nil))
	sh, ok := l.Shard(s4)
	require.True(t, ok)
	require.True(t, sh.Open())
	require.Equal(t, 4, l.Len())
}

func TestShardLineage_SplitMakesChildrenReadyTogether(t *testing.T) {
	t.Parallel()
	l, err := stream.NewShardLineage([]types.Shard{
		listed("c", "a", false), listed("b", "p", true), listed("a", "p", true), listed("p", "", true),
	})
	require.NoError(t, err)
	require.Equal(t, []string{"p", "a", "b", "c"}, l.Order())
	require.Equal(t, []string{"a", "b"}, l.Children("p"))
	require.Equal(t, []string{"p"}, l.Ready(nil))
	require.Equal(t, []string{"a", "b"}, l.Ready(set("p")))
	require.Equal(t, []string{"b", "c"}, l.Ready(set("p", "a")))
	require.Equal(t, stream.ParentPending, l.ParentState("c", set("p")))
	require.Equal(t, stream.ParentFinished, l.ParentState("c", set("p", "a")))
	require.Equal(t, stream.ParentNone, l.ParentState("p", nil))
	require.Equal(t, stream.ParentState(0), l.ParentState("nope", nil))
}

func TestShardLineage_TrimmedParentIsReadyButReportedAsOrphan(t *testing.T) {
	t.Parallel()
	l, err := stream.NewShardLineage([]types.Shard{listed("x", "gone", true), listed("y", "x", false)})
	require.NoError(t, err)
	require.Equal(t, []string{"x"}, l.Ready(nil))
	require.Equal(t, stream.ParentAbsent, l.ParentState("x", nil))
	require.Equal(t, []stream.Orphan{{ShardID: "x", ParentID: "gone"}}, l.Orphans(nil))
	require.Empty(t, l.Orphans(set("gone")), "a parent we finished is no orphan's parent")
	require.Equal(t, stream.ParentFinished, l.ParentState("x", set("gone")))
	require.Empty(t, l.Orphans(set("x")), "a finished shard is no orphan")
	require.Equal(t, []string{"gone", "old"}, l.Unlisted([]string{"x", "gone", "y", "old"}))
}

func TestNewShardLineage_DuplicateListingKeepsClosedEntry(t *testing.T) {
	t.Parallel()
	l, err := stream.NewShardLineage([]types.Shard{listed("a", "", false), listed("a", "", true), listed("a", "", false)})
	require.NoError(t, err)
	require.Equal(t, 1, l.Len())
	sh, _ := l.Shard("a")
	require.False(t, sh.Open())
}

func TestNewShardLineage_RejectsBrokenListings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		listing []types.Shard
	}{
		{"no id", []types.Shard{{}}},
		{"own parent", []types.Shard{listed("a", "a", true)}},
		{"cycle", []types.Shard{listed("a", "c", true), listed("b", "a", true), listed("c", "b", true), listed("d", "", true)}},
		{"two parents", []types.Shard{listed("a", "p", true), listed("a", "q", true)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := stream.NewShardLineage(tc.listing)
			require.ErrorIs(t, err, stream.ErrLineage)
		})
	}
}

// FuzzLineageOrder builds a listing from bytes (each shard's parent is
// another listed shard, none, or an unlisted one; cycles are possible) in a
// fuzzed order, with a fuzzed finished set, and checks: a listing is
// rejected exactly when it has a cycle; otherwise Order is a permutation
// with every listed parent before its children and independent of listing
// order, Children mirrors parent links, and Ready and Orphans follow the
// parent rule.
func FuzzLineageOrder(f *testing.F) {
	f.Add([]byte{4, 0, 0, 2, 1, 4, 2, 7})
	f.Add([]byte{1, 0, 0, 0})
	f.Add([]byte{3, 9, 3, 1, 0, 4, 1, 8, 5, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		n := min(len(data)/2, 40)
		id := func(i int) string { return fmt.Sprintf("shardId-%03d", i) }
		parents := map[string]string{}
		finished := map[string]bool{}
		type entry struct {
			s   types.Shard
			key int
		}
		var entries []entry
		for i := range n {
			pb, xb := int(data[2*i]), int(data[2*i+1])
			var parent string
			switch p := pb % (n + 2); {
			case p < n:
				parent = id(p)
			case p == n+1:
				parent = fmt.Sprintf("gone-%03d", i)
				finished[parent] = xb&2 != 0
			}
			parents[id(i)] = parent
			finished[id(i)] = xb&1 != 0
			entries = append(entries, entry{listed(id(i), parent, xb&4 != 0), xb >> 3})
		}
		slices.SortStableFunc(entries, func(a, b entry) int { return cmp.Compare(a.key, b.key) })
		var listing []types.Shard
		for _, e := range entries {
			listing = append(listing, e.s)
		}

		l, err := stream.NewShardLineage(listing)
		if hasCycle(parents) {
			require.ErrorIs(t, err, stream.ErrLineage)
			return
		}
		require.NoError(t, err)

		order := l.Order()
		require.Len(t, order, n)
		pos := map[string]int{}
		for i, s := range order {
			_, dup := pos[s]
			require.False(t, dup, "shard %s twice", s)
			pos[s] = i
		}
		for child, parent := range parents {
			if p, ok := pos[parent]; ok {
				require.Less(t, p, pos[child], "parent %s after child %s", parent, child)
				require.Contains(t, l.Children(parent), child)
			}
		}
		slices.Reverse(listing)
		l2, err := stream.NewShardLineage(listing)
		require.NoError(t, err)
		require.Equal(t, order, l2.Order(), "order does not depend on the listing's")

		ready := l.Ready(finished)
		require.True(t, slices.IsSortedFunc(ready, func(a, b string) int { return cmp.Compare(pos[a], pos[b]) }))
		orphans := map[string]bool{}
		for _, o := range l.Orphans(finished) {
			orphans[o.ShardID] = true
			require.Equal(t, parents[o.ShardID], o.ParentID)
		}
		for _, s := range order {
			parent := parents[s]
			_, parentListed := pos[parent]
			parentDone := parent == "" || finished[parent] || !parentListed
			require.Equal(t, !finished[s] && parentDone, slices.Contains(ready, s), "ready(%s)", s)
			require.Equal(t, !finished[s] && parent != "" && !parentListed && !finished[parent], orphans[s], "orphan(%s)", s)
		}
	})
}

// hasCycle reports whether parent links loop among the listed shards.
func hasCycle(parents map[string]string) bool {
	for s := range parents {
		cur := s
		for range len(parents) + 1 {
			p, ok := parents[cur]
			if !ok || p == "" {
				break
			}
			cur = p
		}
		if _, ok := parents[cur]; ok && parents[cur] != "" {
			if _, listed := parents[parents[cur]]; listed {
				return true
			}
		}
	}
	return false
}
