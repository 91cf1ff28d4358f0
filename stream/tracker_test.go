package stream_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/stream"
)

var trackerT0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func sec(s int) time.Time { return trackerT0.Add(time.Duration(s) * time.Second) }

func open(id, parent string) stream.Shard { return stream.Shard{ID: id, ParentID: parent} }

func closed(id, parent string) stream.Shard {
	return stream.Shard{ID: id, ParentID: parent, EndingSequenceNumber: "9"}
}

func reading(id string, s int) stream.ShardState {
	return stream.ShardState{ShardID: id, Progress: stream.ProgressReading, Time: sec(s)}
}

func caughtUp(id string, s int) stream.ShardState {
	return stream.ShardState{ShardID: id, Progress: stream.ProgressCaughtUp, Time: sec(s)}
}

func at(s int, shard string) stream.Watermark {
	return stream.Watermark{Status: stream.WatermarkAt, Time: sec(s), ShardID: shard}
}

func TestTracker_UnknownBeforeTheFirstListing(t *testing.T) {
	tr := stream.NewTracker(sec(0))
	tr.Finished("old")
	require.Equal(t, stream.Watermark{Status: stream.WatermarkUnknown}, tr.Watermark(sec(100)))
}

func TestTracker_AShardNotReadYetHoldsW(t *testing.T) {
	tr := stream.NewTracker(sec(0))
	tr.Listed(sec(1), open("a", ""), open("b", ""))
	tr.Read(reading("a", 5))
	require.Equal(t, stream.Watermark{Status: stream.WatermarkUnknown, ShardID: "b"}, tr.Watermark(sec(10)))
	tr.Read(reading("b", 7))
	require.Equal(t, at(5, "a"), tr.Watermark(sec(10)))
	tr.Read(stream.ShardState{ShardID: "b"}) // a page with nothing: the position is still known
	require.Equal(t, stream.Watermark{Status: stream.WatermarkUnknown, Time: sec(5), ShardID: "b"}, tr.Watermark(sec(10)),
		"unknown keeps the W found before")
}

func TestTracker_WNeverGoesBack(t *testing.T) {
	tr := stream.NewTracker(sec(0))
	tr.Listed(sec(1), open("a", ""))
	tr.Read(caughtUp("a", 1))
	require.Equal(t, at(1, "a"), tr.Watermark(sec(2)))
	tr.Listed(sec(20), open("a", ""), open("b", ""))
	tr.Read(caughtUp("a", 19))
	tr.Read(reading("b", 3)) // a new shard, behind
	w := tr.Watermark(sec(21))
	require.Equal(t, sec(3), w.Time)
	tr.Read(reading("b", 2)) // creation times may go back slightly
	require.Equal(t, stream.Watermark{Status: stream.WatermarkAt, Time: sec(3), ShardID: "b"}, tr.Watermark(sec(21)))
}

func TestTracker_ResumeIsAFloor(t *testing.T) {
	tr := stream.NewTracker(sec(0))
	tr.Resume(sec(50))
	tr.Listed(sec(60), open("a", ""))
	tr.Read(reading("a", 40))
	require.Equal(t, stream.Watermark{Status: stream.WatermarkAt, Time: sec(50), ShardID: "a"}, tr.Watermark(sec(61)))
}

func TestTracker_AFinishedShardWithUnlistedChildrenBoundsW(t *testing.T) {
	tr := stream.NewTracker(sec(0))
	tr.Listed(sec(1), open("p", ""))
	tr.Read(reading("p", 30))
	tr.Listed(sec(40), closed("p", "")) // DescribeStream lags: no child yet
	tr.Read(stream.ShardState{ShardID: "p", Progress: stream.ProgressFinished})
	require.Equal(t, at(30, "p"), tr.Watermark(sec(100)), "the parent's last record, not unbounded")

	tr.Listed(sec(101), closed("p", ""), open("c", "p"))
	require.Equal(t, stream.Watermark{Status: stream.WatermarkUnknown, Time: sec(30), ShardID: "c"}, tr.Watermark(sec(102)))
	tr.Read(reading("c", 90))
	require.Equal(t, at(90, "c"), tr.Watermark(sec(102)))
}

func TestTracker_AFinishedShardWithoutRecordsCountsAsTheStart(t *testing.T) {
	tr := stream.NewTracker(sec(7))
	tr.Listed(sec(10), closed("p", ""))
	tr.Finished("p")
	require.Equal(t, at(7, "p"), tr.Watermark(sec(11)))
}

func TestTracker_AFinishedShardTrimmedFromTheListingNoLongerBoundsW(t *testing.T) {
	// Shards are trimmed 24 hours after they close: a resumed follower knows
	// "p" and "c" from its checkpoints, finished, and lists only "g".
	tr := stream.NewTracker(sec(0))
	tr.Finished("p")
	tr.Finished("c")
	tr.Listed(sec(100), open("g", "c"))
	tr.Read(caughtUp("g", 95))
	require.Equal(t, at(95, "g"), tr.Watermark(sec(101)))
}

func TestTracker_ACaughtUpTimeCountsNoLaterThanTheLastListingShowingTheShardOpen(t *testing.T) {
	tr := stream.NewTracker(sec(0))
	tr.Listed(sec(10), open("a", ""))
	tr.Read(reading("a", 5))
	tr.Read(caughtUp("a", 30))
	require.Equal(t, at(10, "a"), tr.Watermark(sec(31)))
	tr.Listed(sec(40), open("a", ""))
	require.Equal(t, at(30, "a"), tr.Watermark(sec(41)))
}

func TestTracker_ACaughtUpShardListedClosedCountsToItsLastRecord(t *testing.T) {
	tr := stream.NewTracker(sec(0))
	tr.Listed(sec(10), open("a", ""))
	tr.Read(reading("a", 5))
	tr.Listed(sec(20), closed("a", ""), open("b", "a"))
	tr.Read(caughtUp("a", 30)) // empty pages after it closed prove nothing
	require.Equal(t, at(5, "a"), tr.Watermark(sec(31)))
	tr.Listed(sec(40), open("a", ""), open("b", "a")) // a stale listing does not reopen it
	tr.Read(caughtUp("a", 41))
	require.Equal(t, at(5, "a"), tr.Watermark(sec(42)))
}

func TestTracker_ACaughtUpShardNeverListedOpenCountsToItsLastRecordOrTheStart(t *testing.T) {
	tr := stream.NewTracker(sec(3))
	tr.Listed(sec(10), open("a", ""))
	tr.Read(caughtUp("a", 8))
	tr.Read(caughtUp("x", 9)) // read without a listing
	require.Equal(t, at(3, "x"), tr.Watermark(sec(11)))
}

func TestTracker_AChildWaitingForItsParentIsLeftOut(t *testing.T) {
	tr := stream.NewTracker(sec(0))
	tr.Listed(sec(10), closed("p", ""), open("c", "p"))
	tr.Read(reading("p", 4))
	require.Equal(t, at(4, "p"), tr.Watermark(sec(11)))
	require.False(t, tr.CaughtUp())
	tr.Finished("p")
	require.Equal(t, stream.Watermark{Status: stream.WatermarkUnknown, Time: sec(4), ShardID: "c"}, tr.Watermark(sec(12)),
		"ready, not read yet: it holds W")
}

func TestTracker_NoShardLeftIsUnbounded(t *testing.T) {
	tr := stream.NewTracker(sec(0))
	tr.Finished("p")
	tr.Listed(sec(10))
	require.Equal(t, stream.Watermark{Status: stream.WatermarkUnbounded, Time: sec(11)}, tr.Watermark(sec(11)))
}

func TestTracker_CaughtUpWhenEveryUnfinishedShardIs(t *testing.T) {
	tr := stream.NewTracker(sec(0))
	require.True(t, tr.CaughtUp(), "nothing to read")
	tr.Listed(sec(10), closed("p", ""), open("c", "p"), open("d", ""))
	tr.Read(caughtUp("d", 9))
	tr.Read(reading("p", 3))
	require.False(t, tr.CaughtUp())
	tr.Finished("p")
	require.False(t, tr.CaughtUp(), "c is not read yet")
	tr.Read(caughtUp("c", 9))
	require.True(t, tr.CaughtUp())
	tr.Read(reading("d", 10))
	require.False(t, tr.CaughtUp())
}
