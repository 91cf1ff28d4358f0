package emulator_test

import (
	"context"
	"fmt"
	"path"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/emulator"
	"github.com/ddbsync/ddbsync/snapshot"
)

func enablePITR(t *testing.T, db *dynamodb.Client, name string) {
	t.Helper()
	_, err := db.UpdateContinuousBackups(context.Background(), &dynamodb.UpdateContinuousBackupsInput{
		TableName:                        aws.String(name),
		PointInTimeRecoverySpecification: &types.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: aws.Bool(true)},
	})
	require.NoError(t, err)
}

// scanState returns the table's items, encoded canonically, by key.
func scanState(t *testing.T, db *dynamodb.Client, name string) map[string]string {
	t.Helper()
	out, err := db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(name)})
	require.NoError(t, err)
	state := map[string]string{}
	for _, it := range out.Items {
		b, err := ddbjson.EncodeItem(it)
		require.NoError(t, err)
		state[it["pk"].(*types.AttributeValueMemberS).Value] = string(b)
	}
	return state
}

// readExport reads every item of an export, verifying checksums and counts.
func readExport(t *testing.T, src snapshot.Source) (*snapshot.Export, map[string]string) {
	t.Helper()
	ctx := context.Background()
	e, err := snapshot.Open(ctx, src)
	require.NoError(t, err)
	state := map[string]string{}
	for _, f := range e.Files {
		r, err := e.OpenFile(ctx, f)
		require.NoError(t, err)
		for r.Next() {
			b, err := ddbjson.EncodeItem(r.Item())
			require.NoError(t, err)
			state[r.Item()["pk"].(*types.AttributeValueMemberS).Value] = string(b)
		}
		require.NoError(t, r.Err())
		require.NoError(t, r.Close())
	}
	return e, state
}

func TestExport_IsTableStateAtExportTimeWhileWritesContinue(t *testing.T) {
	t.Parallel()
	srv, name := exportableTable(t, emulator.WithExportDuration(2*time.Minute))
	db, s3c := srv.DynamoDB(), srv.S3()
	ctx := context.Background()
	for i := range 30 {
		put(t, db, name, map[string]types.AttributeValue{"pk": s(fmt.Sprint("k", i)), "v": n(fmt.Sprint(i)),
			"tags": &types.AttributeValueMemberSS{Value: []string{"a", "b"}}})
	}
	srv.Clock().Advance(time.Minute)
	at := srv.Clock().Now()
	want := scanState(t, db, name)

	// Writes after T: modify, delete, insert. None may show in the export.
	srv.Clock().Advance(time.Second)
	put(t, db, name, map[string]types.AttributeValue{"pk": s("k1"), "v": n("100")})
	_, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(name), Key: map[string]types.AttributeValue{"pk": s("k2")}})
	require.NoError(t, err)
	put(t, db, name, map[string]types.AttributeValue{"pk": s("late")})

	d, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	require.NoError(t, err)
	out, err := db.ExportTableToPointInTime(ctx, &dynamodb.ExportTableToPointInTimeInput{
		TableArn: d.Table.TableArn, S3Bucket: aws.String("exports"), S3Prefix: aws.String("some/prefix"),
		ExportTime: aws.Time(at), ExportFormat: types.ExportFormatDynamodbJson,
	})
	require.NoError(t, err)
	desc := out.ExportDescription
	require.Equal(t, types.ExportStatusInProgress, desc.ExportStatus)
	require.Equal(t, at, desc.ExportTime.UTC())

	got, err := db.DescribeExport(ctx, &dynamodb.DescribeExportInput{ExportArn: desc.ExportArn})
	require.NoError(t, err)
	require.Equal(t, types.ExportStatusInProgress, got.ExportDescription.ExportStatus)
	srv.Clock().Advance(2 * time.Minute)
	got, err = db.DescribeExport(ctx, &dynamodb.DescribeExportInput{ExportArn: desc.ExportArn})
	require.NoError(t, err)
	desc = got.ExportDescription
	require.Equal(t, types.ExportStatusCompleted, desc.ExportStatus)
	require.EqualValues(t, 30, aws.ToInt64(desc.ItemCount))
	manifest := aws.ToString(desc.ExportManifest)
	require.Regexp(t, `^some/prefix/AWSDynamoDB/\d{14}-[0-9a-f]{8}/manifest-summary.json$`, manifest)

	src, err := snapshot.NewS3Source(s3c, "s3://exports/"+path.Dir(manifest)+"/")
	require.NoError(t, err)
	e, fromS3 := readExport(t, src)
	require.Equal(t, want, fromS3)
	require.Equal(t, aws.ToString(desc.ExportArn), e.Summary.ExportArn)
	require.Equal(t, at, e.Summary.ExportTime.UTC())
	require.Equal(t, "exports", e.Summary.S3Bucket)

	dir := t.TempDir()
	_, err = srv.ExportToDir(ctx, name, at, dir)
	require.NoError(t, err)
	src2, err := snapshot.NewDirSource(dir)
	require.NoError(t, err)
	_, fromDir := readExport(t, src2)
	require.Equal(t, want, fromDir)

	// And now, with the later writes.
	_, err = srv.ExportToDir(ctx, name, srv.Clock().Now(), t.TempDir()+"/now")
	require.NoError(t, err)

	list, err := db.ListExports(ctx, &dynamodb.ListExportsInput{TableArn: d.Table.TableArn})
	require.NoError(t, err)
	require.Len(t, list.ExportSummaries, 1)
	require.Equal(t, aws.ToString(desc.ExportArn), aws.ToString(list.ExportSummaries[0].ExportArn))
}

func TestExport_Errors(t *testing.T) {
	t.Parallel()
	srv := startEmulator(t)
	db := srv.DynamoDB()
	ctx := context.Background()
	require.NoError(t, srv.CreateBucket("b"))
	name := createTable(t, db, false, false)
	d, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	require.NoError(t, err)
	arn := d.Table.TableArn

	_, err = db.ExportTableToPointInTime(ctx, &dynamodb.ExportTableToPointInTimeInput{TableArn: arn, S3Bucket: aws.String("b")})
	var noPITR *types.PointInTimeRecoveryUnavailableException
	require.ErrorAs(t, err, &noPITR)
	require.Contains(t, noPITR.ErrorMessage(), "Point in time recovery is not enabled for table '"+name+"'")

	_, err = db.ExportTableToPointInTime(ctx, &dynamodb.ExportTableToPointInTimeInput{TableArn: aws.String(aws.ToString(arn) + "x"), S3Bucket: aws.String("b")})
	var noTable *types.TableNotFoundException
	require.ErrorAs(t, err, &noTable)

	enablePITR(t, db, name)
	cb, err := db.DescribeContinuousBackups(ctx, &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String(name)})
	require.NoError(t, err)
	require.Equal(t, types.PointInTimeRecoveryStatusEnabled, cb.ContinuousBackupsDescription.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus)

	_, err = db.ExportTableToPointInTime(ctx, &dynamodb.ExportTableToPointInTimeInput{TableArn: arn, S3Bucket: aws.String("b"),
		ExportTime: aws.Time(srv.Clock().Now().Add(-time.Hour))})
	var badTime *types.InvalidExportTimeException
	require.ErrorAs(t, err, &badTime)

	out, err := db.ExportTableToPointInTime(ctx, &dynamodb.ExportTableToPointInTimeInput{TableArn: arn, S3Bucket: aws.String("no-such-bucket")})
	require.NoError(t, err)
	got, err := db.DescribeExport(ctx, &dynamodb.DescribeExportInput{ExportArn: out.ExportDescription.ExportArn})
	require.NoError(t, err)
	require.Equal(t, types.ExportStatusFailed, got.ExportDescription.ExportStatus)
	require.Equal(t, "S3NoSuchBucket", aws.ToString(got.ExportDescription.FailureCode))

	_, err = db.DescribeExport(ctx, &dynamodb.DescribeExportInput{ExportArn: aws.String(aws.ToString(arn) + "/export/nope")})
	var noExport *types.ExportNotFoundException
	require.ErrorAs(t, err, &noExport)
}

// With only the latest versions kept, an export as of an instant whose
// versions are forgotten is refused, by the API and by ExportToDir, and one
// as of now still holds every item.
func TestExport_LatestVersionsOnlyRefusesForgottenInstants(t *testing.T) {
	t.Parallel()
	srv, name := exportableTable(t, emulator.WithLatestVersionsOnly())
	db := srv.DynamoDB()
	ctx := context.Background()
	for i := range 3 {
		put(t, db, name, map[string]types.AttributeValue{"pk": s(fmt.Sprint("k", i)), "v": n("1")})
	}
	srv.Clock().Advance(time.Minute)
	before := srv.Clock().Now()
	_, err := srv.ExportToDir(ctx, name, before, t.TempDir())
	require.NoError(t, err, "nothing forgotten yet")

	srv.Clock().Advance(time.Minute)
	put(t, db, name, map[string]types.AttributeValue{"pk": s("k1"), "v": n("2")})
	_, err = srv.ExportToDir(ctx, name, before, t.TempDir())
	require.ErrorContains(t, err, "keeps only the latest versions")

	d, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	require.NoError(t, err)
	_, err = db.ExportTableToPointInTime(ctx, &dynamodb.ExportTableToPointInTimeInput{
		TableArn: d.Table.TableArn, S3Bucket: aws.String("exports"), ExportTime: aws.Time(before),
		ExportFormat: types.ExportFormatDynamodbJson,
	})
	var ite *types.InvalidExportTimeException
	require.ErrorAs(t, err, &ite, "the forgotten instant is outside the PITR window")

	srv.Clock().Advance(time.Second)
	sum, err := srv.ExportToDir(ctx, name, srv.Clock().Now(), t.TempDir())
	require.NoError(t, err)
	require.EqualValues(t, 3, sum.ItemCount)
}

// exportableTable starts an emulator with opts, with a bucket "exports"
// and a table with point-in-time recovery on, and returns the table's name.
func exportableTable(t *testing.T, opts ...emulator.Option) (*emulator.Server, string) {
	t.Helper()
	srv := startEmulator(t, opts...)
	_, err := srv.S3().CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("exports")})
	require.NoError(t, err)
	db := srv.DynamoDB()
	name := createTable(t, db, false, true)
	enablePITR(t, db, name)
	return srv, name
}
