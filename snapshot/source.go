package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Source is where an export's files live: the export's own folder (the one
// holding manifest-summary.json). Names are slash-separated and relative to
// that folder; a name that would leave it is refused. Open returns an error
// matching [fs.ErrNotExist] for a file that is not there.
type Source interface {
	Open(ctx context.Context, name string) (io.ReadCloser, error)
	// String names the source in messages (a path or an s3:// URI).
	String() string
}

// ParentSource is a [Source] that can also open the folder holding its own.
// Reading an incremental export needs one: AWS writes its data files to the
// shared folder <prefix>/AWSDynamoDB/data/, next to the export folder
// <prefix>/AWSDynamoDB/<ExportId>/ rather than inside it. [DirSource] and
// [S3Source] are ParentSources.
type ParentSource interface {
	Source
	Parent() (Source, error)
}

// DirSource reads an export from a local directory. It resolves names
// through [os.Root], so no name (nor a symbolic link inside the folder) can
// reach outside it.
type DirSource struct {
	dir string
}

// NewDirSource returns a source for the export folder dir.
func NewDirSource(dir string) (*DirSource, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("opening export folder: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("opening export folder: %s is not a directory", dir)
	}
	return &DirSource{dir: dir}, nil
}

// Open opens name inside the folder. Only a regular file is opened (a
// symbolic link to one inside the folder is fine): anything else is refused
// with [ErrCorrupt], checked before opening, since opening a FIFO blocks
// until something writes to it, which would stall a load forever.
func (s *DirSource) Open(_ context.Context, name string) (io.ReadCloser, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(s.dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	st, err := root.Stat(name)
	if err != nil {
		return nil, rootError(name, err)
	}
	if !st.Mode().IsRegular() {
		// ErrCorrupt rather than ErrMissingFile: something is there, and a
		// missing checksum file is skipped, which would drop a check.
		return nil, fmt.Errorf("%w: %s in %s is %s, not a regular file", ErrCorrupt, name, s.dir, fileKind(st.Mode()))
	}
	f, err := root.Open(name)
	if err != nil {
		return nil, rootError(name, err)
	}
	return f, nil
}

// rootError maps an error of [os.Root] about name to the source's contract.
func rootError(name string, err error) error {
	// os.Root reports an escape as a generic path error.
	if !errors.Is(err, fs.ErrNotExist) && strings.Contains(err.Error(), "escapes from parent") {
		return fmt.Errorf("%w: %s", ErrOutsideExport, name)
	}
	return err
}

// fileKind names the type of a file that is not a regular one.
func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "of type " + m.Type().String()
}

func (s *DirSource) String() string { return s.dir }

// Parent returns a source for the directory that holds this one.
func (s *DirSource) Parent() (Source, error) {
	abs, err := filepath.Abs(s.dir)
	if err != nil {
		return nil, fmt.Errorf("opening the folder above %s: %w", s.dir, err)
	}
	up := filepath.Dir(abs)
	if up == abs {
		return nil, fmt.Errorf("%s has no folder above it", s.dir)
	}
	return NewDirSource(up)
}

// S3API is the part of the S3 client a [S3Source] uses; *s3.Client has it.
type S3API interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// S3Source reads an export from an S3 folder.
type S3Source struct {
	client S3API
	bucket string
	prefix string // ends in "/" unless empty
}

// NewS3Source returns a source for the export folder at uri, of the form
// s3://bucket/key-of-the-folder/.
func NewS3Source(client S3API, uri string) (*S3Source, error) {
	bucket, prefix, err := ParseS3URI(uri)
	if err != nil {
		return nil, err
	}
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return &S3Source{client: client, bucket: bucket, prefix: prefix}, nil
}

// ParseS3URI splits s3://bucket/key into bucket and key.
func ParseS3URI(uri string) (bucket, key string, err error) {
	rest, ok := strings.CutPrefix(uri, "s3://")
	if !ok {
		return "", "", fmt.Errorf("%q is not an s3:// URI", uri)
	}
	bucket, key, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", fmt.Errorf("%q names no bucket", uri)
	}
	return bucket, key, nil
}

// Open gets the object prefix+name. The body is the object's bytes as
// stored, which is what the manifest's MD5 covers.
func (s *S3Source) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.prefix + name),
	})
	if err != nil {
		var nsk *s3types.NoSuchKey
		if errors.As(err, &nsk) {
			return nil, fmt.Errorf("s3://%s/%s%s: %w", s.bucket, s.prefix, name, fs.ErrNotExist)
		}
		return nil, err
	}
	return out.Body, nil
}

func (s *S3Source) String() string { return "s3://" + s.bucket + "/" + s.prefix }

// Parent returns a source for the S3 folder that holds this one, in the
// same bucket.
func (s *S3Source) Parent() (Source, error) {
	if s.prefix == "" {
		return nil, fmt.Errorf("%s has no folder above it", s)
	}
	up := path.Dir(strings.TrimSuffix(s.prefix, "/"))
	if up == "." {
		up = ""
	} else {
		up += "/"
	}
	return &S3Source{client: s.client, bucket: s.bucket, prefix: up}, nil
}

// checkName refuses names that are not clean relative paths inside the folder.
func checkName(name string) error {
	if name == "" || path.IsAbs(name) || strings.Contains(name, `\`) || path.Clean(name) != name ||
		name == ".." || strings.HasPrefix(name, "../") {
		return fmt.Errorf("%w: %q", ErrOutsideExport, name)
	}
	return nil
}
