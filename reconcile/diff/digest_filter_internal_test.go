package diff

import (
	"crypto/md5"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"
)

func testDigest(i int) [16]byte {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(i))
	return md5.Sum(b[:])
}

// The filter never lacks a digest added to it; at 16 bits a row it lets
// few others by; its size stays within the cap whatever the rows.
func TestDigestFilter_NoFalseNegativesFewFalsePositives(t *testing.T) {
	const rows = 20_000
	f := newDigestFilter(rows, defaultFilterMaxBits)
	require.EqualValues(t, rows*filterBitsPerRow, f.f.Cap())
	for i := range rows {
		f.add(testDigest(i))
	}
	for i := range rows {
		require.True(t, f.MayContain(testDigest(i)), "digest %d was added", i)
	}
	fp := 0
	for i := rows; i < 5*rows; i++ {
		if f.MayContain(testDigest(i)) {
			fp++
		}
	}
	require.Less(t, fp, 4*rows/500, "false positives among %d: about 1 in 2,000 expected", 4*rows)

	require.EqualValues(t, 1<<20, newDigestFilter(1<<40, 1<<20).f.Cap(), "the cap, whatever the rows")
	require.EqualValues(t, 1, newDigestFilter(10, 1).f.Cap())
}
