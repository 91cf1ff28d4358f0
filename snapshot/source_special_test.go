package snapshot_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/snapshot"
)

// withinSeconds runs f and fails the test if it has not returned within a
// few seconds: opening a FIFO blocks until a writer comes, so a regression
// would otherwise hang the test binary.
func withinSeconds(t *testing.T, f func(ctx context.Context) error) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		t.Fatalf("still blocked after 5 s: opening a special file must not wait")
		return nil
	}
}

// specials are the kinds of non-regular files an export folder may hold by
// mistake, each made at path p.
var specials = []struct {
	name string
	make func(t *testing.T, p string)
	want string
}{
	{"FIFO", func(t *testing.T, p string) { require.NoError(t, syscall.Mkfifo(p, 0o644)) }, "a named pipe (FIFO)"},
	{"directory", func(t *testing.T, p string) { require.NoError(t, os.Mkdir(p, 0o755)) }, "a directory"},
	{"socket", func(t *testing.T, p string) {
		l, err := net.Listen("unix", p)
		require.NoError(t, err)
		t.Cleanup(func() { l.Close() })
	}, "a socket"},
}

func TestFileReader_DataFileNotRegularRefused(t *testing.T) {
	for _, sp := range specials {
		t.Run(sp.name, func(t *testing.T) {
			dir := writeExport(t, exportSpec{files: []dataSpec{{name: dataA, raw: nil, md5: md5b64(gz(t, line("1"))), count: 1}}})
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "data"), 0o755))
			sp.make(t, filepath.Join(dir, "data", "a.json.gz"))
			e, err := openDir(t, dir)
			require.NoError(t, err)
			err = withinSeconds(t, func(ctx context.Context) error {
				r, err := e.OpenFile(ctx, e.Files[0])
				if err != nil {
					return err
				}
				defer r.Close()
				for r.Next() {
				}
				return r.Err()
			})
			requireFileError(t, err, snapshot.ErrCorrupt, dataA, 0)
			require.Contains(t, err.Error(), sp.want+", not a regular file")
		})
	}
}

func TestOpen_ManifestNotRegularRefused(t *testing.T) {
	// A checksum file that is a FIFO must be refused, not taken for absent:
	// skipping it would silently drop a verification.
	for _, name := range []string{snapshot.SummaryName, snapshot.FilesName, "manifest-files.md5", "manifest-summary.checksum"} {
		t.Run(name, func(t *testing.T) {
			dir := writeExport(t, exportSpec{files: []dataSpec{{name: dataA, raw: gz(t, line("1")), count: 1}}})
			p := filepath.Join(dir, name)
			require.NoError(t, os.RemoveAll(p))
			require.NoError(t, syscall.Mkfifo(p, 0o644))
			err := withinSeconds(t, func(context.Context) error {
				_, err := openDir(t, dir)
				return err
			})
			requireFileError(t, err, snapshot.ErrCorrupt, name, 0)
			require.Contains(t, err.Error(), "a named pipe (FIFO), not a regular file")
		})
	}
}

func TestDirSource_SymlinkToFIFOInsideRefused(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644))
	require.NoError(t, os.Symlink("pipe", filepath.Join(dir, "a.json.gz")))
	src, err := snapshot.NewDirSource(dir)
	require.NoError(t, err)
	err = withinSeconds(t, func(ctx context.Context) error {
		rc, err := src.Open(ctx, "a.json.gz")
		if err == nil {
			rc.Close()
		}
		return err
	})
	require.ErrorIs(t, err, snapshot.ErrCorrupt)
	require.Contains(t, err.Error(), "a.json.gz")
}
