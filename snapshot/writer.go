package snapshot

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// Sink is where a [Writer] puts an export's files. Names are relative to the
// export folder, as with [Source].
type Sink interface {
	Create(ctx context.Context, name string) (io.WriteCloser, error)
}

// DirSink writes an export folder on the local disk.
type DirSink string

// Create creates dir/name and its parent directories.
func (d DirSink) Create(_ context.Context, name string) (io.WriteCloser, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	p := filepath.Join(string(d), filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, err
	}
	return os.Create(p)
}

// WriterConfig describes the export a [Writer] produces.
type WriterConfig struct {
	// TableArn is the exported table's ARN (required).
	TableArn string
	// ExportTime is the instant the data reflects (required).
	ExportTime time.Time
	// Bucket and Prefix are recorded in the manifests, as AWS does; the keys
	// in the manifests start with Prefix. Bucket defaults to "ddbsync-export".
	Bucket string
	Prefix string
	// Files is the number of data files the items are spread over
	// (default 4). Real exports write one per table partition.
	Files int
	// ChecksumSuffix names the manifest checksum files: ".checksum" (the
	// default, as AWS writes today) or ".md5" (as it wrote in 2022).
	ChecksumSuffix string
}

// Writer writes an export in the layout of ExportTableToPointInTime:
// data/<name>.json.gz files, manifest-files.json, manifest-summary.json and
// their checksum files. Items are spread round-robin over the data files,
// which are compressed in parallel. Not safe for concurrent use.
type Writer struct {
	cfg      WriterConfig
	sink     Sink
	exportID string
	files    []*dataFileWriter
	next     int
	line     []byte
	start    time.Time
	closed   bool
}

// NewWriter starts an export in sink.
func NewWriter(ctx context.Context, sink Sink, cfg WriterConfig) (*Writer, error) {
	if cfg.TableArn == "" || cfg.ExportTime.IsZero() {
		return nil, errors.New("new export writer: TableArn and ExportTime are required")
	}
	if cfg.Files <= 0 {
		cfg.Files = 4
	}
	if cfg.Bucket == "" {
		cfg.Bucket = "ddbsync-export"
	}
	switch cfg.ChecksumSuffix {
	case "":
		cfg.ChecksumSuffix = ".checksum"
	case ".checksum", ".md5":
	default:
		return nil, fmt.Errorf("new export writer: checksum suffix %q (want .checksum or .md5)", cfg.ChecksumSuffix)
	}
	cfg.Prefix = strings.Trim(cfg.Prefix, "/")
	w := &Writer{cfg: cfg, sink: sink, start: time.Now().UTC()}
	// AWS export ids are the start time in epoch milliseconds and 8 hex digits.
	h := sha256.Sum256([]byte(cfg.TableArn + cfg.ExportTime.String()))
	w.exportID = fmt.Sprintf("%014d-%s", cfg.ExportTime.UnixMilli(), hex.EncodeToString(h[:4]))
	if err := w.create(ctx, "_started", nil); err != nil {
		return nil, err
	}
	for i := range cfg.Files {
		fh := sha256.Sum256(fmt.Appendf(nil, "%s/%d", w.exportID, i))
		name := "data/" + strings.ToLower(base32.StdEncoding.EncodeToString(fh[:])[:26]) + ".json.gz"
		f, err := newDataFileWriter(ctx, sink, name)
		if err != nil {
			w.abort()
			return nil, err
		}
		w.files = append(w.files, f)
	}
	return w, nil
}

// ExportID is the export's id, the last element of its folder key.
func (w *Writer) ExportID() string { return w.exportID }

// FolderKey is the S3 key of the export folder the manifests describe.
func (w *Writer) FolderKey() string {
	return path.Join(w.cfg.Prefix, "AWSDynamoDB", w.exportID)
}

// Write adds one item. It fails after [Writer.Close]: the data files are
// finished then, and a late item would be lost (or block, once a batch fills).
func (w *Writer) Write(item map[string]types.AttributeValue) error {
	if w.closed {
		return errors.New("writing export item: export writer already closed")
	}
	var err error
	w.line = append(w.line[:0], `{"Item":`...)
	if w.line, err = ddbjson.AppendItem(w.line, item); err != nil {
		return fmt.Errorf("writing export item: %w", err)
	}
	w.line = append(w.line, "}\n"...)
	f := w.files[w.next]
	w.next = (w.next + 1) % len(w.files)
	return f.add(w.line)
}

// Close finishes the data files and writes the manifests. The export is
// complete only when Close returns nil.
func (w *Writer) Close(ctx context.Context) (Summary, error) {
	if w.closed {
		return Summary{}, errors.New("export writer already closed")
	}
	w.closed = true
	var manifest bytes.Buffer
	var total int64
	var firstErr error
	for _, f := range w.files {
		df, err := f.close()
		if err != nil && firstErr == nil {
			firstErr = err
		}
		df.DataFileS3Key = w.FolderKey() + "/" + df.Name
		line, _ := json.Marshal(df)
		manifest.Write(line)
		manifest.WriteByte('\n')
		total += df.ItemCount
	}
	if firstErr != nil {
		return Summary{}, firstErr
	}
	if err := w.createWithChecksum(ctx, FilesName, manifest.Bytes()); err != nil {
		return Summary{}, err
	}
	end := time.Now().UTC()
	exportTime := w.cfg.ExportTime.UTC()
	var prefix *string
	if w.cfg.Prefix != "" {
		prefix = &w.cfg.Prefix
	}
	s := Summary{
		Version:            "2020-06-30",
		ExportArn:          w.cfg.TableArn + "/export/" + w.exportID,
		StartTime:          &w.start,
		EndTime:            &end,
		TableArn:           w.cfg.TableArn,
		TableID:            tableID(w.cfg.TableArn),
		ExportTime:         &exportTime,
		S3Bucket:           w.cfg.Bucket,
		S3Prefix:           prefix,
		S3SseAlgorithm:     "AES256",
		ManifestFilesS3Key: w.FolderKey() + "/" + FilesName,
		ItemCount:          total,
		OutputFormat:       "DYNAMODB_JSON",
		ExportType:         "FULL_EXPORT",
	}
	raw, err := json.Marshal(s)
	if err != nil {
		return Summary{}, err
	}
	// AWS writes the summary without a trailing newline.
	return s, w.createWithChecksum(ctx, SummaryName, raw)
}

func (w *Writer) abort() {
	for _, f := range w.files {
		_, _ = f.close()
	}
}

func (w *Writer) createWithChecksum(ctx context.Context, name string, data []byte) error {
	if err := w.create(ctx, name, data); err != nil {
		return err
	}
	sum := md5.Sum(data)
	return w.create(ctx, strings.TrimSuffix(name, ".json")+w.cfg.ChecksumSuffix,
		[]byte(base64.StdEncoding.EncodeToString(sum[:])))
}

func (w *Writer) create(ctx context.Context, name string, data []byte) error {
	f, err := w.sink.Create(ctx, name)
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}

func tableID(arn string) string {
	h := sha256.Sum256([]byte(arn))
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// dataFileWriter compresses one data file in its own goroutine, fed with
// batches of lines so that the channel costs little per item.
type dataFileWriter struct {
	name    string
	out     io.WriteCloser
	hash    *md5Writer
	gz      *gzip.Writer
	batch   []byte
	count   int64
	batches chan []byte
	free    chan []byte
	wg      sync.WaitGroup
	err     error // set by the goroutine, read after wg.Wait
}

const batchBytes = 256 << 10

func newDataFileWriter(ctx context.Context, sink Sink, name string) (*dataFileWriter, error) {
	out, err := sink.Create(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", name, err)
	}
	f := &dataFileWriter{name: name, out: out, batches: make(chan []byte, 2), free: make(chan []byte, 3)}
	f.hash = &md5Writer{w: out, h: md5.New()}
	f.gz = gzip.NewWriter(f.hash)
	for range 3 {
		f.free <- make([]byte, 0, batchBytes)
	}
	f.batch = <-f.free
	f.wg.Add(1)
	batches := f.batches // close sets the field to nil, maybe before this goroutine runs
	go func() {
		defer f.wg.Done()
		for b := range batches {
			if f.err == nil {
				_, f.err = f.gz.Write(b)
			}
			f.free <- b[:0]
		}
	}()
	return f, nil
}

func (f *dataFileWriter) add(line []byte) error {
	f.batch = append(f.batch, line...)
	f.count++
	if len(f.batch) >= batchBytes {
		f.batches <- f.batch
		f.batch = <-f.free
	}
	return nil
}

func (f *dataFileWriter) close() (DataFile, error) {
	if f.batches == nil {
		return DataFile{}, nil
	}
	if len(f.batch) > 0 {
		f.batches <- f.batch
	}
	close(f.batches)
	f.batches = nil
	f.wg.Wait()
	err := f.err
	if cerr := f.gz.Close(); err == nil {
		err = cerr
	}
	if cerr := f.out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return DataFile{}, fmt.Errorf("writing %s: %w", f.name, err)
	}
	sum := f.hash.h.Sum(nil)
	etag := md5.Sum(sum)
	return DataFile{
		ItemCount:   f.count,
		MD5Checksum: base64.StdEncoding.EncodeToString(sum),
		// The S3 ETag of a one-part multipart upload: md5(part md5) + "-1".
		ETag: hex.EncodeToString(etag[:]) + "-1",
		Name: f.name,
	}, nil
}

type md5Writer struct {
	w io.Writer
	h hash.Hash
}

func (m *md5Writer) Write(p []byte) (int, error) {
	m.h.Write(p)
	return m.w.Write(p)
}
