package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// IncrementalWriterConfig describes the incremental export an
// [IncrementalWriter] produces.
type IncrementalWriterConfig struct {
	// TableArn is the exported table's ARN (required).
	TableArn string
	// From and To are the window, exportFromTime (inclusive) and
	// exportToTime (exclusive); both are required and From must be before
	// To. The writer does not check that changes fall inside the window.
	From, To time.Time
	// View is the outputView (default [ViewNewAndOldImages]).
	View ViewType
	// Bucket, Prefix, Files and ChecksumSuffix are as in [WriterConfig].
	Bucket         string
	Prefix         string
	Files          int
	ChecksumSuffix string
}

// IncrementalWriter writes an incremental export in the layout of
// ExportTableToPointInTime with ExportType INCREMENTAL_EXPORT. Its sink is
// the AWSDynamoDB folder, not the export folder: the manifests go to
// <ExportId>/ (manifest-summary.json with exportType INCREMENTAL_EXPORT,
// exportFromTime, exportToTime and outputView; manifest-files.json; their
// checksum files; _started) and the gzipped data files to the shared data
// folder data/, as AWS writes them. Changes are spread round-robin over the
// data files. Not safe for concurrent use.
type IncrementalWriter struct {
	cfg IncrementalWriterConfig
	w   *exportWriter
}

// NewIncrementalWriter starts an incremental export in sink, the AWSDynamoDB
// folder.
func NewIncrementalWriter(ctx context.Context, sink Sink, cfg IncrementalWriterConfig) (*IncrementalWriter, error) {
	switch {
	case cfg.TableArn == "" || cfg.From.IsZero() || cfg.To.IsZero():
		return nil, errors.New("new incremental export writer: TableArn, From and To are required")
	case !cfg.To.After(cfg.From):
		return nil, fmt.Errorf("new incremental export writer: To %s is not after From %s",
			cfg.To.UTC().Format(time.RFC3339Nano), cfg.From.UTC().Format(time.RFC3339Nano))
	}
	switch cfg.View {
	case "":
		cfg.View = ViewNewAndOldImages
	case ViewNewAndOldImages, ViewNewImage:
	default:
		return nil, fmt.Errorf("new incremental export writer: view %q (want %s or %s)", cfg.View, ViewNewAndOldImages, ViewNewImage)
	}
	h := sha256.Sum256(fmt.Appendf(nil, "%s %s %s %s", cfg.TableArn, cfg.From, cfg.To, cfg.View))
	id := fmt.Sprintf("%014d-%s", cfg.To.UnixMilli(), hex.EncodeToString(h[:4]))
	ew, err := newExportWriter(ctx, sink, layout{
		bucket: cfg.Bucket, prefix: cfg.Prefix, files: cfg.Files, checksumSuffix: cfg.ChecksumSuffix, exportID: id,
		sharedData: true,
	})
	if err != nil {
		return nil, err
	}
	return &IncrementalWriter{cfg: cfg, w: ew}, nil
}

// ExportID is the export's id, the last element of its folder key.
func (w *IncrementalWriter) ExportID() string { return w.w.exportID }

// FolderKey is the S3 key of the export folder, which holds the manifests.
func (w *IncrementalWriter) FolderKey() string { return w.w.folderKey() }

// Write adds one change. Keys and WriteTime (at or after 1970) are
// required; with [ViewNewImage], OldImage must be nil. It fails after
// [IncrementalWriter.Close].
func (w *IncrementalWriter) Write(c Change) error {
	switch {
	case w.w.closed:
		return errors.New("writing export change: export writer already closed")
	case len(c.Keys) == 0:
		return errors.New("writing export change: no Keys")
	case c.WriteTime.IsZero() || c.WriteTime.UnixMicro() < 0:
		return fmt.Errorf("writing export change: write time %v is not after 1970", c.WriteTime)
	case c.OldImage != nil && w.cfg.View == ViewNewImage:
		return fmt.Errorf("writing export change: an OldImage in a %s export", ViewNewImage)
	}
	line := append(w.w.line[:0], `{"`+memberMetadata+`":{"`+memberWriteTS+`":{"N":"`...)
	line = strconv.AppendInt(line, c.WriteTime.UnixMicro(), 10)
	line = append(line, `"}},"`+memberKeys+`":`...)
	var err error
	if line, err = ddbjson.AppendItem(line, c.Keys); err != nil {
		return fmt.Errorf("writing export change: %s: %w", memberKeys, err)
	}
	if c.OldImage != nil {
		line = append(line, `,"`+memberOld+`":`...)
		if line, err = ddbjson.AppendItem(line, c.OldImage); err != nil {
			return fmt.Errorf("writing export change: %s: %w", memberOld, err)
		}
	}
	if c.NewImage != nil {
		line = append(line, `,"`+memberNew+`":`...)
		if line, err = ddbjson.AppendItem(line, c.NewImage); err != nil {
			return fmt.Errorf("writing export change: %s: %w", memberNew, err)
		}
	}
	w.w.line = append(line, "}\n"...)
	return w.w.add(w.w.line)
}

// Close finishes the data files and writes the manifests. The export is
// complete only when Close returns nil.
func (w *IncrementalWriter) Close(ctx context.Context) (Summary, error) {
	from, to := w.cfg.From.UTC(), w.cfg.To.UTC()
	return w.w.close(ctx, w.cfg.TableArn, func(s *Summary) {
		// The version AWS's incremental example carries.
		s.Version = "2023-08-01"
		s.ExportFromTime, s.ExportToTime = &from, &to
		s.OutputView = string(w.cfg.View)
		s.ExportType = string(ExportTypeIncremental)
	})
}
