package emulator_test

import (
	"context"
	"errors"
	"path"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/emulator"
	"github.com/ddbsync/ddbsync/snapshot"
)

// incrTable is a table with PITR on and a bucket to export to.
type incrTable struct {
	srv  *emulator.Server
	db   *dynamodb.Client
	name string
	arn  *string
}

func newIncrTable(t *testing.T, pitr bool) incrTable {
	t.Helper()
	srv := startEmulator(t)
	db := srv.DynamoDB()
	require.NoError(t, srv.CreateBucket("exports"))
	name := createTable(t, db, false, false)
	if pitr {
		enablePITR(t, db, name)
	}
	d, err := db.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	require.NoError(t, err)
	return incrTable{srv: srv, db: db, name: name, arn: d.Table.TableArn}
}

func (x incrTable) put(t *testing.T, pk, v string) {
	t.Helper()
	put(t, x.db, x.name, map[string]types.AttributeValue{"pk": s(pk), "v": s(v)})
}

func (x incrTable) del(t *testing.T, pk string) {
	t.Helper()
	_, err := x.db.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: aws.String(x.name),
		Key: map[string]types.AttributeValue{"pk": s(pk)}})
	require.NoError(t, err)
}

// export requests an incremental export of [from, to) (to nil: omitted).
func (x incrTable) export(from time.Time, to *time.Time, view types.ExportViewType) (*dynamodb.ExportTableToPointInTimeOutput, error) {
	return x.db.ExportTableToPointInTime(context.Background(), &dynamodb.ExportTableToPointInTimeInput{
		TableArn: x.arn, S3Bucket: aws.String("exports"), S3Prefix: aws.String("pre"),
		ExportType: types.ExportTypeIncrementalExport,
		IncrementalExportSpecification: &types.IncrementalExportSpecification{
			ExportFromTime: aws.Time(from), ExportToTime: to, ExportViewType: view,
		},
	})
}

// read opens a completed export from the emulator's S3 and returns its
// changes by pk.
func (x incrTable) read(t *testing.T, arn *string) (*dynamodb.DescribeExportOutput, *snapshot.IncrementalExport, map[string]snapshot.Change) {
	t.Helper()
	ctx := context.Background()
	d, err := x.db.DescribeExport(ctx, &dynamodb.DescribeExportInput{ExportArn: arn})
	require.NoError(t, err)
	require.Equal(t, types.ExportStatusCompleted, d.ExportDescription.ExportStatus)
	manifest := aws.ToString(d.ExportDescription.ExportManifest)
	require.Regexp(t, `^pre/AWSDynamoDB/\d{14}-[0-9a-f]{8}/manifest-summary.json$`, manifest)
	src, err := snapshot.NewS3Source(x.srv.S3(), "s3://exports/"+path.Dir(manifest)+"/")
	require.NoError(t, err)
	e, changes := readIncremental(t, src)
	return d, e, changes
}

// readIncremental reads every change of the incremental export in src,
// verifying checksums and counts, by pk.
func readIncremental(t *testing.T, src snapshot.Source) (*snapshot.IncrementalExport, map[string]snapshot.Change) {
	t.Helper()
	ctx := context.Background()
	e, err := snapshot.OpenIncremental(ctx, src)
	require.NoError(t, err)
	require.Len(t, e.Verified, 2, "both manifests carry checksums")
	changes := map[string]snapshot.Change{}
	for _, f := range e.Files {
		require.Regexp(t, `^\.\./data/`, f.Name, "data files are in the shared folder")
		r, err := e.OpenFile(ctx, f)
		require.NoError(t, err)
		for r.Next() {
			c := r.Change()
			pk := c.Keys["pk"].(*types.AttributeValueMemberS).Value
			require.NotContains(t, changes, pk, "one line per item")
			changes[pk] = c
		}
		require.NoError(t, r.Err())
		require.NoError(t, r.Close())
	}
	return e, changes
}

func image(pk, v string) ddbjson.Item { return ddbjson.Item{"pk": s(pk), "v": s(v)} }

func TestIncrementalExport_LastWriteOfEachItemInTheWindow(t *testing.T) {
	t.Parallel()
	x := newIncrTable(t, true)
	clock := x.srv.Clock()
	clock.Advance(time.Minute)
	for _, pk := range []string{"multi", "del-only", "del-reinsert", "untouched"} {
		x.put(t, pk, "before")
	}
	from := clock.Advance(time.Minute)

	// Writes in the window; the first ones at exactly from, which is inclusive.
	x.put(t, "multi", "1")
	x.del(t, "del-only")
	x.del(t, "del-reinsert")
	clock.Advance(time.Minute)
	x.put(t, "multi", "2")
	x.put(t, "del-reinsert", "again")
	x.put(t, "new", "1")
	x.put(t, "temp", "1")
	lastMulti := clock.Advance(time.Minute)
	x.put(t, "multi", "3")
	x.del(t, "temp")
	to := clock.Advance(17 * time.Minute)
	x.put(t, "multi", "after") // at exactly to, which is exclusive
	x.put(t, "late", "1")
	clock.Advance(time.Minute)

	out, err := x.export(from, aws.Time(to), "")
	require.NoError(t, err)
	desc := out.ExportDescription
	require.Equal(t, types.ExportTypeIncrementalExport, desc.ExportType)
	require.Nil(t, desc.ExportTime)
	require.Equal(t, from, desc.IncrementalExportSpecification.ExportFromTime.UTC())
	require.Equal(t, to, desc.IncrementalExportSpecification.ExportToTime.UTC())
	require.Equal(t, types.ExportViewTypeNewAndOldImages, desc.IncrementalExportSpecification.ExportViewType)

	d, e, changes := x.read(t, desc.ExportArn)
	require.EqualValues(t, 4, aws.ToInt64(d.ExportDescription.ItemCount))
	require.GreaterOrEqual(t, aws.ToInt64(d.ExportDescription.BilledSizeBytes), int64(10_000_000))
	require.Equal(t, types.ExportTypeIncrementalExport, d.ExportDescription.ExportType)
	require.Equal(t, from, e.From)
	require.Equal(t, to, e.To)
	require.Equal(t, snapshot.ViewNewAndOldImages, e.View)
	require.Equal(t, aws.ToString(desc.ExportArn), e.Summary.ExportArn)

	require.Len(t, changes, 4, "untouched, temp (created and deleted in the window) and late are not in it")
	require.Equal(t, snapshot.Change{Keys: ddbjson.Item{"pk": s("multi")}, WriteTime: lastMulti,
		OldImage: image("multi", "before"), NewImage: image("multi", "3")}, changes["multi"])
	require.Equal(t, snapshot.Change{Keys: ddbjson.Item{"pk": s("del-only")}, WriteTime: from,
		OldImage: image("del-only", "before")}, changes["del-only"])
	require.True(t, changes["del-only"].Deleted())
	require.Equal(t, snapshot.Change{Keys: ddbjson.Item{"pk": s("del-reinsert")}, WriteTime: from.Add(time.Minute),
		OldImage: image("del-reinsert", "before"), NewImage: image("del-reinsert", "again")}, changes["del-reinsert"])
	require.Equal(t, snapshot.Change{Keys: ddbjson.Item{"pk": s("new")}, WriteTime: from.Add(time.Minute),
		NewImage: image("new", "1")}, changes["new"])

	// The same window with NEW_IMAGE: no OldImage anywhere.
	out, err = x.export(from, aws.Time(to), types.ExportViewTypeNewImage)
	require.NoError(t, err)
	_, e, changes = x.read(t, out.ExportDescription.ExportArn)
	require.Equal(t, snapshot.ViewNewImage, e.View)
	require.Len(t, changes, 4)
	for pk, c := range changes {
		require.Nil(t, c.OldImage, pk)
	}
	require.Equal(t, snapshot.Change{Keys: ddbjson.Item{"pk": s("del-only")}, WriteTime: from}, changes["del-only"])
	require.Equal(t, image("multi", "3"), changes["multi"].NewImage)

	list, err := x.db.ListExports(context.Background(), &dynamodb.ListExportsInput{TableArn: x.arn})
	require.NoError(t, err)
	require.Len(t, list.ExportSummaries, 2)
	for _, sm := range list.ExportSummaries {
		require.Equal(t, types.ExportTypeIncrementalExport, sm.ExportType)
	}

	// The same window written to a local folder reads the same.
	dir := t.TempDir()
	folder, _, err := x.srv.ExportIncrementalToDir(context.Background(), x.name, from, to, snapshot.ViewNewAndOldImages, dir)
	require.NoError(t, err)
	src, err := snapshot.NewDirSource(folder)
	require.NoError(t, err)
	_, local := readIncremental(t, src)
	require.Len(t, local, 4)
	require.Equal(t, changes["multi"].NewImage, local["multi"].NewImage)
	require.Equal(t, image("del-only", "before"), local["del-only"].OldImage)
}

func TestIncrementalExport_ToTimeDefaultsToNow(t *testing.T) {
	t.Parallel()
	x := newIncrTable(t, true)
	from := x.srv.Clock().Advance(time.Minute)
	x.put(t, "a", "1")
	now := x.srv.Clock().Advance(time.Hour)
	out, err := x.export(from, nil, "")
	require.NoError(t, err)
	require.Equal(t, now, out.ExportDescription.IncrementalExportSpecification.ExportToTime.UTC())
	_, _, changes := x.read(t, out.ExportDescription.ExportArn)
	require.Len(t, changes, 1)
}

// apiErrorCode is the error code of err, as the SDK returns it.
func apiErrorCode(t *testing.T, err error) (string, string) {
	t.Helper()
	var ae smithy.APIError
	require.True(t, errors.As(err, &ae), "not an API error: %v", err)
	return ae.ErrorCode(), ae.ErrorMessage()
}

func TestIncrementalExport_WindowRules(t *testing.T) {
	t.Parallel()
	x := newIncrTable(t, false)
	clock := x.srv.Clock()
	t0 := clock.Now()
	clock.Advance(time.Hour)

	// PITR off: AWS answers with the window error, not PointInTimeRecoveryUnavailableException.
	_, err := x.export(t0, aws.Time(t0.Add(30*time.Minute)), "")
	code, msg := apiErrorCode(t, err)
	require.Equal(t, "InvalidExportTimeException", code)
	require.Contains(t, msg, "Incremental export period from time cannot be less than the table creation time")

	enablePITR(t, x.db, x.name)
	enabled := clock.Now()
	now := clock.Advance(26 * time.Hour)
	for _, tc := range []struct {
		name     string
		from, to time.Time
		msg      string // "" accepted
	}{
		{"from before PITR", enabled.Add(-time.Second), enabled.Add(time.Hour), "Incremental export period from time cannot be less than the table creation time : " + enabled.Add(-time.Second).Format(time.RFC3339)},
		{"to in the future", now.Add(-time.Hour), now.Add(time.Second), "Incremental export period to time cannot be greater than the current time : " + now.Add(time.Second).Format(time.RFC3339)},
		{"shorter than 15 minutes", now.Add(-time.Hour), now.Add(-time.Hour + 15*time.Minute - time.Second), "less than 15 minutes"},
		{"from equals to", now.Add(-time.Hour), now.Add(-time.Hour), "less than 15 minutes"},
		{"from after to", now.Add(-time.Hour), now.Add(-2 * time.Hour), "less than 15 minutes"},
		{"longer than 24 hours", now.Add(-25 * time.Hour), now.Add(-time.Hour + time.Second), "greater than 24 hours"},
		{"exactly 15 minutes", now.Add(-time.Hour), now.Add(-time.Hour + 15*time.Minute), ""},
		{"exactly 24 hours", now.Add(-25 * time.Hour), now.Add(-time.Hour), ""},
		{"from at PITR enable, to now", enabled, enabled.Add(24 * time.Hour), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := x.export(tc.from, aws.Time(tc.to), "")
			if tc.msg == "" {
				require.NoError(t, err)
				return
			}
			var bad *types.InvalidExportTimeException
			require.ErrorAs(t, err, &bad)
			require.Contains(t, bad.ErrorMessage(), tc.msg)
		})
	}
}

func TestIncrementalExport_RequestShape(t *testing.T) {
	t.Parallel()
	x := newIncrTable(t, true)
	now := x.srv.Clock().Advance(time.Hour)
	from := now.Add(-30 * time.Minute)
	spec := &types.IncrementalExportSpecification{ExportFromTime: aws.Time(from)}
	for _, tc := range []struct {
		name string
		in   dynamodb.ExportTableToPointInTimeInput
		msg  string
	}{
		{"incremental without a spec", dynamodb.ExportTableToPointInTimeInput{ExportType: types.ExportTypeIncrementalExport},
			"Invalid Request: Incremental Export Specification expected when export type is set as Incremental Export"},
		{"spec without from", dynamodb.ExportTableToPointInTimeInput{ExportType: types.ExportTypeIncrementalExport,
			IncrementalExportSpecification: &types.IncrementalExportSpecification{ExportViewType: types.ExportViewTypeNewImage}},
			"Invalid Request: ExportFromTime must be provided in IncrementalExportSpecification"},
		{"spec without a type", dynamodb.ExportTableToPointInTimeInput{IncrementalExportSpecification: spec},
			"Invalid Request: Export Type expected to be Incremental Export when incremental export specification is provided"},
		{"spec with FULL_EXPORT", dynamodb.ExportTableToPointInTimeInput{ExportType: types.ExportTypeFullExport, IncrementalExportSpecification: spec},
			"Invalid Request: When Export Type is Full Export , Incremental Export Specification should not be provided"},
		{"NEW_IMAGES", dynamodb.ExportTableToPointInTimeInput{ExportType: types.ExportTypeIncrementalExport,
			IncrementalExportSpecification: &types.IncrementalExportSpecification{ExportFromTime: aws.Time(from), ExportViewType: "NEW_IMAGES"}},
			"Value 'NEW_IMAGES' at 'incrementalExportSpecification.exportViewType' failed to satisfy constraint"},
		{"unknown type", dynamodb.ExportTableToPointInTimeInput{ExportType: "DIFF_EXPORT"},
			"Value 'DIFF_EXPORT' at 'exportType' failed to satisfy constraint"},
		{"ExportTime too", dynamodb.ExportTableToPointInTimeInput{ExportType: types.ExportTypeIncrementalExport,
			IncrementalExportSpecification: spec, ExportTime: aws.Time(now)}, "ExportTime"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.TableArn, in.S3Bucket = x.arn, aws.String("exports")
			_, err := x.db.ExportTableToPointInTime(context.Background(), &in)
			code, msg := apiErrorCode(t, err)
			require.Equal(t, "ValidationException", code)
			require.Contains(t, msg, tc.msg)
		})
	}
}

func TestIncrementalExport_MissingBucketFails(t *testing.T) {
	t.Parallel()
	x := newIncrTable(t, true)
	now := x.srv.Clock().Advance(time.Hour)
	out, err := x.db.ExportTableToPointInTime(context.Background(), &dynamodb.ExportTableToPointInTimeInput{
		TableArn: x.arn, S3Bucket: aws.String("no-such-bucket"), ExportType: types.ExportTypeIncrementalExport,
		IncrementalExportSpecification: &types.IncrementalExportSpecification{ExportFromTime: aws.Time(now.Add(-time.Hour))},
	})
	require.NoError(t, err)
	d, err := x.db.DescribeExport(context.Background(), &dynamodb.DescribeExportInput{ExportArn: out.ExportDescription.ExportArn})
	require.NoError(t, err)
	require.Equal(t, types.ExportStatusFailed, d.ExportDescription.ExportStatus)
	require.Equal(t, "S3NoSuchBucket", aws.ToString(d.ExportDescription.FailureCode))
	require.Equal(t, types.ExportTypeIncrementalExport, d.ExportDescription.ExportType)
}
