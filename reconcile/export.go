package reconcile

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"

	"github.com/jackc/pgx/v5"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/reconcile/store"
	"github.com/ddbsync/ddbsync/snapshot"
)

// Reading an export's data files into PostgreSQL: a load and a diff with
// an export source both read exports here, so a diff's source is verified
// exactly as a load's.

// DefaultWorkers is how many data files a load or diff copies at once:
// twice the CPUs, at least 4. Each file's decoding runs in ddbsync while
// PostgreSQL parses and stores the previous rows of another, so more
// streams than cores keep both busy (4 streams load 1,000,000 tenures in
// 91 s on 2 cores, 2 streams in 142 s; bench/load.sh).
func DefaultWorkers() int { return max(4, 2*runtime.NumCPU()) }

// ReadStats are the running totals of reading an export, by a load or a
// diff, safe to read while it runs.
type ReadStats struct {
	FilesTotal atomic.Int64
	FilesDone  atomic.Int64
	ItemsTotal atomic.Int64
	ItemsDone  atomic.Int64
	BytesTotal atomic.Int64 // unknown until the end: manifests give no sizes
	BytesDone  atomic.Int64 // compressed bytes read
}

// CopyExportFile streams data file f of exp into table through tx with
// PostgreSQL's binary COPY, each item turned into the columns of enc with
// provenance prov, and checks the file as [snapshot.FileReader] does
// (lines, MD5, item count) plus the rows copied against the manifest. It
// returns the rows copied and the stored bytes read, and counts items and
// bytes into stats as it reads (files are the caller's to count).
func CopyExportFile(ctx context.Context, tx pgx.Tx, exp *snapshot.Export, f snapshot.DataFile,
	table pgx.Identifier, enc *store.Encoder, prov Provenance, stats *ReadStats) (int64, int64, error) {
	r, err := exp.OpenFileRaw(ctx, f)
	if err != nil {
		return 0, 0, err
	}
	defer r.Close()
	items := &fileItems{r: r, stats: stats}
	src := store.NewCopySource(items, enc, prov)
	// A line the encoder refuses is bad data like one the reader refuses:
	// the same refusal, its cause still matchable.
	src.OnEncodeError = func(err error) error {
		return &snapshot.FileError{File: f.Name, Line: r.Line(), Err: fmt.Errorf("%w: %w", snapshot.ErrCorrupt, err)}
	}
	n, err := tx.CopyFrom(ctx, table, enc.Columns(), src)
	if err != nil {
		// pgx reports a source's error as the server's COPY failure, as
		// text; the source still holds the original, with its type.
		if serr := src.Err(); serr != nil {
			return 0, 0, serr
		}
		return 0, 0, fmt.Errorf("%s: copying: %w", f.Name, err)
	}
	if n != f.ItemCount {
		return 0, 0, fmt.Errorf("%s: copied %d rows, manifest says %d", f.Name, n, f.ItemCount)
	}
	return n, r.BytesRead(), nil
}

// fileItems are the items of one data file, counted into the progress as
// they are read.
type fileItems struct {
	r      *snapshot.FileReader
	stats  *ReadStats
	bytes  int64
	unseen int64
}

func (s *fileItems) Next() bool {
	if !s.r.Next() {
		s.flushStats()
		return false
	}
	// Progress counters are shared by all workers: update them in steps.
	if s.unseen++; s.unseen == 1024 {
		s.flushStats()
	}
	return true
}

func (s *fileItems) Item() ddbjson.Item { return s.r.Item() }

// Raw is the current line, undecoded: the encoder takes most lines as they
// are ([store.Encoder.EncodeLine]).
func (s *fileItems) Raw() []byte { return s.r.Raw() }

// Decode decodes the current line, for the lines the encoder does not take
// as they are.
func (s *fileItems) Decode() (ddbjson.Item, error) { return s.r.Decode() }

// Line is the current item's line in its file.
func (s *fileItems) Line() int { return s.r.Line() }

func (s *fileItems) flushStats() {
	s.stats.ItemsDone.Add(s.unseen)
	s.unseen = 0
	b := s.r.BytesRead()
	s.stats.BytesDone.Add(b - s.bytes)
	s.bytes = b
}

func (s *fileItems) Err() error { return s.r.Err() }
