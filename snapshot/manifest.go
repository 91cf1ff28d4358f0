package snapshot

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"
)

// The manifest file names inside an export folder.
const (
	SummaryName    = "manifest-summary.json"
	FilesName      = "manifest-files.json"
	maxSummarySize = 1 << 20
	// sharedDataDir is the folder, next to the export folders, where AWS
	// writes the data files of incremental exports.
	sharedDataDir = "data"
)

// checksumSuffixes are the names AWS has used for manifest checksums: newer
// exports write .checksum, older ones (2022) .md5. Either may be absent.
var checksumSuffixes = []string{".checksum", ".md5"}

// Summary is manifest-summary.json. Unknown fields are ignored; every field
// but ManifestFilesS3Key is optional.
type Summary struct {
	Version            string     `json:"version"`
	ExportArn          string     `json:"exportArn"`
	StartTime          *time.Time `json:"startTime,omitempty"`
	EndTime            *time.Time `json:"endTime,omitempty"`
	TableArn           string     `json:"tableArn"`
	TableID            string     `json:"tableId"`
	ExportTime         *time.Time `json:"exportTime,omitempty"`
	ExportFromTime     *time.Time `json:"exportFromTime,omitempty"`
	ExportToTime       *time.Time `json:"exportToTime,omitempty"`
	S3Bucket           string     `json:"s3Bucket"`
	S3Prefix           *string    `json:"s3Prefix"`
	S3SseAlgorithm     string     `json:"s3SseAlgorithm"`
	S3SseKmsKeyID      *string    `json:"s3SseKmsKeyId"`
	ManifestFilesS3Key string     `json:"manifestFilesS3Key"`
	BilledSizeBytes    int64      `json:"billedSizeBytes"`
	ItemCount          int64      `json:"itemCount"`
	OutputFormat       string     `json:"outputFormat"`
	OutputView         string     `json:"outputView,omitempty"`
	ExportType         string     `json:"exportType,omitempty"`
}

// TableName is the table's name, taken from TableArn ("" if there is none).
func (s Summary) TableName() string {
	_, name, ok := strings.Cut(s.TableArn, ":table/")
	if !ok {
		return ""
	}
	name, _, _ = strings.Cut(name, "/")
	return name
}

// DataFile is one line of manifest-files.json.
type DataFile struct {
	ItemCount     int64  `json:"itemCount"`
	MD5Checksum   string `json:"md5Checksum"`
	ETag          string `json:"etag"`
	DataFileS3Key string `json:"dataFileS3Key"`
	// Name is DataFileS3Key relative to the export folder. A data file of
	// an incremental export in the shared data folder next to the export
	// folder is named ../data/<file>.
	Name string `json:"-"`
}

// Export is an export whose manifests have been read and verified.
type Export struct {
	Summary Summary
	Files   []DataFile
	// Verified lists the manifest checksum files that were present and matched.
	Verified []string
	src      Source
}

// Source returns where the export is read from.
func (e *Export) Source() Source { return e.src }

// ID is the export's identity: its ARN, or the folder key when the summary
// has no ARN.
func (e *Export) ID() string {
	if e.Summary.ExportArn != "" {
		return e.Summary.ExportArn
	}
	return path.Dir(e.Summary.ManifestFilesS3Key)
}

// ExportType is the kind of export a summary describes: its exportType.
type ExportType string

// The export types of ExportTableToPointInTime.
const (
	ExportTypeFull        ExportType = "FULL_EXPORT"
	ExportTypeIncremental ExportType = "INCREMENTAL_EXPORT"
)

// Type is the export's type, read from the summary's exportType and never
// guessed from the data. Summaries written before incremental exports
// existed have no exportType: those are full exports, unless they carry a
// field only incremental exports have (exportFromTime, exportToTime,
// outputView), which makes the type ambiguous and the summary corrupt. An
// exportType other than FULL_EXPORT and INCREMENTAL_EXPORT is
// [ErrUnsupported]. Errors are [*FileError]s naming manifest-summary.json.
func (s Summary) Type() (ExportType, error) {
	switch t := ExportType(s.ExportType); t {
	case ExportTypeFull, ExportTypeIncremental:
		return t, nil
	case "":
		if s.ExportFromTime != nil || s.ExportToTime != nil || s.OutputView != "" {
			return "", &FileError{File: SummaryName, Err: fmt.Errorf("%w: exportType is missing, but the summary has "+
				"exportFromTime, exportToTime or outputView, which only incremental exports have: "+
				"it does not say whether the export is full or incremental", ErrCorrupt)}
		}
		return ExportTypeFull, nil
	default:
		return "", &FileError{File: SummaryName, Err: fmt.Errorf("%w: exportType %q is neither %s nor %s",
			ErrUnsupported, s.ExportType, ExportTypeFull, ExportTypeIncremental)}
	}
}

// ReadSummary reads manifest-summary.json from src, verifies it against its
// checksum file when there is one, and returns it, so that a caller can
// learn the export's [Summary.Type] before opening it with [Open] or
// [OpenIncremental].
func ReadSummary(ctx context.Context, src Source) (Summary, error) {
	e := &Export{src: src}
	if err := e.readSummary(ctx); err != nil {
		return Summary{}, err
	}
	return e.Summary, nil
}

// Open reads the manifests of the export in src and verifies them: their
// checksum files where present, the format (DYNAMODB_JSON full exports only;
// an incremental export is [ErrUnsupported] here, see [OpenIncremental]),
// every data file key (inside the export folder, listed once), and the sum of
// the per-file item counts against the summary. It reads no data file.
func Open(ctx context.Context, src Source) (*Export, error) {
	return openManifests(ctx, src, ExportTypeFull)
}

// openManifests reads and verifies the manifests of an export of type want.
func openManifests(ctx context.Context, src Source, want ExportType) (*Export, error) {
	e := &Export{src: src}
	if err := e.readSummary(ctx); err != nil {
		return nil, err
	}
	if err := e.checkSummary(want); err != nil {
		if _, ok := errors.AsType[*FileError](err); ok {
			return nil, err
		}
		return nil, &FileError{File: SummaryName, Err: err}
	}
	if err := e.readFiles(ctx, want); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *Export) readSummary(ctx context.Context) error {
	raw, err := e.readVerified(ctx, SummaryName, maxSummarySize)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &e.Summary); err != nil {
		return &FileError{File: SummaryName, Err: fmt.Errorf("%w: %v", ErrCorrupt, err)}
	}
	return nil
}

func (e *Export) checkSummary(want ExportType) error {
	s := e.Summary
	typ, err := s.Type()
	if err != nil {
		return err
	}
	switch {
	case typ != want && typ == ExportTypeIncremental:
		return fmt.Errorf("%w: this is an incremental export (exportType %s); a full export (%s) is needed here",
			ErrUnsupported, s.ExportType, ExportTypeFull)
	case typ != want:
		return fmt.Errorf("%w: this is a full export (exportType %s); an incremental export (%s) is needed here",
			ErrUnsupported, cmp.Or(s.ExportType, "absent"), ExportTypeIncremental)
	case s.OutputFormat == "ION":
		return fmt.Errorf("%w: ION exports cannot be read (no Amazon Ion library is available); export again with ExportFormat DYNAMODB_JSON", ErrUnsupported)
	case s.OutputFormat != "" && s.OutputFormat != "DYNAMODB_JSON":
		return fmt.Errorf("%w: output format %q (want DYNAMODB_JSON)", ErrUnsupported, s.OutputFormat)
	case s.ManifestFilesS3Key == "":
		return fmt.Errorf("%w: manifestFilesS3Key is missing", ErrCorrupt)
	case path.Base(s.ManifestFilesS3Key) != FilesName:
		return fmt.Errorf("%w: manifestFilesS3Key %q does not name %s", ErrCorrupt, s.ManifestFilesS3Key, FilesName)
	case s.ItemCount < 0:
		return fmt.Errorf("%w: negative itemCount", ErrCorrupt)
	case want == ExportTypeIncremental:
		return checkIncremental(s)
	}
	return nil
}

// folderKey is the S3 key of the export folder, as the manifests spell it.
func (e *Export) folderKey() string { return path.Dir(e.Summary.ManifestFilesS3Key) }

// relName maps a bucket-relative key from a manifest to a name inside the
// export folder. Keys carry the full prefix; the folder is identified by the
// manifest's own key, so an export copied elsewhere still resolves. With
// shared set (incremental exports), a key may also lie in the shared data
// folder next to the export folder, <prefix>/AWSDynamoDB/data/: its name
// is then ../data/<rest>.
func (e *Export) relName(key string, shared bool) (string, error) {
	folder := e.folderKey()
	dir := folder + "/"
	if dir == "./" {
		dir = ""
	}
	rel, ok := strings.CutPrefix(key, dir)
	if !ok && shared && folder != "." {
		up := path.Dir(folder) + "/"
		if up == "./" {
			up = ""
		}
		if rest, inData := strings.CutPrefix(key, up+sharedDataDir+"/"); inData {
			if err := checkName(rest); err != nil {
				return "", err
			}
			return "../" + sharedDataDir + "/" + rest, nil
		}
	}
	if !ok {
		return "", fmt.Errorf("%w: %q is not under %q", ErrOutsideExport, key, dir)
	}
	if err := checkName(rel); err != nil {
		return "", err
	}
	return rel, nil
}

func (e *Export) readFiles(ctx context.Context, typ ExportType) error {
	raw, err := e.readVerified(ctx, FilesName, 256<<20)
	if err != nil {
		return err
	}
	seen := make(map[string]bool)
	var total int64
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 64<<10), len(raw)+1)
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var f DataFile
		ferr := func(err error) error { return &FileError{File: FilesName, Line: line, Err: err} }
		if err := json.Unmarshal(b, &f); err != nil {
			return ferr(fmt.Errorf("%w: %v", ErrCorrupt, err))
		}
		if f.DataFileS3Key == "" {
			return ferr(fmt.Errorf("%w: dataFileS3Key is missing", ErrCorrupt))
		}
		if f.ItemCount < 0 {
			return ferr(fmt.Errorf("%w: negative itemCount", ErrCorrupt))
		}
		if strings.HasSuffix(f.DataFileS3Key, ".ion.gz") {
			return ferr(fmt.Errorf("%w: %s is an ION data file", ErrUnsupported, f.DataFileS3Key))
		}
		if f.Name, err = e.relName(f.DataFileS3Key, typ == ExportTypeIncremental); err != nil {
			return ferr(err)
		}
		if seen[f.Name] {
			return ferr(fmt.Errorf("%w: %s is listed twice", ErrCorrupt, f.DataFileS3Key))
		}
		seen[f.Name] = true
		total += f.ItemCount
		e.Files = append(e.Files, f)
	}
	if total != e.Summary.ItemCount {
		return &FileError{File: FilesName, Err: fmt.Errorf("%w: data files hold %d items, %s says %d",
			ErrCount, total, SummaryName, e.Summary.ItemCount)}
	}
	return nil
}

// readVerified reads a manifest whole and checks it against its checksum
// file when one exists.
func (e *Export) readVerified(ctx context.Context, name string, limit int64) ([]byte, error) {
	raw, err := readAll(ctx, e.src, name, limit)
	if err != nil {
		return nil, err
	}
	for _, suffix := range checksumSuffixes {
		want, err := readAll(ctx, e.src, name[:len(name)-len(".json")]+suffix, 1024)
		if errors.Is(err, ErrMissingFile) {
			continue
		}
		if err != nil {
			return nil, err
		}
		sum := md5.Sum(raw)
		got := base64.StdEncoding.EncodeToString(sum[:])
		if w := strings.TrimSpace(string(want)); w != got {
			return nil, &FileError{File: name, Err: fmt.Errorf("%w: MD5 is %s, %s%s says %s",
				ErrChecksum, got, strings.TrimSuffix(name, ".json"), suffix, w)}
		}
		e.Verified = append(e.Verified, strings.TrimSuffix(name, ".json")+suffix)
	}
	return raw, nil
}

func readAll(ctx context.Context, src Source, name string, limit int64) ([]byte, error) {
	rc, err := src.Open(ctx, name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &FileError{File: name, Err: fmt.Errorf("%w (looked in %s)", ErrMissingFile, src)}
		}
		return nil, &FileError{File: name, Err: err}
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, &FileError{File: name, Err: err}
	}
	if int64(len(raw)) > limit {
		return nil, &FileError{File: name, Err: fmt.Errorf("%w: larger than %d bytes", ErrCorrupt, limit)}
	}
	return raw, nil
}
