package snapshot_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/snapshot"
)

func TestIncrementalWindows(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	h := time.Hour
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	for _, tc := range []struct {
		name string
		to   time.Duration
		want [][2]time.Duration
	}{
		{"shorter than 15 minutes: nothing yet", 14 * time.Minute, nil},
		{"exactly 15 minutes", 15 * time.Minute, [][2]time.Duration{{0, 15 * time.Minute}}},
		{"one window", 5 * h, [][2]time.Duration{{0, 5 * h}}},
		{"exactly a day", 24 * h, [][2]time.Duration{{0, 24 * h}}},
		{"a day and an hour", 25 * h, [][2]time.Duration{{0, 24 * h}, {24 * h, 25 * h}}},
		{"three days", 72 * h, [][2]time.Duration{{0, 24 * h}, {24 * h, 48 * h}, {48 * h, 72 * h}}},
		// The tail is 5 minutes: the last window starts 10 minutes earlier.
		{"a short tail", 48*h + 5*time.Minute, [][2]time.Duration{{0, 24 * h}, {24 * h, 48 * h},
			{48*h - 10*time.Minute, 48*h + 5*time.Minute}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := snapshot.IncrementalWindows(t0, at(tc.to))
			var want []snapshot.Window
			for _, w := range tc.want {
				want = append(want, snapshot.Window{From: at(w[0]), To: at(w[1])})
			}
			require.Equal(t, want, got)
			for i, w := range got {
				d := w.To.Sub(w.From)
				require.True(t, d >= snapshot.MinIncrementalWindow && d <= snapshot.MaxIncrementalWindow, "window %d is %s", i, d)
				if i > 0 {
					require.False(t, w.From.After(got[i-1].To), "no gap between windows")
				}
			}
		})
	}
}
