package snapshot

import (
	"errors"
	"fmt"
)

// Conditions callers branch on. Every error from [Open], [OpenIncremental],
// [FileReader] and [ChangeReader] wraps one of these when it applies, inside
// a [*FileError] naming the file.
var (
	// ErrUnsupported is an export that cannot be read as asked: ION format,
	// an exportType or outputView this package does not know, an
	// incremental export given to [Open] or a full one to [OpenIncremental].
	ErrUnsupported = errors.New("unsupported export")
	// ErrChecksum is a manifest or data file whose MD5 differs from the one
	// the export recorded.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrCount is a data file, or a whole export, whose item count differs
	// from the manifest's.
	ErrCount = errors.New("item count mismatch")
	// ErrMissingFile is a file the manifest names that the source lacks, or
	// cannot reach.
	ErrMissingFile = errors.New("file named in the manifest is missing")
	// ErrOutsideExport is a manifest key that points outside the export
	// folder (and, for an incremental export, outside the shared data
	// folder next to it).
	ErrOutsideExport = errors.New("manifest key points outside the export folder")
	// ErrCorrupt is a manifest or data file that cannot be parsed: bad gzip,
	// truncation, a line that is not a DynamoDB JSON item (a change, in an
	// incremental export) or is longer than [MaxLineBytes], a summary that
	// lacks what its export type needs, or a name that is not a regular
	// file (a FIFO, say).
	ErrCorrupt = errors.New("corrupt export file")
)

// FileError locates a problem in an export: the file (its name relative to
// the export folder) and, for data files, the 1-based line.
type FileError struct {
	File string
	Line int
	Err  error
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s line %d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }
