package snapshot_test

import (
	"bytes"
	"runtime"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/snapshot"
)

// gzipBomb is a data file of a single line of about mib MiB that compresses
// to a few hundred bytes a MiB: an item's opening, then a string of x's with
// no newline. It repeats one compressed MiB as gzip members (gzip readers
// read members as one stream), so building it costs nothing like deflating
// the whole line.
func gzipBomb(t testing.TB, mib int) []byte {
	t.Helper()
	member := gz(t, strings.Repeat("x", 1<<20))
	raw := gz(t, `{"Item":{"id":{"S":"bomb"},"v":{"S":"`)
	for range mib {
		raw = append(raw, member...)
	}
	return raw
}

func TestFileReader_GzipBombRefusedAtLineCap(t *testing.T) {
	raw := gzipBomb(t, 64)
	require.Less(t, len(raw), 1<<20, "the bomb is small stored")
	e := openOne(t, dataSpec{name: dataA, raw: append(gz(t, line("1")), raw...), count: 2})
	_, err := readAll(t, e, e.Files[0])
	requireFileError(t, err, snapshot.ErrCorrupt, dataA, 2)
	require.Contains(t, err.Error(), "longer than 4 MiB; a DynamoDB item is at most 400 KB")
}

func TestFileReader_GzipBombAllocatesLittle(t *testing.T) {
	// Memory, not time: allocation is deterministic. A 256 MiB line must
	// cost about the cap, not the line.
	e := openOne(t, dataSpec{name: dataA, raw: gzipBomb(t, 256), count: 1})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := readAll(t, e, e.Files[0])
	runtime.ReadMemStats(&after)
	requireFileError(t, err, snapshot.ErrCorrupt, dataA, 1)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("reading a 256 MiB line allocated %.1f MiB", float64(alloc)/(1<<20))
	require.Less(t, alloc, uint64(32<<20), "reading stops at the cap")
}

func TestFileReader_LongestValidItemFitsUnderCap(t *testing.T) {
	// The densest DynamoDB JSON for 400 KB: a list of empty strings, 1 byte
	// of item size each (the list element overhead) but 9 bytes of JSON.
	n := 400<<10 - len("id") - len("bomb") - len("l") - 3
	var b bytes.Buffer
	b.WriteString(`{"Item":{"id":{"S":"bomb"},"l":{"L":[`)
	b.WriteString(strings.Repeat(`{"S":""},`, n-1))
	b.WriteString(`{"S":""}]}}}`)
	require.Greater(t, b.Len(), 3<<20)
	e := openOne(t, dataSpec{name: dataA, raw: gz(t, b.String()), count: 1})
	items, err := readAll(t, e, e.Files[0])
	require.NoError(t, err)
	require.Len(t, items[0]["l"].(*types.AttributeValueMemberL).Value, n)
}

func TestFileReader_LineCapBoundary(t *testing.T) {
	// Whitespace lines are skipped, but they are still buffered: a long run
	// of it is the same bomb. A line of exactly the cap is read.
	atCap := strings.Repeat(" ", snapshot.MaxLineBytes)
	e := openOne(t, dataSpec{name: dataA, raw: gz(t, line("1")+atCap+"\n"+line("2")+atCap), count: 2})
	items, err := readAll(t, e, e.Files[0])
	require.NoError(t, err)
	require.Len(t, items, 2)

	e = openOne(t, dataSpec{name: dataA, raw: gz(t, line("1")+atCap+" \n"+line("2")), count: 2})
	_, err = readAll(t, e, e.Files[0])
	requireFileError(t, err, snapshot.ErrCorrupt, dataA, 2)
	e = openOne(t, dataSpec{name: dataA, raw: gz(t, line("1")+atCap+" "), count: 1})
	_, err = readAll(t, e, e.Files[0])
	requireFileError(t, err, snapshot.ErrCorrupt, dataA, 2)
}
