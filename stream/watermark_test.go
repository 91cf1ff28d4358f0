package stream_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/stream"
)

func TestComputeWatermark_IsMinimumOverUnfinishedShards(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	tests := []struct {
		name   string
		states []stream.ShardState
		want   stream.Watermark
	}{
		{"no shards", nil, stream.Watermark{Status: stream.WatermarkUnbounded}},
		{"all finished", []stream.ShardState{{ShardID: "a", Progress: stream.ProgressFinished, Time: at(1)}},
			stream.Watermark{Status: stream.WatermarkUnbounded}},
		{"one reading", []stream.ShardState{{ShardID: "a", Progress: stream.ProgressReading, Time: at(5)}},
			stream.Watermark{Status: stream.WatermarkAt, Time: at(5), ShardID: "a"}},
		{"minimum of reading and caught up", []stream.ShardState{
			{ShardID: "a", Progress: stream.ProgressCaughtUp, Time: at(9)},
			{ShardID: "b", Progress: stream.ProgressReading, Time: at(4)},
			{ShardID: "c", Progress: stream.ProgressReading, Time: at(7)},
		}, stream.Watermark{Status: stream.WatermarkAt, Time: at(4), ShardID: "b"}},
		{"finished shards do not count", []stream.ShardState{
			{ShardID: "a", Progress: stream.ProgressFinished, Time: at(1)},
			{ShardID: "b", Progress: stream.ProgressCaughtUp, Time: at(6)},
		}, stream.Watermark{Status: stream.WatermarkAt, Time: at(6), ShardID: "b"}},
		{"an unknown shard holds it back", []stream.ShardState{
			{ShardID: "b", Progress: stream.ProgressReading, Time: at(4)},
			{ShardID: "x", Progress: stream.ProgressUnknown},
		}, stream.Watermark{Status: stream.WatermarkUnknown, ShardID: "x"}},
		{"a reading shard without time is unknown", []stream.ShardState{
			{ShardID: "b", Progress: stream.ProgressReading},
		}, stream.Watermark{Status: stream.WatermarkUnknown, ShardID: "b"}},
		{"ties go to the smaller shard id", []stream.ShardState{
			{ShardID: "z", Progress: stream.ProgressReading, Time: at(3)},
			{ShardID: "m", Progress: stream.ProgressCaughtUp, Time: at(3)},
		}, stream.Watermark{Status: stream.WatermarkAt, Time: at(3), ShardID: "m"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, stream.ComputeWatermark(tc.states))
		})
	}
}

// FuzzWatermark builds shard states from bytes and checks the watermark's
// properties: a lower bound of every unfinished shard's time and equal to
// one, blind to finished shards and to order, unknown when any unfinished
// shard is, and never earlier when a shard's time advances.
func FuzzWatermark(f *testing.F) {
	f.Add([]byte{1, 10, 2, 20, 3, 5, 0, 0})
	f.Add([]byte{3, 1, 3, 2})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		t0 := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
		var states []stream.ShardState
		for i := 0; i+1 < len(data) && len(states) < 64; i += 2 {
			s := stream.ShardState{ShardID: string(rune('a'+len(states)%26)) + string(rune('0'+len(states)/26)), Progress: stream.Progress(data[i] % 4)}
			if data[i+1] != 0 {
				s.Time = t0.Add(time.Duration(data[i+1]) * time.Second)
			}
			states = append(states, s)
		}
		w := stream.ComputeWatermark(states)

		var unfinished, unknown int
		for _, s := range states {
			switch {
			case s.Progress == stream.ProgressFinished:
			case s.Progress == stream.ProgressUnknown || s.Time.IsZero():
				unfinished++
				unknown++
			default:
				unfinished++
				if w.Status == stream.WatermarkAt && s.Time.Before(w.Time) {
					t.Fatalf("W %v after shard %s time %v", w.Time, s.ShardID, s.Time)
				}
				if w.Status == stream.WatermarkAt && s.ShardID == w.ShardID && !s.Time.Equal(w.Time) {
					t.Fatalf("W %v names shard %s at %v", w.Time, s.ShardID, s.Time)
				}
			}
		}
		switch {
		case unknown > 0:
			require.Equal(t, stream.WatermarkUnknown, w.Status)
		case unfinished == 0:
			require.Equal(t, stream.WatermarkUnbounded, w.Status)
		default:
			require.Equal(t, stream.WatermarkAt, w.Status)
		}

		rev := slices.Clone(states)
		slices.Reverse(rev)
		require.Equal(t, w, stream.ComputeWatermark(rev), "order matters not")

		withFinished := append(slices.Clone(states), stream.ShardState{ShardID: "fin", Progress: stream.ProgressFinished, Time: t0})
		require.Equal(t, w, stream.ComputeWatermark(withFinished), "finished shards do not count")

		if w.Status == stream.WatermarkAt {
			later := slices.Clone(states)
			for i := range later {
				if later[i].ShardID == w.ShardID {
					later[i].Time = later[i].Time.Add(time.Hour)
				}
			}
			w2 := stream.ComputeWatermark(later)
			require.Equal(t, stream.WatermarkAt, w2.Status)
			require.False(t, w2.Time.Before(w.Time), "advancing a shard never lowers W")
		}
	})
}
