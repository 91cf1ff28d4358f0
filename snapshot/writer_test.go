package snapshot_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/snapshot"
)

var exportTime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

const tableArn = "arn:aws:dynamodb:eu-west-2:123456789012:table/" + tenure.TableName

// sampleItems returns n tenure items plus a few that exercise every type.
func sampleItems(n int) []ddbjson.Item {
	g := tenure.NewGenerator(7)
	var items []ddbjson.Item
	for range n {
		items = append(items, g.Item())
	}
	items = append(items, ddbjson.Item{
		"id":  &types.AttributeValueMemberS{Value: "every-type"},
		"nul": &types.AttributeValueMemberS{Value: "a\x00b"},
		"n":   &types.AttributeValueMemberN{Value: "12345678901234567890123456789012345678"},
		"b":   &types.AttributeValueMemberB{Value: []byte{0, 1}},
		"ss":  &types.AttributeValueMemberSS{Value: []string{"z", "a\x00"}},
		"ns":  &types.AttributeValueMemberNS{Value: []string{"2", "-1.5"}},
		"bs":  &types.AttributeValueMemberBS{Value: [][]byte{{9}, {}}},
		"l":   &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberNULL{Value: true}}},
		"m":   &types.AttributeValueMemberM{Value: ddbjson.Item{"t": &types.AttributeValueMemberBOOL{Value: true}}},
	})
	return items
}

// encodeAll returns the items' canonical encodings, sorted.
func encodeAll(t *testing.T, items []ddbjson.Item) []string {
	t.Helper()
	var out []string
	for _, it := range items {
		b, err := ddbjson.EncodeItem(it)
		require.NoError(t, err)
		out = append(out, string(b))
	}
	sort.Strings(out)
	return out
}

func writeSample(t *testing.T, sink snapshot.Sink, cfg snapshot.WriterConfig, items []ddbjson.Item) (*snapshot.Writer, snapshot.Summary) {
	t.Helper()
	w, err := snapshot.NewWriter(t.Context(), sink, cfg)
	require.NoError(t, err)
	for _, it := range items {
		require.NoError(t, w.Write(it))
	}
	s, err := w.Close(t.Context())
	require.NoError(t, err)
	return w, s
}

// readExport reads every item of every data file of e.
func readExport(t *testing.T, e *snapshot.Export) []ddbjson.Item {
	t.Helper()
	var all []ddbjson.Item
	for _, f := range e.Files {
		items, err := readAll(t, e, f)
		require.NoError(t, err, f.Name)
		require.Len(t, items, int(f.ItemCount))
		all = append(all, items...)
	}
	return all
}

func TestWriter_RoundTrip(t *testing.T) {
	t.Parallel()
	items := sampleItems(500)
	for _, tc := range []struct {
		name string
		cfg  snapshot.WriterConfig
	}{
		{"defaults", snapshot.WriterConfig{}},
		{"md5 checksums and prefix", snapshot.WriterConfig{ChecksumSuffix: ".md5", Prefix: "/exports/nightly/", Files: 3}},
		{"one file", snapshot.WriterConfig{Files: 1, Bucket: "bkt"}},
		{"more files than items", snapshot.WriterConfig{Files: 700}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.TableArn, cfg.ExportTime = tableArn, exportTime
			dir := t.TempDir()
			w, sum := writeSample(t, snapshot.DirSink(dir), cfg, items)
			suffix := cfg.ChecksumSuffix
			if suffix == "" {
				suffix = ".checksum"
			}
			files := cfg.Files
			if files == 0 {
				files = 4
			}

			e, err := openDir(t, dir)
			require.NoError(t, err)
			require.Equal(t, []string{"manifest-summary" + suffix, "manifest-files" + suffix}, e.Verified)
			require.Equal(t, int64(len(items)), e.Summary.ItemCount)
			require.Equal(t, sum.ExportArn, e.Summary.ExportArn)
			require.Equal(t, tenure.TableName, e.Summary.TableName())
			require.Equal(t, exportTime, e.Summary.ExportTime.UTC())
			require.Equal(t, "FULL_EXPORT", e.Summary.ExportType)
			require.Equal(t, w.FolderKey()+"/manifest-files.json", e.Summary.ManifestFilesS3Key)
			require.True(t, strings.HasSuffix(w.FolderKey(), "/AWSDynamoDB/"+w.ExportID()) || w.FolderKey() == "AWSDynamoDB/"+w.ExportID())
			if cfg.Prefix != "" {
				require.Equal(t, "exports/nightly", *e.Summary.S3Prefix)
				require.True(t, strings.HasPrefix(e.Files[0].DataFileS3Key, "exports/nightly/AWSDynamoDB/"))
			}
			require.Len(t, e.Files, files)
			for _, f := range e.Files {
				require.Regexp(t, `^data/[a-z2-7]{26}\.json\.gz$`, f.Name)
				require.Regexp(t, `^[0-9a-f]{32}-1$`, f.ETag)
			}
			_, err = os.Stat(filepath.Join(dir, "_started"))
			require.NoError(t, err)
			raw, err := os.ReadFile(filepath.Join(dir, snapshot.SummaryName))
			require.NoError(t, err)
			require.NotEqual(t, byte('\n'), raw[len(raw)-1], "AWS writes the summary without a newline")

			require.Equal(t, encodeAll(t, items), encodeAll(t, readExport(t, e)))
		})
	}
}

func TestWriter_EmptyExport(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeSample(t, snapshot.DirSink(dir), snapshot.WriterConfig{TableArn: tableArn, ExportTime: exportTime, Files: 2}, nil)
	e, err := openDir(t, dir)
	require.NoError(t, err)
	require.Len(t, e.Files, 2)
	require.Empty(t, readExport(t, e))
}

func TestNewWriter_RejectsBadConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]snapshot.WriterConfig{
		"no table":   {ExportTime: exportTime},
		"no time":    {TableArn: tableArn},
		"bad suffix": {TableArn: tableArn, ExportTime: exportTime, ChecksumSuffix: ".sha1"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := snapshot.NewWriter(t.Context(), snapshot.DirSink(t.TempDir()), cfg)
			require.Error(t, err)
		})
	}
}

func TestWriter_WriteAfterCloseFails(t *testing.T) {
	t.Parallel()
	w, err := snapshot.NewWriter(t.Context(), snapshot.DirSink(t.TempDir()), snapshot.WriterConfig{TableArn: tableArn, ExportTime: exportTime})
	require.NoError(t, err)
	_, err = w.Close(t.Context())
	require.NoError(t, err)
	require.Error(t, w.Write(ddbjson.Item{"id": &types.AttributeValueMemberS{Value: "late"}}))
	_, err = w.Close(t.Context())
	require.Error(t, err)
}

func TestWriter_RejectsBadItem(t *testing.T) {
	t.Parallel()
	w, err := snapshot.NewWriter(t.Context(), snapshot.DirSink(t.TempDir()), snapshot.WriterConfig{TableArn: tableArn, ExportTime: exportTime})
	require.NoError(t, err)
	err = w.Write(ddbjson.Item{"n": &types.AttributeValueMemberN{Value: "not a number"}})
	require.ErrorIs(t, err, ddbjson.ErrInvalidNumber)
	_, err = w.Close(t.Context())
	require.NoError(t, err)
}

// memSink and fakeS3 hold an export in memory, as S3 would.
type memSink struct {
	mu    sync.Mutex
	files map[string][]byte
}

type memFile struct {
	bytes.Buffer
	name string
	sink *memSink
}

func (f *memFile) Close() error {
	f.sink.mu.Lock()
	defer f.sink.mu.Unlock()
	f.sink.files[f.name] = f.Bytes()
	return nil
}

func (s *memSink) Create(_ context.Context, name string) (io.WriteCloser, error) {
	return &memFile{name: name, sink: s}, nil
}

// fakeS3 is an S3API with one func field per method.
type fakeS3 struct {
	getObject func(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

func (f fakeS3) GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return f.getObject(ctx, in, opts...)
}

// bucket serves objects from a map of key to bytes, and NoSuchKey for others.
func bucket(t *testing.T, name string, objects map[string][]byte, requested *[]string) fakeS3 {
	return fakeS3{getObject: func(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
		require.Equal(t, name, *in.Bucket)
		if requested != nil {
			*requested = append(*requested, *in.Key)
		}
		b, ok := objects[*in.Key]
		if !ok {
			return nil, &s3types.NoSuchKey{Message: new(string)}
		}
		return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(b))}, nil
	}}
}

func TestS3Source_RoundTrip(t *testing.T) {
	t.Parallel()
	sink := &memSink{files: map[string][]byte{}}
	items := sampleItems(50)
	w, _ := writeSample(t, sink, snapshot.WriterConfig{TableArn: tableArn, ExportTime: exportTime, Prefix: "p", Files: 2}, items)
	objects := map[string][]byte{}
	for name, b := range sink.files {
		objects[w.FolderKey()+"/"+name] = b
	}
	var requested []string
	src, err := snapshot.NewS3Source(bucket(t, "bkt", objects, &requested), "s3://bkt/"+w.FolderKey())
	require.NoError(t, err)
	require.Equal(t, "s3://bkt/"+w.FolderKey()+"/", src.String())
	e, err := snapshot.Open(t.Context(), src)
	require.NoError(t, err)
	require.Equal(t, encodeAll(t, items), encodeAll(t, readExport(t, e)))
	require.Contains(t, requested, w.FolderKey()+"/manifest-files.md5", "the absent .md5 files are looked for and skipped")
}

func TestS3Source_NoSuchKeyIsMissingFile(t *testing.T) {
	t.Parallel()
	sink := &memSink{files: map[string][]byte{}}
	w, _ := writeSample(t, sink, snapshot.WriterConfig{TableArn: tableArn, ExportTime: exportTime, Files: 1}, sampleItems(3))
	objects := map[string][]byte{}
	var dataName string
	for name, b := range sink.files {
		if strings.HasPrefix(name, "data/") {
			dataName = name
			continue // the data file is gone
		}
		objects[w.FolderKey()+"/"+name] = b
	}
	src, err := snapshot.NewS3Source(bucket(t, "bkt", objects, nil), "s3://bkt/"+w.FolderKey()+"/")
	require.NoError(t, err)
	e, err := snapshot.Open(t.Context(), src)
	require.NoError(t, err)
	_, err = e.OpenFile(t.Context(), e.Files[0])
	requireFileError(t, err, snapshot.ErrMissingFile, dataName, 0)
	require.Contains(t, err.Error(), "s3://bkt/")

	rc, err := src.Open(t.Context(), "nothing-here")
	require.Nil(t, rc)
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.Contains(t, err.Error(), "s3://bkt/"+w.FolderKey()+"/nothing-here")

	delete(objects, w.FolderKey()+"/"+snapshot.SummaryName)
	_, err = snapshot.Open(t.Context(), src)
	requireFileError(t, err, snapshot.ErrMissingFile, snapshot.SummaryName, 0)
}

func TestS3Source_OtherErrorsPassThrough(t *testing.T) {
	t.Parallel()
	boom := errors.New("access denied")
	src, err := snapshot.NewS3Source(fakeS3{getObject: func(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
		return nil, boom
	}}, "s3://bkt")
	require.NoError(t, err)
	_, err = snapshot.Open(t.Context(), src)
	require.ErrorIs(t, err, boom)
	require.NotErrorIs(t, err, snapshot.ErrMissingFile)
	requireFileError(t, err, boom, snapshot.SummaryName, 0)
}

func TestS3Source_RefusesNamesOutside(t *testing.T) {
	t.Parallel()
	called := false
	src, err := snapshot.NewS3Source(fakeS3{getObject: func(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
		called = true
		return nil, errors.New("unreachable")
	}}, "s3://bkt/folder")
	require.NoError(t, err)
	for _, name := range []string{"../other/x", "/x", "a//b", `a\b`, ".."} {
		_, err := src.Open(t.Context(), name)
		require.ErrorIs(t, err, snapshot.ErrOutsideExport, name)
	}
	require.False(t, called)
}

func TestParseS3URI_Forms(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ uri, bucket, key string }{
		{"s3://b", "b", ""},
		{"s3://b/", "b", ""},
		{"s3://b/p/AWSDynamoDB/x/", "b", "p/AWSDynamoDB/x/"},
	} {
		b, k, err := snapshot.ParseS3URI(tc.uri)
		require.NoError(t, err)
		require.Equal(t, tc.bucket, b)
		require.Equal(t, tc.key, k)
	}
	for _, uri := range []string{"", "b/key", "s3://", "s3:///key", "https://b/key"} {
		_, _, err := snapshot.ParseS3URI(uri)
		require.Error(t, err, uri)
	}
}

func TestNewDirSource_Rejects(t *testing.T) {
	t.Parallel()
	_, err := snapshot.NewDirSource(filepath.Join(t.TempDir(), "absent"))
	require.ErrorIs(t, err, fs.ErrNotExist)
	f := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(f, nil, 0o644))
	_, err = snapshot.NewDirSource(f)
	require.ErrorContains(t, err, "not a directory")
}

func TestWriter_CloseRightAfterNewDoesNotHang(t *testing.T) {
	t.Parallel()
	// Regression: the compressing goroutine read the channel field after
	// Close had set it to nil, when it started late, and blocked forever.
	// A hang is a writer that makes no progress for 30 s, not 200 writers
	// that take long in all on a busy machine.
	done := make(chan error, 1)
	progress := make(chan struct{}, 1)
	go func() {
		for range 200 {
			w, err := snapshot.NewWriter(t.Context(), &memSink{files: map[string][]byte{}},
				snapshot.WriterConfig{TableArn: tableArn, ExportTime: exportTime, Files: 16})
			if err != nil {
				done <- err
				return
			}
			if _, err := w.Close(t.Context()); err != nil {
				done <- err
				return
			}
			select {
			case progress <- struct{}{}:
			default:
			}
		}
		done <- nil
	}()
	for {
		select {
		case err := <-done:
			require.NoError(t, err)
			return
		case <-progress:
		case <-time.After(30 * time.Second):
			t.Fatal("Writer.Close hangs")
		}
	}
}

// failSink fails Create for names with prefix failName, and writes to
// files named failWrite.
type failSink struct {
	memSink
	failName, failWrite string
}

type failingFile struct{}

func (failingFile) Write([]byte) (int, error) { return 0, errors.New("disk full") }
func (failingFile) Close() error              { return nil }

func (s *failSink) Create(ctx context.Context, name string) (io.WriteCloser, error) {
	if s.failName != "" && strings.HasPrefix(name, s.failName) {
		return nil, errors.New("permission denied")
	}
	if name == s.failWrite {
		return failingFile{}, nil
	}
	return s.memSink.Create(ctx, name)
}

func TestWriter_SinkErrors(t *testing.T) {
	t.Parallel()
	cfg := snapshot.WriterConfig{TableArn: tableArn, ExportTime: exportTime, Files: 3}
	for _, tc := range []struct {
		name      string
		sink      *failSink
		failsOpen bool
		msg       string
	}{
		{"_started", &failSink{failName: "_started"}, true, "writing _started: permission denied"},
		{"data file", &failSink{failName: "data/"}, true, "permission denied"},
		{"manifest files", &failSink{failName: snapshot.FilesName}, false, "writing manifest-files.json: permission denied"},
		{"summary checksum", &failSink{failName: "manifest-summary.checksum"}, false, "writing manifest-summary.checksum"},
		{"summary write", &failSink{failWrite: snapshot.SummaryName}, false, "writing manifest-summary.json: disk full"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.sink.files = map[string][]byte{}
			w, err := snapshot.NewWriter(t.Context(), tc.sink, cfg)
			if tc.failsOpen {
				require.ErrorContains(t, err, tc.msg)
				return
			}
			require.NoError(t, err)
			require.NoError(t, w.Write(ddbjson.Item{"id": &types.AttributeValueMemberS{Value: "1"}}))
			_, err = w.Close(t.Context())
			require.ErrorContains(t, err, tc.msg)
		})
	}
}

func TestWriter_DataFileWriteError(t *testing.T) {
	t.Parallel()
	// The compressor's error surfaces in Close, naming the file.
	probe := &memSink{files: map[string][]byte{}}
	cfg := snapshot.WriterConfig{TableArn: tableArn, ExportTime: exportTime, Files: 1}
	w, err := snapshot.NewWriter(t.Context(), probe, cfg)
	require.NoError(t, err)
	_, err = w.Close(t.Context())
	require.NoError(t, err)
	var dataName string
	for name := range probe.files {
		if strings.HasPrefix(name, "data/") {
			dataName = name
		}
	}
	sink := &failSink{failWrite: dataName, memSink: memSink{files: map[string][]byte{}}}
	w, err = snapshot.NewWriter(t.Context(), sink, cfg)
	require.NoError(t, err)
	for _, it := range sampleItems(300) {
		require.NoError(t, w.Write(it))
	}
	_, err = w.Close(t.Context())
	require.ErrorContains(t, err, "writing "+dataName+": disk full")
	require.NotContains(t, sink.files, snapshot.SummaryName, "no summary for a broken export")
}
