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
	cfg WriterConfig
	w   *exportWriter
}

// NewWriter starts an export in sink.
func NewWriter(ctx context.Context, sink Sink, cfg WriterConfig) (*Writer, error) {
	if cfg.TableArn == "" || cfg.ExportTime.IsZero() {
		return nil, errors.New("new export writer: TableArn and ExportTime are required")
	}
	// AWS export ids are the start time in epoch milliseconds and 8 hex digits.
	h := sha256.Sum256([]byte(cfg.TableArn + cfg.ExportTime.String()))
	id := fmt.Sprintf("%014d-%s", cfg.ExportTime.UnixMilli(), hex.EncodeToString(h[:4]))
	ew, err := newExportWriter(ctx, sink, layout{
		bucket: cfg.Bucket, prefix: cfg.Prefix, files: cfg.Files, checksumSuffix: cfg.ChecksumSuffix, exportID: id,
	})
	if err != nil {
		return nil, err
	}
	cfg.Bucket, cfg.Prefix = ew.bucket, ew.prefix
	return &Writer{cfg: cfg, w: ew}, nil
}

// ExportID is the export's id, the last element of its folder key.
func (w *Writer) ExportID() string { return w.w.exportID }

// FolderKey is the S3 key of the export folder the manifests describe.
func (w *Writer) FolderKey() string { return w.w.folderKey() }

// Write adds one item. It fails after [Writer.Close]: the data files are
// finished then, and a late item would be lost (or block, once a batch fills).
func (w *Writer) Write(item map[string]types.AttributeValue) error {
	if w.w.closed {
		return errors.New("writing export item: export writer already closed")
	}
	var err error
	line := append(w.w.line[:0], `{"Item":`...)
	if line, err = ddbjson.AppendItem(line, item); err != nil {
		return fmt.Errorf("writing export item: %w", err)
	}
	w.w.line = append(line, "}\n"...)
	return w.w.add(w.w.line)
}

// Close finishes the data files and writes the manifests. The export is
// complete only when Close returns nil.
func (w *Writer) Close(ctx context.Context) (Summary, error) {
	exportTime := w.cfg.ExportTime.UTC()
	return w.w.close(ctx, w.cfg.TableArn, func(s *Summary) {
		s.Version = "2020-06-30"
		s.ExportTime = &exportTime
		s.ExportType = string(ExportTypeFull)
	})
}

// layout places an export: where its files go in the sink and which keys
// the manifests give them.
type layout struct {
	bucket, prefix string
	files          int
	checksumSuffix string
	exportID       string
	// sharedData places the data files in the shared data folder next to
	// the export folder, as incremental exports have them. The sink is then
	// the AWSDynamoDB folder, and the export folder's files go to
	// <exportID>/ in it; otherwise the sink is the export folder.
	sharedData bool
}

// exportWriter is what full and incremental exports have in common: data
// files filled round-robin, then the manifests.
type exportWriter struct {
	layout
	// manifestDir is the folder of the manifests and _started in the sink
	// ("" for the sink itself); dataKeyDir is the key of the folder that
	// holds data/.
	manifestDir string
	dataKeyDir  string
	sink        Sink
	files       []*dataFileWriter
	next        int
	line        []byte
	start       time.Time
	closed      bool
}

func newExportWriter(ctx context.Context, sink Sink, l layout) (*exportWriter, error) {
	if l.files <= 0 {
		l.files = 4
	}
	if l.bucket == "" {
		l.bucket = "ddbsync-export"
	}
	switch l.checksumSuffix {
	case "":
		l.checksumSuffix = ".checksum"
	case ".checksum", ".md5":
	default:
		return nil, fmt.Errorf("new export writer: checksum suffix %q (want .checksum or .md5)", l.checksumSuffix)
	}
	l.prefix = strings.Trim(l.prefix, "/")
	w := &exportWriter{layout: l, sink: sink, start: time.Now().UTC()}
	w.dataKeyDir = w.folderKey()
	if l.sharedData {
		w.manifestDir, w.dataKeyDir = l.exportID, w.rootKey()
	}
	if err := w.create(ctx, w.manifestName("_started"), nil); err != nil {
		return nil, err
	}
	for i := range l.files {
		fh := sha256.Sum256(fmt.Appendf(nil, "%s/%d", w.exportID, i))
		name := sharedDataDir + "/" + strings.ToLower(base32.StdEncoding.EncodeToString(fh[:])[:26]) + ".json.gz"
		f, err := newDataFileWriter(ctx, sink, name)
		if err != nil {
			w.abort()
			return nil, err
		}
		w.files = append(w.files, f)
	}
	return w, nil
}

// rootKey is the key of the AWSDynamoDB folder, which holds the export
// folders and the shared data folder.
func (w *exportWriter) rootKey() string { return path.Join(w.prefix, "AWSDynamoDB") }

func (w *exportWriter) folderKey() string { return path.Join(w.rootKey(), w.exportID) }

// manifestName is the sink name of a file of the export folder.
func (w *exportWriter) manifestName(name string) string { return path.Join(w.manifestDir, name) }

// add writes one line to the next data file.
func (w *exportWriter) add(line []byte) error {
	f := w.files[w.next]
	w.next = (w.next + 1) % len(w.files)
	return f.add(line)
}

// close finishes the data files and writes the manifests; fill sets the
// summary fields particular to the export's type.
func (w *exportWriter) close(ctx context.Context, tableArn string, fill func(*Summary)) (Summary, error) {
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
		df.DataFileS3Key = w.dataKeyDir + "/" + df.Name
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
	var prefix *string
	if w.prefix != "" {
		prefix = &w.prefix
	}
	s := Summary{
		ExportArn:          tableArn + "/export/" + w.exportID,
		StartTime:          &w.start,
		EndTime:            &end,
		TableArn:           tableArn,
		TableID:            tableID(tableArn),
		S3Bucket:           w.bucket,
		S3Prefix:           prefix,
		S3SseAlgorithm:     "AES256",
		ManifestFilesS3Key: w.folderKey() + "/" + FilesName,
		ItemCount:          total,
		OutputFormat:       "DYNAMODB_JSON",
	}
	fill(&s)
	raw, err := json.Marshal(s)
	if err != nil {
		return Summary{}, err
	}
	// AWS writes the summary without a trailing newline.
	return s, w.createWithChecksum(ctx, SummaryName, raw)
}

func (w *exportWriter) abort() {
	for _, f := range w.files {
		_, _ = f.close()
	}
}

func (w *exportWriter) createWithChecksum(ctx context.Context, name string, data []byte) error {
	if err := w.create(ctx, w.manifestName(name), data); err != nil {
		return err
	}
	sum := md5.Sum(data)
	return w.create(ctx, w.manifestName(strings.TrimSuffix(name, ".json")+w.checksumSuffix),
		[]byte(base64.StdEncoding.EncodeToString(sum[:])))
}

func (w *exportWriter) create(ctx context.Context, name string, data []byte) error {
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
