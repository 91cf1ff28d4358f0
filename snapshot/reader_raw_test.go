package snapshot_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/snapshot"
)

// A raw reader gives the lines undecoded, checks the file at the end as
// OpenFile's reader does, and refuses a line Decode is given exactly as
// Next would have.
func TestFileReader_RawLinesAndDecode(t *testing.T) {
	t.Parallel()
	e := openOne(t, dataSpec{name: dataA, raw: gz(t, line("1")+"\n"+line("2")+"this is not JSON\n"+line("4")), count: 4})
	r, err := e.OpenFileRaw(t.Context(), e.Files[0])
	require.NoError(t, err)
	var raws []string
	var lines []int
	for r.Next() {
		raws = append(raws, string(r.Raw()))
		lines = append(lines, r.Line())
	}
	r.Close()
	require.NoError(t, r.Err(), "undecoded, the bad line is the caller's to find")
	require.Equal(t, []int{1, 3, 4, 5}, lines)
	require.Equal(t, `{"Item":{"id":{"S":"1"}}}`, raws[0])
	require.Equal(t, "this is not JSON", raws[2])

	r, err = e.OpenFileRaw(t.Context(), e.Files[0])
	require.NoError(t, err)
	defer r.Close()
	require.True(t, r.Next())
	item, err := r.Decode()
	require.NoError(t, err)
	require.Equal(t, "1", item["id"].(*types.AttributeValueMemberS).Value)
	require.Equal(t, item, r.Item())
	require.True(t, r.Next())
	require.True(t, r.Next(), "lines need not be decoded")
	_, err = r.Decode()
	requireFileError(t, err, snapshot.ErrCorrupt, dataA, 4)
	require.Equal(t, err, r.Err())
	require.False(t, r.Next(), "a refused line stops the reader")

	// A damaged file's MD5 is the root cause, as for OpenFile's reader.
	e = openOne(t, dataSpec{name: dataA, raw: gz(t, "not JSON\n"), md5: "AAAAAAAAAAAAAAAAAAAAAA==", count: 1})
	r, err = e.OpenFileRaw(t.Context(), e.Files[0])
	require.NoError(t, err)
	defer r.Close()
	require.True(t, r.Next())
	_, err = r.Decode()
	require.ErrorIs(t, err, snapshot.ErrChecksum)
}
