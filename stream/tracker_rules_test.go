package stream_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/stream"
)

// The tracker rules that rest on the reader's margins: states as a reader
// with a 5 s propagation margin and a 1 s creation time tolerance sends them.

const (
	margin    = 5 * time.Second
	tolerance = time.Second
)

func readingAt(id string, s int) stream.ShardState {
	return stream.ShardState{ShardID: id, Progress: stream.ProgressReading, Time: sec(s), Margin: margin, Tolerance: tolerance}
}

// caughtUpFrom is the state of a shard whose caught-up run of empty pages
// began at second s.
func caughtUpFrom(id string, s int) stream.ShardState {
	return stream.ShardState{ShardID: id, Progress: stream.ProgressCaughtUp, Time: sec(s).Add(-margin), Margin: margin, Tolerance: tolerance}
}

func TestTracker_AListingBeforeTheEmptyRunProvesTheShardOpenOnlyUpToItself(t *testing.T) {
	tr := stream.NewTracker(sec(0))
	tr.Listed(sec(20), open("a", ""))
	tr.Read(readingAt("a", 8))
	// Empty pages from 40 s: the shard may have closed between 20 s and
	// 40 s, its later changes in a child not listed yet. The listing shows
	// it open at 20 s, as of up to the margin before: it counts as 15 s.
	tr.Read(caughtUpFrom("a", 40))
	require.Equal(t, at(15, "a"), tr.Watermark(sec(41)))
	require.True(t, tr.ListingDue(), "a listing now would show whether it is still open")

	tr.Listed(sec(42), open("a", ""))
	require.Equal(t, at(35, "a"), tr.Watermark(sec(43)), "a listing after the run began: the run counts")
	require.False(t, tr.ListingDue())
}

func TestTracker_ACaughtUpShardNeverCountsBelowItsRecords(t *testing.T) {
	tr := stream.NewTracker(sec(0))
	tr.Listed(sec(20), open("a", ""))
	tr.Read(readingAt("a", 30))
	tr.Read(caughtUpFrom("a", 33)) // caught up at 28: earlier than 30 − 1
	require.Equal(t, at(29, "a"), tr.Watermark(sec(34)))
	require.False(t, tr.ListingDue(), "the records hold it, not the listing")
}

func TestTracker_ALaterRecordMayBeDatedEarlier(t *testing.T) {
	tr := stream.NewTracker(sec(0))
	tr.Listed(sec(1), open("a", ""))
	tr.Read(readingAt("a", 10))
	w := tr.Watermark(sec(11))
	require.Equal(t, at(9, "a"), w, "the latest record minus the tolerance")
	// The next record is dated a second earlier; W had not passed it.
	tr.Read(readingAt("a", 9))
	require.Equal(t, at(9, "a"), tr.Watermark(sec(12)))
	tr.Read(readingAt("a", 12))
	require.Equal(t, at(11, "a"), tr.Watermark(sec(13)))
}

func TestTracker_AFinishedParentCountsItsRecordsMinusTheTolerance(t *testing.T) {
	tr := stream.NewTracker(sec(0))
	tr.Listed(sec(1), open("p", ""))
	tr.Read(readingAt("p", 30))
	tr.Listed(sec(40), closed("p", "")) // the child is not listed yet
	tr.Read(stream.ShardState{ShardID: "p", Progress: stream.ProgressFinished, Margin: margin, Tolerance: tolerance})
	require.Equal(t, at(29, "p"), tr.Watermark(sec(41)), "the child's first record may be dated a second before")
}

func TestTracker_NoShardCountsBeforeTheStart(t *testing.T) {
	tr := stream.NewTracker(sec(10))
	tr.Listed(sec(1), open("a", ""))
	tr.Read(readingAt("a", 10)) // 10 − 1 is before the start
	require.Equal(t, at(10, "a"), tr.Watermark(sec(11)))
}

func TestTracker_WIsAWholeSecond(t *testing.T) {
	tr := stream.NewTracker(sec(0))
	tr.Listed(sec(20), open("a", ""))
	// Caught up from 15.7 s: every change made before 10.7 s was read. A
	// change made at 10.9 s, stamped 10, may not have been: W = 10.7 would
	// claim it (stamps are whole seconds), W = 10 does not.
	st := caughtUpFrom("a", 15)
	st.Time = st.Time.Add(700 * time.Millisecond)
	tr.Read(st)
	require.Equal(t, at(10, "a"), tr.Watermark(sec(21)))
}

func TestTracker_ListingDue(t *testing.T) {
	t.Run("not before the first listing", func(t *testing.T) {
		tr := stream.NewTracker(sec(0))
		tr.Read(caughtUpFrom("a", 40))
		require.False(t, tr.ListingDue())
	})
	t.Run("not while a shard is unknown", func(t *testing.T) {
		tr := stream.NewTracker(sec(0))
		tr.Listed(sec(20), open("a", ""), open("b", ""))
		tr.Read(caughtUpFrom("a", 40))
		require.False(t, tr.ListingDue())
	})
	t.Run("not while a reading shard holds W", func(t *testing.T) {
		tr := stream.NewTracker(sec(0))
		tr.Listed(sec(20), open("a", ""), open("b", ""))
		tr.Read(caughtUpFrom("a", 40))
		tr.Read(readingAt("b", 12))
		require.False(t, tr.ListingDue())
		tr.Read(readingAt("b", 39))
		require.True(t, tr.ListingDue(), "now a's listing holds W")
	})
	t.Run("not for a shard listed closed", func(t *testing.T) {
		tr := stream.NewTracker(sec(0))
		tr.Listed(sec(20), closed("a", ""), open("c", "a"))
		tr.Read(readingAt("a", 12))
		tr.Read(caughtUpFrom("a", 40))
		require.False(t, tr.ListingDue())
	})
	t.Run("not for less than a second", func(t *testing.T) {
		tr := stream.NewTracker(sec(0))
		tr.Listed(sec(40).Add(-300*time.Millisecond), open("a", ""))
		st := caughtUpFrom("a", 40)
		st.Time = st.Time.Add(-100 * time.Millisecond)
		tr.Read(st)
		require.False(t, tr.ListingDue(), "W is whole seconds: 34.7 and 34.9 give the same")
	})
	t.Run("again once the run moves past the listing", func(t *testing.T) {
		tr := stream.NewTracker(sec(0))
		tr.Listed(sec(40), open("a", ""))
		tr.Read(caughtUpFrom("a", 40))
		require.False(t, tr.ListingDue())
		tr.Read(caughtUpFrom("a", 41))
		require.True(t, tr.ListingDue())
	})
}
