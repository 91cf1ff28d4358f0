package snapshot

import (
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ExportAPI is the part of the DynamoDB API that requesting an export uses;
// *dynamodb.Client has it.
type ExportAPI interface {
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	DescribeContinuousBackups(ctx context.Context, in *dynamodb.DescribeContinuousBackupsInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeContinuousBackupsOutput, error)
	ExportTableToPointInTime(ctx context.Context, in *dynamodb.ExportTableToPointInTimeInput, opts ...func(*dynamodb.Options)) (*dynamodb.ExportTableToPointInTimeOutput, error)
	DescribeExport(ctx context.Context, in *dynamodb.DescribeExportInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeExportOutput, error)
}

// ErrPITRDisabled is a table without point-in-time recovery, which
// ExportTableToPointInTime needs.
var ErrPITRDisabled = errors.New("point-in-time recovery is not enabled")

// ErrExportFailed is an export that AWS reports as FAILED.
var ErrExportFailed = errors.New("export failed")

// ExportRequest asks for a full DYNAMODB_JSON export of Table into S3.
type ExportRequest struct {
	Table  string
	Bucket string
	Prefix string
	// Poll is the wait between DescribeExport calls (default 10 s).
	Poll time.Duration
	// Progress, when set, is called after every poll.
	Progress func(status types.ExportStatus, elapsed time.Duration)
}

// RequestExport checks that point-in-time recovery is on, starts a full
// export of the table as of now, waits for it to finish, and returns the S3
// URI of the export folder (s3://bucket/prefix/AWSDynamoDB/<id>/), ready
// for [NewS3Source].
func RequestExport(ctx context.Context, api ExportAPI, req ExportRequest) (string, error) {
	if req.Poll <= 0 {
		req.Poll = 10 * time.Second
	}
	desc, err := api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(req.Table)})
	if err != nil {
		return "", fmt.Errorf("exporting %s: %w", req.Table, err)
	}
	backups, err := api.DescribeContinuousBackups(ctx, &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String(req.Table)})
	if err != nil {
		return "", fmt.Errorf("exporting %s: checking point-in-time recovery: %w", req.Table, err)
	}
	if d := backups.ContinuousBackupsDescription; d == nil || d.PointInTimeRecoveryDescription == nil ||
		d.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus != types.PointInTimeRecoveryStatusEnabled {
		return "", fmt.Errorf("exporting %s: %w, and exports need it", req.Table, ErrPITRDisabled)
	}
	in := &dynamodb.ExportTableToPointInTimeInput{
		TableArn:     desc.Table.TableArn,
		S3Bucket:     aws.String(req.Bucket),
		ExportFormat: types.ExportFormatDynamodbJson,
		ExportType:   types.ExportTypeFullExport,
	}
	if req.Prefix != "" {
		in.S3Prefix = aws.String(req.Prefix)
	}
	out, err := api.ExportTableToPointInTime(ctx, in)
	if err != nil {
		return "", fmt.Errorf("exporting %s: %w", req.Table, err)
	}
	return waitExport(ctx, api, req.Table, aws.ToString(out.ExportDescription.ExportArn), req.Poll, 0, req.Progress)
}

// waitExport polls DescribeExport for export arn of table every poll until
// it completes, fails, ctx is done or maxWait (0: no limit) has passed, and
// returns the S3 URI of its export folder.
func waitExport(ctx context.Context, api ExportAPI, table, arn string, poll, maxWait time.Duration,
	progress func(types.ExportStatus, time.Duration)) (string, error) {
	start := time.Now()
	for {
		d, err := api.DescribeExport(ctx, &dynamodb.DescribeExportInput{ExportArn: aws.String(arn)})
		if err != nil {
			return "", fmt.Errorf("exporting %s: waiting for %s: %w", table, arn, err)
		}
		e := d.ExportDescription
		if progress != nil {
			progress(e.ExportStatus, time.Since(start))
		}
		switch e.ExportStatus {
		case types.ExportStatusCompleted:
			manifest := aws.ToString(e.ExportManifest)
			if manifest == "" {
				return "", fmt.Errorf("exporting %s: export %s completed without a manifest key", table, arn)
			}
			return "s3://" + aws.ToString(e.S3Bucket) + "/" + path.Dir(manifest) + "/", nil
		case types.ExportStatusFailed:
			return "", fmt.Errorf("exporting %s: %w: %s: %s", table, ErrExportFailed,
				aws.ToString(e.FailureCode), aws.ToString(e.FailureMessage))
		}
		if maxWait > 0 && time.Since(start)+poll > maxWait {
			return "", fmt.Errorf("exporting %s: export %s still runs in AWS after %s; stopped waiting", table, arn,
				time.Since(start).Round(time.Second))
		}
		select {
		case <-time.After(poll):
		case <-ctx.Done():
			return "", fmt.Errorf("exporting %s: export %s still runs in AWS; stopped waiting: %w", table, arn, ctx.Err())
		}
	}
}
