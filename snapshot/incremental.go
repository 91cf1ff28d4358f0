package snapshot

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ViewType is what an incremental export holds of each changed item: the
// summary's outputView, the request's ExportViewType.
type ViewType string

// The view types of incremental exports.
const (
	// ViewNewAndOldImages: each change has the item as the window leaves
	// it (NewImage) and as the window found it (OldImage), each absent
	// where the item did not exist. AWS's default.
	ViewNewAndOldImages ViewType = "NEW_AND_OLD_IMAGES"
	// ViewNewImage: each change has only NewImage.
	ViewNewImage ViewType = "NEW_IMAGE"
)

// viewOf reads the summary's outputView. The API's enum is NEW_IMAGE while
// AWS's prose says NEW_IMAGES; which spelling a manifest carries is not
// documented, so both are read as [ViewNewImage].
func viewOf(s Summary) (ViewType, error) {
	switch s.OutputView {
	case string(ViewNewAndOldImages):
		return ViewNewAndOldImages, nil
	case string(ViewNewImage), "NEW_IMAGES":
		return ViewNewImage, nil
	case "":
		return "", fmt.Errorf("%w: outputView is missing (an incremental export says %s or %s)",
			ErrCorrupt, ViewNewAndOldImages, ViewNewImage)
	}
	return "", fmt.Errorf("%w: outputView %q is neither %s nor %s", ErrUnsupported, s.OutputView, ViewNewAndOldImages, ViewNewImage)
}

// checkIncremental checks what an incremental summary must have besides
// what every summary has: the window and the view.
func checkIncremental(s Summary) error {
	switch {
	case s.ExportFromTime == nil:
		return fmt.Errorf("%w: exportFromTime is missing", ErrCorrupt)
	case s.ExportToTime == nil:
		return fmt.Errorf("%w: exportToTime is missing", ErrCorrupt)
	case !s.ExportToTime.After(*s.ExportFromTime):
		return fmt.Errorf("%w: exportToTime %s is not after exportFromTime %s", ErrCorrupt,
			s.ExportToTime.UTC().Format(time.RFC3339Nano), s.ExportFromTime.UTC().Format(time.RFC3339Nano))
	}
	_, err := viewOf(s)
	return err
}

// IncrementalExport is an incremental export (ExportType
// INCREMENTAL_EXPORT) whose manifests have been read and verified. It holds
// one [Change] per item written in the window [From, To).
type IncrementalExport struct {
	Summary Summary
	Files   []DataFile
	// Verified lists the manifest checksum files that were present and matched.
	Verified []string
	// From and To are the window: exportFromTime, inclusive, and
	// exportToTime, exclusive.
	From, To time.Time
	// View is the summary's outputView.
	View ViewType

	src    Source
	shared Source // the folder above src, for the shared data folder; nil when no file is there
}

// OpenIncremental reads the manifests of the incremental export in src,
// the export folder <prefix>/AWSDynamoDB/<ExportId>/, and verifies them as
// [Open] does a full export's, and also that the summary gives the window
// (exportFromTime, exportToTime) and the view (outputView). A full export is
// [ErrUnsupported] here.
//
// AWS writes an incremental export's data files to the shared folder
// <prefix>/AWSDynamoDB/data/, next to the export folder; they are known
// from manifest-files.json alone (the shared folder holds other exports'
// files too), and reading them needs src to be a [ParentSource]. Data file
// keys inside the export folder are read too.
func OpenIncremental(ctx context.Context, src Source) (*IncrementalExport, error) {
	m, err := openManifests(ctx, src, ExportTypeIncremental)
	if err != nil {
		return nil, err
	}
	view, _ := viewOf(m.Summary) // checked by openManifests
	e := &IncrementalExport{
		Summary: m.Summary, Files: m.Files, Verified: m.Verified,
		From: m.Summary.ExportFromTime.UTC(), To: m.Summary.ExportToTime.UTC(), View: view,
		src: src,
	}
	for _, f := range e.Files {
		if !strings.HasPrefix(f.Name, "../") {
			continue
		}
		ps, ok := src.(ParentSource)
		if !ok {
			return nil, &FileError{File: FilesName, Err: fmt.Errorf("%w: the data files are in the shared data folder "+
				"next to the export folder, and %s cannot open the folder above it", ErrMissingFile, src)}
		}
		if e.shared, err = ps.Parent(); err != nil {
			return nil, &FileError{File: FilesName, Err: fmt.Errorf("%w: the data files are in the shared data folder "+
				"next to the export folder: %v", ErrMissingFile, err)}
		}
		break
	}
	return e, nil
}

// Source returns where the export's manifests are read from.
func (e *IncrementalExport) Source() Source { return e.src }

// ID is the export's identity: its ARN, or the folder key when the summary
// has no ARN.
func (e *IncrementalExport) ID() string {
	if e.Summary.ExportArn != "" {
		return e.Summary.ExportArn
	}
	return path.Dir(e.Summary.ManifestFilesS3Key)
}

// OpenFile opens data file f for reading its changes. The checks are those
// of [FileReader] (the MD5 of the stored bytes and the item count at the
// end), and each line must be a change of this export's view.
func (e *IncrementalExport) OpenFile(ctx context.Context, f DataFile) (*ChangeReader, error) {
	src, name := e.src, f.Name
	if rest, ok := strings.CutPrefix(f.Name, "../"); ok {
		if e.shared == nil {
			return nil, &FileError{File: f.Name, Err: fmt.Errorf("%w: not a data file of this export", ErrOutsideExport)}
		}
		src, name = e.shared, rest
	}
	r, err := openDataFile(ctx, src, name, f)
	if err != nil {
		return nil, err
	}
	c := &ChangeReader{r: r}
	r.decode = func(line []byte) error {
		ch, err := decodeChange(line, e.View)
		c.change = ch
		return err
	}
	return c, nil
}

// Change is one line of an incremental export: the last write of one item
// in the window. AWS compacts the window: an item written several times has
// one change, its state at the end of the window.
type Change struct {
	// Keys is the item's primary key.
	Keys map[string]types.AttributeValue
	// WriteTime is the time of the item's last write in the window,
	// Metadata.WriteTimestampMicros: exact to the microsecond, in UTC, on
	// DynamoDB's clock.
	WriteTime time.Time
	// NewImage is the item at the end of the window; nil when the last
	// write deleted it.
	NewImage map[string]types.AttributeValue
	// OldImage is the item at the start of the window. It is nil when the
	// item did not exist then, and always with [ViewNewImage].
	OldImage map[string]types.AttributeValue
}

// Deleted reports whether the item no longer exists at the end of the window.
func (c Change) Deleted() bool { return c.NewImage == nil }

// ChangeReader streams the changes of one data file of an incremental
// export, with the checks and memory bounds of [FileReader]: Next returns
// false at the end or on the first problem, and Err then says which, as a
// [*FileError] naming the file and line. Not safe for concurrent use.
type ChangeReader struct {
	r      *FileReader
	change Change
}

// Next advances to the next change. Blank lines are skipped.
func (c *ChangeReader) Next() bool { return c.r.Next() }

// Change is the current change; it stays valid after Next.
func (c *ChangeReader) Change() Change { return c.change }

// Line is the 1-based line number of the current change.
func (c *ChangeReader) Line() int { return c.r.Line() }

// Err is nil after a complete, verified file, or the problem that stopped Next.
func (c *ChangeReader) Err() error { return c.r.Err() }

// BytesRead is the number of stored (compressed) bytes read so far.
func (c *ChangeReader) BytesRead() int64 { return c.r.BytesRead() }

// Close releases the file.
func (c *ChangeReader) Close() error { return c.r.Close() }
