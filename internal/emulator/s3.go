package emulator

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path"
	"sort"
	"sync"
)

// CreateBucket creates an S3 bucket in the emulator (as s3:CreateBucket
// does); creating one that exists is not an error.
func (s *Server) CreateBucket(name string) error {
	ok, err := s.s3backend.BucketExists(name)
	if err != nil {
		return fmt.Errorf("creating bucket %s: %w", name, err)
	}
	if ok {
		return nil
	}
	if err := s.s3backend.CreateBucket(name); err != nil {
		return fmt.Errorf("creating bucket %s: %w", name, err)
	}
	return nil
}

func (s *Server) bucketExists(name string) bool {
	ok, err := s.s3backend.BucketExists(name)
	return err == nil && ok
}

// putObject stores one object in the in-process S3.
func (s *Server) putObject(bucket, key string, data []byte) error {
	_, err := s.s3backend.PutObject(bucket, key, map[string]string{}, bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		return fmt.Errorf("putting s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}

// memSink collects an export's files in memory (a snapshot.Sink), so they
// can be uploaded under the export folder's key once the writer knows it.
type memSink struct {
	mu    sync.Mutex
	files map[string][]byte
}

func newMemSink() *memSink { return &memSink{files: make(map[string][]byte)} }

func (m *memSink) Create(_ context.Context, name string) (io.WriteCloser, error) {
	return &memFile{sink: m, name: name}, nil
}

// upload puts every file under folderKey in bucket.
func (m *memSink) upload(s *Server, bucket, folderKey string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := make([]string, 0, len(m.files))
	for name := range m.files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := s.putObject(bucket, path.Join(folderKey, name), m.files[name]); err != nil {
			return err
		}
	}
	return nil
}

type memFile struct {
	sink *memSink
	name string
	buf  bytes.Buffer
}

func (f *memFile) Write(p []byte) (int, error) { return f.buf.Write(p) }

func (f *memFile) Close() error {
	f.sink.mu.Lock()
	defer f.sink.mu.Unlock()
	f.sink.files[f.name] = f.buf.Bytes()
	return nil
}
