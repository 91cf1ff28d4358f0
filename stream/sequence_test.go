package stream_test

import (
	"math/big"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/stream"
)

var sequenceCases = []struct {
	name string
	a, b string
	want int
}{
	{"equal", "300000000000000499659", "300000000000000499659", 0},
	{"shorter is smaller though it sorts after as a string", "9", "10", -1},
	{"AWS example lengths 23 and 24", "20500000000000000910398", "820400000000000001192334", -1},
	{"non-contiguous jump", "6300000000002513012315", "6200000000002513011399", 1},
	{"leading zeros ignored", "000123", "123", 0},
	{"forty digits", strings.Repeat("9", 40), "1" + strings.Repeat("0", 39), 1},
	{"zero", "0", "00", 0},
}

func TestCompareSequenceNumbers_ComparesAsIntegers(t *testing.T) {
	t.Parallel()
	for _, tc := range sequenceCases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, stream.CompareSequenceNumbers(tc.a, tc.b))
			require.Equal(t, -tc.want, stream.CompareSequenceNumbers(tc.b, tc.a))
		})
	}
}

func TestCheckSequenceNumber_AcceptsOnlyDecimalDigits(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"1", "300000000000000499659", strings.Repeat("9", 40)} {
		require.NoError(t, stream.CheckSequenceNumber(ok), ok)
	}
	for _, bad := range []string{"", "-1", "1.5", "12a", " 12", strings.Repeat("9", 41), "１"} {
		require.ErrorIs(t, stream.CheckSequenceNumber(bad), stream.ErrBadSequenceNumber, bad)
	}
}

// FuzzCompareSequenceNumbers checks CompareSequenceNumbers against math/big
// for every pair of valid sequence numbers, and antisymmetry for any input.
func FuzzCompareSequenceNumbers(f *testing.F) {
	for _, tc := range sequenceCases {
		f.Add(tc.a, tc.b)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		got := stream.CompareSequenceNumbers(a, b)
		if back := stream.CompareSequenceNumbers(b, a); back != -got {
			t.Fatalf("Compare(%q,%q)=%d but Compare(%q,%q)=%d", a, b, got, b, a, back)
		}
		if stream.CheckSequenceNumber(a) != nil || stream.CheckSequenceNumber(b) != nil {
			return
		}
		x, _ := new(big.Int).SetString(a, 10)
		y, _ := new(big.Int).SetString(b, 10)
		if want := x.Cmp(y); got != want {
			t.Fatalf("Compare(%q,%q)=%d, big.Int says %d", a, b, got, want)
		}
	})
}
