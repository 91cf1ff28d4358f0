package snapshot_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/snapshot"
)

const dataA = "data/a.json.gz"

// openOne writes an export with one data file and opens it.
func openOne(t *testing.T, f dataSpec) *snapshot.Export {
	t.Helper()
	e, err := openDir(t, writeExport(t, exportSpec{files: []dataSpec{f}}))
	require.NoError(t, err)
	require.Len(t, e.Files, 1)
	return e
}

func TestFileReader_ReadsItemsAndLines(t *testing.T) {
	t.Parallel()
	e := openOne(t, dataSpec{name: dataA, raw: gz(t, line("1")+"\n  \n"+line("2")+strings.TrimSuffix(line("3"), "\n")), count: 3})
	r, err := e.OpenFile(t.Context(), e.Files[0])
	require.NoError(t, err)
	defer r.Close()
	var ids []string
	var lines []int
	for r.Next() {
		ids = append(ids, r.Item()["id"].(*types.AttributeValueMemberS).Value)
		lines = append(lines, r.Line())
	}
	require.NoError(t, r.Err())
	require.Equal(t, []string{"1", "2", "3"}, ids)
	require.Equal(t, []int{1, 4, 5}, lines, "blank lines count as lines")
	require.Equal(t, int64(len(gz(t, line("1")+"\n  \n"+line("2")+strings.TrimSuffix(line("3"), "\n")))), r.BytesRead())
	require.False(t, r.Next(), "Next stays false at the end")
}

func TestFileReader_BlankLinesSkipped(t *testing.T) {
	t.Parallel()
	e := openOne(t, dataSpec{name: dataA, raw: gz(t, "\n\r\n"+line("1")+"\n\n"+line("2")+"\n \t\n"), count: 2})
	items, err := readAll(t, e, e.Files[0])
	require.NoError(t, err)
	require.Len(t, items, 2)
}

func TestFileReader_ZeroByteFileWithCountZero(t *testing.T) {
	t.Parallel()
	e := openOne(t, dataSpec{name: dataA, raw: []byte{}, count: 0})
	items, err := readAll(t, e, e.Files[0])
	require.NoError(t, err)
	require.Empty(t, items)
}

func TestFileReader_EmptyGzipWithCountZero(t *testing.T) {
	t.Parallel()
	// AWS writes one data file per partition, even an empty one: a gzip
	// stream of zero bytes.
	e := openOne(t, dataSpec{name: dataA, raw: gz(t, ""), count: 0})
	items, err := readAll(t, e, e.Files[0])
	require.NoError(t, err)
	require.Empty(t, items)
}

func TestFileReader_ZeroByteFileWithItemsPromised(t *testing.T) {
	t.Parallel()
	e := openOne(t, dataSpec{name: dataA, raw: []byte{}, count: 2})
	_, err := readAll(t, e, e.Files[0])
	requireFileError(t, err, snapshot.ErrCount, dataA, 0)
}

func TestFileReader_MultistreamGzip(t *testing.T) {
	t.Parallel()
	raw := append(gz(t, line("1")), gz(t, line("2"))...)
	e := openOne(t, dataSpec{name: dataA, raw: raw, count: 2})
	items, err := readAll(t, e, e.Files[0])
	require.NoError(t, err)
	require.Len(t, items, 2)
}

func TestFileReader_VeryLongLines(t *testing.T) {
	t.Parallel()
	// Items reach 400 KB, and more once escaped; lines far beyond bufio's
	// and bufio.Scanner's defaults must read fine.
	big := strings.Repeat("ab\\n", 1<<18) // 1 MiB of JSON text
	bigLine := `{"Item":{"id":{"S":"big"},"v":{"S":"` + big + `"}}}` + "\n"
	hugeB := strings.Repeat("QUFB", 3<<18) // 3 MiB of base64
	hugeLine := `{"Item":{"id":{"S":"huge"},"b":{"B":"` + hugeB + `"}}}`
	e := openOne(t, dataSpec{name: dataA, raw: gz(t, line("1")+bigLine+line("2")+hugeLine), count: 4})
	items, err := readAll(t, e, e.Files[0])
	require.NoError(t, err)
	require.Len(t, items, 4)
	require.Equal(t, strings.Repeat("ab\n", 1<<18), items[1]["v"].(*types.AttributeValueMemberS).Value)
	require.Len(t, items[3]["b"].(*types.AttributeValueMemberB).Value, 9<<18)
	require.Equal(t, &types.AttributeValueMemberS{Value: "2"}, items[2]["id"], "items stay valid after Next")
}

func TestFileReader_MissingDataFile(t *testing.T) {
	t.Parallel()
	e := openOne(t, dataSpec{name: dataA, raw: nil, md5: "AAAAAAAAAAAAAAAAAAAAAA==", count: 1})
	r, err := e.OpenFile(t.Context(), e.Files[0])
	require.Nil(t, r)
	requireFileError(t, err, snapshot.ErrMissingFile, dataA, 0)
}

func TestFileReader_CorruptGzip(t *testing.T) {
	t.Parallel()
	e := openOne(t, dataSpec{name: dataA, raw: []byte("this is not gzip at all\n"), count: 1})
	_, err := readAll(t, e, e.Files[0])
	requireFileError(t, err, snapshot.ErrCorrupt, dataA, 0)
	require.Contains(t, err.Error(), "not a gzip file")
}

func TestFileReader_CorruptDeflateStream(t *testing.T) {
	t.Parallel()
	raw := gz(t, strings.Repeat(line("x"), 1000))
	for i := 20; i < len(raw)-20; i++ {
		raw[i] ^= 0x55
	}
	e := openOne(t, dataSpec{name: dataA, raw: raw, count: 1000})
	_, err := readAll(t, e, e.Files[0])
	requireFileError(t, err, snapshot.ErrCorrupt, dataA, 0)
}

func TestFileReader_TruncatedFile(t *testing.T) {
	t.Parallel()
	full := gz(t, strings.Repeat(line("x"), 100))
	cut := full[:len(full)/2]

	t.Run("MD5 of the whole file in the manifest", func(t *testing.T) {
		// The usual case: a partial download. The checksum names the cause.
		e := openOne(t, dataSpec{name: dataA, raw: cut, md5: md5b64(full), count: 100})
		_, err := readAll(t, e, e.Files[0])
		requireFileError(t, err, snapshot.ErrChecksum, dataA, 0)
		require.ErrorIs(t, err, snapshot.ErrCorrupt, "the decoding problem is kept too")
		require.Contains(t, err.Error(), "truncated")
		require.Contains(t, err.Error(), "reading stopped at line ")
	})
	t.Run("MD5 matching the truncated bytes", func(t *testing.T) {
		e := openOne(t, dataSpec{name: dataA, raw: cut, count: 100})
		items, err := readAll(t, e, e.Files[0])
		fe := requireFileError(t, err, snapshot.ErrCorrupt, dataA, 0)
		require.Equal(t, len(items)+1, fe.Line, "the line after the last whole item")
		require.Contains(t, err.Error(), dataA+" line ")
		require.Contains(t, err.Error(), "truncated")
	})
	t.Run("gzip trailer missing", func(t *testing.T) {
		short := full[:len(full)-4]
		e := openOne(t, dataSpec{name: dataA, raw: short, count: 100})
		_, err := readAll(t, e, e.Files[0])
		requireFileError(t, err, snapshot.ErrCorrupt, dataA, 0)
	})
}

func TestFileReader_LineNotJSON(t *testing.T) {
	t.Parallel()
	e := openOne(t, dataSpec{name: dataA, raw: gz(t, line("1")+"\n"+line("2")+"this is not JSON\n"+line("4")), count: 4})
	r, err := e.OpenFile(t.Context(), e.Files[0])
	require.NoError(t, err)
	defer r.Close()
	n := 0
	for r.Next() {
		n++
	}
	require.Equal(t, 2, n, "items before the bad line are delivered")
	fe := requireFileError(t, r.Err(), snapshot.ErrCorrupt, dataA, 4)
	var se *ddbjson.SyntaxError
	require.ErrorAs(t, fe, &se, "the decoder's position is kept")
	require.Equal(t, 0, se.Offset)
}

func TestFileReader_UnknownAttributeValueType(t *testing.T) {
	t.Parallel()
	e := openOne(t, dataSpec{name: dataA, raw: gz(t, line("1")+`{"Item":{"id":{"S":"2"},"x":{"Q":"?"}}}`+"\n"), count: 2})
	_, err := readAll(t, e, e.Files[0])
	requireFileError(t, err, snapshot.ErrCorrupt, dataA, 2)
	require.ErrorIs(t, err, ddbjson.ErrUnknownType)
	require.Contains(t, err.Error(), "attribute x")
}

func TestFileReader_DataChecksumMismatch(t *testing.T) {
	t.Parallel()
	e := openOne(t, dataSpec{name: dataA, raw: gz(t, line("1")), md5: "AAAAAAAAAAAAAAAAAAAAAA==", count: 1})
	items, err := readAll(t, e, e.Files[0])
	require.Len(t, items, 1, "the mismatch shows at the end of the file")
	requireFileError(t, err, snapshot.ErrChecksum, dataA, 0)
	require.Contains(t, err.Error(), "AAAAAAAAAAAAAAAAAAAAAA==")
}

func TestFileReader_PerFileCountMismatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		count int64
	}{{"fewer items than promised", 3}, {"more items than promised", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			e := openOne(t, dataSpec{name: dataA, raw: gz(t, line("1")+line("2")), count: tc.count})
			_, err := readAll(t, e, e.Files[0])
			requireFileError(t, err, snapshot.ErrCount, dataA, 0)
			require.Contains(t, err.Error(), "file holds 2 items")
		})
	}
}

func TestFileReader_SymlinkOutsideExport(t *testing.T) {
	t.Parallel()
	outside := filepath.Join(t.TempDir(), "outside.json.gz")
	require.NoError(t, os.WriteFile(outside, gz(t, line("secret")), 0o644))
	dir := writeExport(t, exportSpec{files: []dataSpec{{name: dataA, raw: nil, md5: md5b64(gz(t, line("secret"))), count: 1}}})
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "data"), 0o755))
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "data", "a.json.gz")))
	e, err := openDir(t, dir)
	require.NoError(t, err)
	r, err := e.OpenFile(t.Context(), e.Files[0])
	require.Nil(t, r)
	requireFileError(t, err, snapshot.ErrOutsideExport, dataA, 0)
}

func TestFileReader_SymlinkedDataFolderOutsideExport(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "a.json.gz"), gz(t, line("secret")), 0o644))
	dir := writeExport(t, exportSpec{files: []dataSpec{{name: dataA, raw: nil, md5: md5b64(gz(t, line("secret"))), count: 1}}})
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "data")))
	e, err := openDir(t, dir)
	require.NoError(t, err)
	_, err = e.OpenFile(t.Context(), e.Files[0])
	requireFileError(t, err, snapshot.ErrOutsideExport, dataA, 0)
}

func TestFileReader_SymlinkInsideExportAllowed(t *testing.T) {
	t.Parallel()
	raw := gz(t, line("1"))
	dir := writeExport(t, exportSpec{files: []dataSpec{{name: dataA, raw: nil, md5: md5b64(raw), count: 1}}})
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "data"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "real.gz"), raw, 0o644))
	require.NoError(t, os.Symlink("../real.gz", filepath.Join(dir, "data", "a.json.gz")))
	e, err := openDir(t, dir)
	require.NoError(t, err)
	items, err := readAll(t, e, e.Files[0])
	require.NoError(t, err)
	require.Len(t, items, 1)
}

func TestExport_OpenFileRefusesNamesOutside(t *testing.T) {
	t.Parallel()
	e := openOne(t, dataSpec{name: dataA, raw: gz(t, ""), count: 0})
	for _, name := range []string{"../x", "/etc/passwd", "", "data/../../x", "a/./b"} {
		t.Run(name, func(t *testing.T) {
			_, err := e.OpenFile(t.Context(), snapshot.DataFile{Name: name})
			require.ErrorIs(t, err, snapshot.ErrOutsideExport)
		})
	}
}

// flakySource fails every read of a data file after limit bytes.
type flakySource struct {
	snapshot.Source
	limit int64
	err   error
}

type flakyReader struct {
	io.ReadCloser
	left int64
	err  error
}

func (r *flakyReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, r.err
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.ReadCloser.Read(p)
	r.left -= int64(n)
	return n, err
}

func (s flakySource) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	rc, err := s.Source.Open(ctx, name)
	if err != nil || !strings.HasPrefix(name, "data/") {
		return rc, err
	}
	return &flakyReader{ReadCloser: rc, left: s.limit, err: s.err}, nil
}

func TestFileReader_SourceReadErrorIsNotCorruption(t *testing.T) {
	t.Parallel()
	raw := gz(t, strings.Repeat(line("x"), 2000))
	dir := writeExport(t, exportSpec{files: []dataSpec{{name: dataA, raw: raw, count: 2000}}})
	dirSrc, err := snapshot.NewDirSource(dir)
	require.NoError(t, err)
	reset := errors.New("connection reset by peer")
	for _, limit := range []int64{0, 5, int64(len(raw) / 2)} {
		t.Run(strconv.FormatInt(limit, 10), func(t *testing.T) {
			e, err := snapshot.Open(t.Context(), flakySource{Source: dirSrc, limit: limit, err: reset})
			require.NoError(t, err)
			_, err = readAll(t, e, e.Files[0])
			requireFileError(t, err, reset, dataA, 0)
			require.NotErrorIs(t, err, snapshot.ErrCorrupt, "a failing source is not a corrupt file")
			require.NotErrorIs(t, err, snapshot.ErrChecksum)
		})
	}
}
