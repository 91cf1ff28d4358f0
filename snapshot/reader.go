package snapshot

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// MaxLineBytes caps one line of a data file. A DynamoDB item is at most
// 400 KB, but its DynamoDB JSON is longer: the densest case, a list of empty
// strings, costs 1 byte of item size and 9 bytes of JSON an element, about
// 3.5 MiB for a full item (base64 binary is only 4/3, an escaped control
// byte 6/1). Without a cap, a small gzip bomb whose one line inflates to
// gigabytes would be buffered whole.
const MaxLineBytes = 4 << 20

// errLineTooLong is readLine's report of a line past [MaxLineBytes].
var errLineTooLong = errors.New("longer than 4 MiB; a DynamoDB item is at most 400 KB")

// FileReader streams the items of one data file. Memory use is bounded by
// [MaxLineBytes], never by the file size; a longer line is refused.
//
// The checks the manifest allows run as the file is read: each line must be
// a DynamoDB JSON item, and at the end the MD5 of the stored (compressed)
// bytes and the item count must match the manifest. Next returns false at
// the end or on the first problem; Err then says which, as a [*FileError].
// A FileReader is not safe for concurrent use.
type FileReader struct {
	file   DataFile
	body   io.ReadCloser
	raw    *countingHash
	gz     *gzip.Reader
	br     *bufio.Reader
	line   []byte
	item   ddbjson.Item
	lineNo int
	items  int64
	err    error
	done   bool
	// decode, when set, decodes each line in place of the full-export item
	// decoder (incremental exports set it).
	decode func(line []byte) error
	// undecoded leaves each line to the caller (OpenFileRaw): text is the
	// current one.
	undecoded bool
	text      []byte
}

// OpenFile opens data file f for reading.
func (e *Export) OpenFile(ctx context.Context, f DataFile) (*FileReader, error) {
	return openDataFile(ctx, e.src, f.Name, f)
}

// OpenFileRaw opens data file f for reading its lines without decoding
// them: Next skips blank lines and counts items, and the checks at the end
// of the file are the same as [Export.OpenFile]'s, but decoding each line
// is the caller's: [FileReader.Raw] is the line, and [FileReader.Decode]
// decodes it, failing the reader as Next would on a line it refuses. A
// caller that checks a line some other way need not decode it.
func (e *Export) OpenFileRaw(ctx context.Context, f DataFile) (*FileReader, error) {
	r, err := openDataFile(ctx, e.src, f.Name, f)
	if r != nil {
		r.undecoded = true
	}
	return r, err
}

// openDataFile opens data file f, which src holds under name.
func openDataFile(ctx context.Context, src Source, name string, f DataFile) (*FileReader, error) {
	body, err := src.Open(ctx, name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &FileError{File: f.Name, Err: fmt.Errorf("%w (looked in %s)", ErrMissingFile, src)}
		}
		return nil, &FileError{File: f.Name, Err: err}
	}
	r := &FileReader{file: f, body: body, raw: &countingHash{r: body, h: md5.New()}}
	r.gz, err = gzip.NewReader(bufio.NewReaderSize(r.raw, 256<<10))
	if err == io.EOF && r.raw.n == 0 {
		// A zero-byte object: no items. The count check still applies.
		r.br = bufio.NewReader(bytes.NewReader(nil))
		return r, nil
	}
	if err != nil {
		if r.raw.err != nil {
			err = fmt.Errorf("reading: %w", r.raw.err) // the source failed, not the file
		} else {
			err = fmt.Errorf("%w: not a gzip file: %v", ErrCorrupt, err)
		}
		r.fail(0, err)
		return r, nil // Next reports it, after the checksum check
	}
	r.br = bufio.NewReaderSize(r.gz, 256<<10)
	return r, nil
}

// Next advances to the next item. Blank lines are skipped.
func (r *FileReader) Next() bool {
	if r.done || r.br == nil {
		return false
	}
	for {
		line, err := r.readLine()
		if err != nil && err != io.EOF {
			if errors.Is(err, errLineTooLong) {
				r.fail(r.lineNo+1, fmt.Errorf("%w: %w", ErrCorrupt, err))
				return false
			}
			if r.raw.err != nil {
				// Reading the stored bytes failed (a network error, say):
				// an I/O failure, not a corrupt file.
				r.fail(r.lineNo+1, fmt.Errorf("reading: %w", r.raw.err))
			} else {
				r.fail(r.lineNo+1, fmt.Errorf("%w: %v", ErrCorrupt, describeGzipError(err)))
			}
			return false
		}
		if len(bytes.TrimSpace(line)) > 0 {
			r.lineNo++
			if r.undecoded {
				r.text, r.item = line, nil
				r.items++
				return true
			}
			var derr error
			if r.decode != nil {
				derr = r.decode(line)
			} else {
				r.item, derr = ddbjson.DecodeExportLine(line)
			}
			if derr != nil {
				r.fail(r.lineNo, fmt.Errorf("%w: %w", ErrCorrupt, derr))
				return false
			}
			r.items++
			return true
		}
		if err == io.EOF {
			r.finish()
			return false
		}
		r.lineNo++ // a blank line
	}
}

// Item is the current item; it stays valid after Next. A reader opened
// with [Export.OpenFileRaw] has the item [FileReader.Decode] returned, if
// it was called.
func (r *FileReader) Item() map[string]types.AttributeValue { return r.item }

// Raw is the current line of a reader opened with [Export.OpenFileRaw],
// valid until the next call of Next.
func (r *FileReader) Raw() []byte { return r.text }

// Decode decodes the current line of a reader opened with
// [Export.OpenFileRaw]. A line that is not an item fails the reader: Next
// returns false, and the error, also returned, is the one Next would have
// reported ([Export.OpenFile]).
func (r *FileReader) Decode() (map[string]types.AttributeValue, error) {
	if r.err != nil {
		return nil, r.err
	}
	item, err := ddbjson.DecodeExportLine(r.text)
	if err != nil {
		r.fail(r.lineNo, fmt.Errorf("%w: %w", ErrCorrupt, err))
		return nil, r.err
	}
	r.item = item
	return item, nil
}

// Line is the 1-based line number of the current item.
func (r *FileReader) Line() int { return r.lineNo }

// Err is nil after a complete, verified file, or the problem that stopped Next.
func (r *FileReader) Err() error { return r.err }

// BytesRead is the number of stored (compressed) bytes read so far.
func (r *FileReader) BytesRead() int64 { return r.raw.n }

// Close releases the file.
func (r *FileReader) Close() error {
	r.done = true
	return r.body.Close()
}

// readLine returns the next line without its newline. It stops reading a
// line once it passes [MaxLineBytes] and returns errLineTooLong, so memory
// stays within the cap plus one buffer.
func (r *FileReader) readLine() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		r.line = append(r.line[:0], line...)
		for err == bufio.ErrBufferFull && len(r.line) <= MaxLineBytes {
			line, err = r.br.ReadSlice('\n')
			r.line = append(r.line, line...)
		}
		line = r.line
	}
	if err == bufio.ErrBufferFull {
		return nil, errLineTooLong
	}
	if err == nil {
		line = line[:len(line)-1]
	} else if err == io.EOF && len(line) > 0 {
		err = nil // last line without a newline; EOF comes next call
	}
	if len(line) > MaxLineBytes {
		return nil, errLineTooLong
	}
	return line, err
}

// finish runs the end-of-file checks.
func (r *FileReader) finish() {
	r.done = true
	if err := r.drainAndCheckSum(); err != nil {
		r.err = &FileError{File: r.file.Name, Err: err}
		return
	}
	if r.items != r.file.ItemCount {
		r.err = &FileError{File: r.file.Name, Err: fmt.Errorf("%w: file holds %d items, %s says %d",
			ErrCount, r.items, FilesName, r.file.ItemCount)}
	}
}

// fail records a problem. A damaged file usually shows up as a gzip or JSON
// error first; when its MD5 is also wrong, that is the root cause, and
// saying so tells the user to fetch the file again rather than debug it.
func (r *FileReader) fail(line int, err error) {
	r.done = true
	if sumErr := r.drainAndCheckSum(); errors.Is(sumErr, ErrChecksum) {
		// Both stay visible to errors.Is: the cause and what it broke.
		r.err = &FileError{File: r.file.Name, Err: fmt.Errorf("%w (reading stopped at line %d: %w)", sumErr, line, err)}
		return
	}
	r.err = &FileError{File: r.file.Name, Line: line, Err: err}
}

func (r *FileReader) drainAndCheckSum() error {
	if _, err := io.Copy(io.Discard, r.raw); err != nil {
		return fmt.Errorf("reading: %w", err)
	}
	if r.file.MD5Checksum == "" {
		return nil
	}
	got := base64.StdEncoding.EncodeToString(r.raw.h.Sum(nil))
	if got != r.file.MD5Checksum {
		return fmt.Errorf("%w: MD5 of the stored bytes is %s, %s says %s", ErrChecksum, got, FilesName, r.file.MD5Checksum)
	}
	return nil
}

func describeGzipError(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("file is truncated (unexpected end of gzip data)")
	}
	return err
}

// countingHash hashes and counts the bytes read through it, and keeps the
// first read error other than EOF, so that a failing source is not taken
// for a corrupt file.
type countingHash struct {
	r   io.Reader
	h   hash.Hash
	n   int64
	err error
}

func (c *countingHash) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}
