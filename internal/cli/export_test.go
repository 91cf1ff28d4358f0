package cli_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/internal/tenure"
)

func TestExportCmd_ChecksPITRThenExportsAndLoads(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	emu, ids := emulatedTable(t, 120)
	require.NoError(t, emu.CreateBucket("exports"))
	args := []string{"export", "--table", tenure.TableName, "--s3", "s3://exports/tenure", "--load", "--key", "id",
		"--poll", "10ms", "--progress", "none", "--database-url", db, "--endpoint-url", emu.URL()}

	code, _, errOut := run(t, args...)
	require.Equal(t, 1, code, errOut)
	require.Contains(t, errOut, "point-in-time recovery is not enabled")
	require.Contains(t, errOut, "ddbsync: enable it: aws dynamodb update-continuous-backups --table-name "+tenure.TableName)

	_, err := emu.DynamoDB().UpdateContinuousBackups(t.Context(), &dynamodb.UpdateContinuousBackupsInput{
		TableName:                        aws.String(tenure.TableName),
		PointInTimeRecoverySpecification: &types.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: aws.Bool(true)},
	})
	require.NoError(t, err)
	code, out, errOut := run(t, args...)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "export of TenureInformation complete: s3://exports/tenure/AWSDynamoDB/")
	require.Contains(t, out, "loaded 120 items")
	require.Equal(t, len(ids), count(t, db, `SELECT count(*)::int FROM dynamodb.tenure_information`))
}
