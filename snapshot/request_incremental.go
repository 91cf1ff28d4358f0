package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The window rules of incremental exports: AWS refuses a window shorter
// than 15 minutes or longer than 24 hours.
const (
	MinIncrementalWindow = 15 * time.Minute
	MaxIncrementalWindow = 24 * time.Hour
)

// PITR is a table's point-in-time recovery window, as DescribeTable and
// DescribeContinuousBackups tell it: an export may target [Earliest, Latest].
type PITR struct {
	TableArn string
	// Earliest is EarliestRestorableDateTime: no export reaches back
	// further. Latest is LatestRestorableDateTime, typically 5 minutes
	// before now: the latest an incremental export's window may end.
	Earliest, Latest time.Time
}

// ReadPITR reads table's ARN and point-in-time recovery window. A table
// without point-in-time recovery is [ErrPITRDisabled].
func ReadPITR(ctx context.Context, api ExportAPI, table string) (PITR, error) {
	desc, err := api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		return PITR{}, fmt.Errorf("describing %s: %w", table, err)
	}
	backups, err := api.DescribeContinuousBackups(ctx, &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String(table)})
	if err != nil {
		return PITR{}, fmt.Errorf("checking point-in-time recovery of %s: %w", table, err)
	}
	d := backups.ContinuousBackupsDescription
	if d == nil || d.PointInTimeRecoveryDescription == nil ||
		d.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus != types.PointInTimeRecoveryStatusEnabled {
		return PITR{}, fmt.Errorf("table %s: %w, and exports need it", table, ErrPITRDisabled)
	}
	p := d.PointInTimeRecoveryDescription
	if p.EarliestRestorableDateTime == nil || p.LatestRestorableDateTime == nil {
		return PITR{}, fmt.Errorf("table %s: DescribeContinuousBackups gave no restorable window", table)
	}
	return PITR{TableArn: aws.ToString(desc.Table.TableArn), Earliest: p.EarliestRestorableDateTime.UTC(),
		Latest: p.LatestRestorableDateTime.UTC()}, nil
}

// IncrementalRequest asks for an incremental DYNAMODB_JSON export of the
// writes to a table in [From, To) into S3.
type IncrementalRequest struct {
	Table    string
	TableArn string // from [ReadPITR]
	Bucket   string
	Prefix   string
	From, To time.Time
	View     ViewType // default NEW_IMAGE
	// ClientToken makes the request idempotent: AWS answers a repeated one
	// (for 8 hours) with the export it started the first time. Default:
	// derived from the table, the window, the view and the destination, so
	// that a rerun after an interruption finds the export already started.
	ClientToken string
	// Poll is the wait between DescribeExport calls (default 10 s);
	// MaxWait bounds the whole wait (0: only ctx does).
	Poll, MaxWait time.Duration
	// Progress, when set, is called after every poll.
	Progress func(status types.ExportStatus, elapsed time.Duration)
}

// RequestIncrementalExport starts an incremental export (ExportType
// INCREMENTAL_EXPORT) of the window [From, To), waits for it to finish, and
// returns the S3 URI of its export folder
// (s3://bucket/prefix/AWSDynamoDB/<id>/), ready for [NewS3Source] and
// [OpenIncremental]. Errors of the window (AWS's InvalidExportTimeException)
// are returned as AWS words them.
func RequestIncrementalExport(ctx context.Context, api ExportAPI, req IncrementalRequest) (string, error) {
	if req.Poll <= 0 {
		req.Poll = 10 * time.Second
	}
	if req.View == "" {
		req.View = ViewNewImage
	}
	if req.ClientToken == "" {
		h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%s\x00%s\x00%s\x00%s", req.TableArn, req.From.UTC().Format(time.RFC3339Nano),
			req.To.UTC().Format(time.RFC3339Nano), req.View, req.Bucket, req.Prefix))
		req.ClientToken = "ddbsync-" + hex.EncodeToString(h[:12])
	}
	in := &dynamodb.ExportTableToPointInTimeInput{
		TableArn:     aws.String(req.TableArn),
		S3Bucket:     aws.String(req.Bucket),
		ExportFormat: types.ExportFormatDynamodbJson,
		ExportType:   types.ExportTypeIncrementalExport,
		IncrementalExportSpecification: &types.IncrementalExportSpecification{
			ExportFromTime: aws.Time(req.From), ExportToTime: aws.Time(req.To), ExportViewType: types.ExportViewType(req.View),
		},
		ClientToken: aws.String(req.ClientToken),
	}
	if req.Prefix != "" {
		in.S3Prefix = aws.String(req.Prefix)
	}
	out, err := api.ExportTableToPointInTime(ctx, in)
	if err != nil {
		return "", fmt.Errorf("exporting the changes to %s in [%s, %s): %w", req.Table,
			req.From.UTC().Format(time.RFC3339), req.To.UTC().Format(time.RFC3339), err)
	}
	return waitExport(ctx, api, req.Table, aws.ToString(out.ExportDescription.ExportArn), req.Poll, req.MaxWait, req.Progress)
}

// Window is an incremental export's window [From, To).
type Window struct{ From, To time.Time }

// IncrementalWindows splits [from, to) into the windows of a chain of
// incremental exports, in order, each at most [MaxIncrementalWindow] and
// at least [MinIncrementalWindow] long: windows of 24 hours from from, and
// a last one ending at to, started earlier when the rest is shorter than
// 15 minutes (it then overlaps the window before it). It returns nil when
// to − from is shorter than 15 minutes: there is no window to ask for yet.
func IncrementalWindows(from, to time.Time) []Window {
	if to.Sub(from) < MinIncrementalWindow {
		return nil
	}
	var ws []Window
	for to.Sub(from) > MaxIncrementalWindow {
		ws = append(ws, Window{from, from.Add(MaxIncrementalWindow)})
		from = from.Add(MaxIncrementalWindow)
	}
	if to.Sub(from) < MinIncrementalWindow {
		from = to.Add(-MinIncrementalWindow)
	}
	return append(ws, Window{from, to})
}
