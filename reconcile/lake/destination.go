package lake

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Names of a cut's files beside its parts. Both start with "_", which
// Hive-style readers (Spark, Athena, Glue, DuckDB's hive partitioning) skip
// when they list a partition's data files.
const (
	ManifestName = "_manifest.json"
	SuccessName  = "_SUCCESS"
)

// destination is where one cut's files go. A cut is published in three
// steps: begin (from then on the cut has no _SUCCESS), put of each part,
// commit (the manifest, then _SUCCESS, last). A failure in between leaves
// no _SUCCESS, so readers that wait for it never see half a cut.
type destination interface {
	// scratch is the local folder part files are written in before put.
	scratch() string
	begin(ctx context.Context) error
	// put publishes the part file written at scratch()/name.
	put(ctx context.Context, name string) error
	// commit writes the manifest and then _SUCCESS, and removes parts of
	// an earlier run of the same cut that this one does not have.
	commit(ctx context.Context, parts []string, manifest []byte) error
	// abort removes what is left in scratch.
	abort()
	String() string
}

// S3API is the part of the S3 client publish uses; *s3.Client has it.
type S3API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, opts ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// dirDestination writes a cut into a local folder. Everything is written
// into a hidden sibling folder, which then takes the cut folder's place by
// rename: readers see the old cut or the new one, whole.
type dirDestination struct {
	final   string // the cut's folder
	staging string // set by begin
}

func (d *dirDestination) String() string  { return d.final }
func (d *dirDestination) scratch() string { return d.staging }

func (d *dirDestination) begin(context.Context) error {
	parent := filepath.Dir(d.final)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", parent, err)
	}
	// A leading dot: readers listing the partitions skip it.
	dir, err := os.MkdirTemp(parent, "."+filepath.Base(d.final)+".writing-")
	if err != nil {
		return fmt.Errorf("creating a folder to write the cut in: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	d.staging = dir
	return nil
}

func (d *dirDestination) put(context.Context, string) error { return nil }

func (d *dirDestination) commit(_ context.Context, _ []string, manifest []byte) error {
	if err := writeFileSync(filepath.Join(d.staging, ManifestName), manifest); err != nil {
		return err
	}
	if err := writeFileSync(filepath.Join(d.staging, SuccessName), nil); err != nil {
		return err
	}
	// Two renames: the previous cut aside, the new one in its place. A
	// crash between them leaves no cut folder (the old one is in the
	// hidden .replaced- folder), never a mixed one.
	old := ""
	if _, err := os.Stat(d.final); err == nil {
		old = d.staging + ".replaced"
		if err := os.Rename(d.final, old); err != nil {
			return fmt.Errorf("moving the previous cut aside: %w", err)
		}
	}
	if err := os.Rename(d.staging, d.final); err != nil {
		return fmt.Errorf("moving the cut into %s: %w", d.final, err)
	}
	d.staging = ""
	if old != "" {
		if err := os.RemoveAll(old); err != nil {
			return fmt.Errorf("removing the previous cut: %w", err)
		}
	}
	return syncDir(filepath.Dir(d.final))
}

func (d *dirDestination) abort() {
	if d.staging != "" {
		_ = os.RemoveAll(d.staging)
	}
}

func writeFileSync(name string, data []byte) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return f.Close()
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// s3Destination writes a cut under an S3 prefix. S3 has no rename, so a
// rerun of the same cut first deletes its _SUCCESS, overwrites the parts
// (each PUT replaces an object whole), deletes the parts the new cut does
// not have, and writes the manifest and _SUCCESS last.
type s3Destination struct {
	client S3API
	bucket string
	prefix string // the cut's folder, ending in "/"
	local  string // scratch folder, set by begin
}

func (d *s3Destination) String() string  { return "s3://" + d.bucket + "/" + d.prefix }
func (d *s3Destination) scratch() string { return d.local }

func (d *s3Destination) begin(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "ddbsync-publish-")
	if err != nil {
		return fmt.Errorf("creating a scratch folder for the part files: %w", err)
	}
	d.local = dir
	for _, name := range []string{SuccessName, ManifestName} {
		if _, err := d.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(d.bucket), Key: aws.String(d.prefix + name)}); err != nil {
			return fmt.Errorf("deleting the previous cut's %s%s: %w", d, name, err)
		}
	}
	return nil
}

func (d *s3Destination) put(ctx context.Context, name string) error {
	local := filepath.Join(d.local, name)
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if _, err := d.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(d.bucket), Key: aws.String(d.prefix + name), Body: f, ContentLength: aws.Int64(st.Size()),
		ContentType: aws.String("application/vnd.apache.parquet"),
	}); err != nil {
		return fmt.Errorf("uploading %s%s: %w", d, name, err)
	}
	// The part is in S3: its local copy goes, so the scratch folder holds
	// one part at a time.
	return os.Remove(local)
}

func (d *s3Destination) commit(ctx context.Context, parts []string, manifest []byte) error {
	keep := make(map[string]bool, len(parts))
	for _, p := range parts {
		keep[d.prefix+p] = true
	}
	in := &s3.ListObjectsV2Input{Bucket: aws.String(d.bucket), Prefix: aws.String(d.prefix)}
	for p := s3.NewListObjectsV2Paginator(d.client, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("listing %s: %w", d, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			name := path.Base(key)
			// Only parts of an earlier run of this cut: nothing else a user
			// keeps there is ours to delete.
			if keep[key] || path.Dir(key)+"/" != d.prefix || !isPartName(name) {
				continue
			}
			if _, err := d.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(d.bucket), Key: o.Key}); err != nil {
				return fmt.Errorf("deleting the stale part %s: %w", key, err)
			}
		}
	}
	for _, f := range []struct {
		name string
		body []byte
		typ  string
	}{{ManifestName, manifest, "application/json"}, {SuccessName, nil, "text/plain"}} {
		if _, err := d.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(d.bucket), Key: aws.String(d.prefix + f.name), Body: strings.NewReader(string(f.body)),
			ContentLength: aws.Int64(int64(len(f.body))), ContentType: aws.String(f.typ),
		}); err != nil {
			return fmt.Errorf("writing %s%s: %w", d, f.name, err)
		}
	}
	return nil
}

func (d *s3Destination) abort() {
	if d.local != "" {
		_ = os.RemoveAll(d.local)
	}
}

// partName is the name of the i-th part file of a cut.
func partName(i int) string { return fmt.Sprintf("part-%05d.parquet", i) }

func isPartName(name string) bool {
	return strings.HasPrefix(name, "part-") && strings.HasSuffix(name, ".parquet")
}

// ParseTarget splits a --to argument: s3://bucket/prefix, or a folder.
func ParseTarget(to string) (bucket, prefix, dir string, err error) {
	if rest, ok := strings.CutPrefix(to, "s3://"); ok {
		bucket, prefix, _ = strings.Cut(rest, "/")
		if bucket == "" {
			return "", "", "", fmt.Errorf("%q names no bucket", to)
		}
		return bucket, strings.Trim(prefix, "/"), "", nil
	}
	if strings.Contains(to, "://") {
		return "", "", "", errors.New("publish writes to s3://bucket/prefix or a local folder, not " + to)
	}
	if to == "" {
		return "", "", "", errors.New("no destination")
	}
	return "", "", to, nil
}
