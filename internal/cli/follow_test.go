package cli_test

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/copycheck"
	"github.com/ddbsync/ddbsync/internal/emulator"
	"github.com/ddbsync/ddbsync/internal/emulator/emulatortest"
	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/internal/tenure"
)

// emulatedTable starts the emulator with a TenureInformation table holding
// n items. TestMain has pointed the AWS SDK of this process and its
// children at the emulator's region with fake credentials (awsEnv).
func emulatedTable(t *testing.T, n int) (*emulator.Server, []string) {
	t.Helper()
	emu := emulatortest.Start(t, emulator.WithStartTime(time.Now().UTC()), emulator.WithShards(2))
	require.Equal(t, awsEnv["AWS_REGION"], emu.Region(), "TestMain points the SDK at this region")
	ddb := emu.DynamoDB()
	_, err := ddb.CreateTable(t.Context(), &dynamodb.CreateTableInput{
		TableName:            aws.String(tenure.TableName),
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		BillingMode:          types.BillingModePayPerRequest,
		StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages},
	})
	require.NoError(t, err)
	gen := tenure.NewGenerator(5)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = gen.ID()
	}
	writeVersions(t, emu, ids, 1)
	return emu, ids
}

// writeVersions saves every id once more, with versionNumber v.
func writeVersions(t *testing.T, emu *emulator.Server, ids []string, v int) {
	t.Helper()
	ddb := emu.DynamoDB()
	gen := tenure.NewGenerator(uint64(v))
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			var reqs []types.WriteRequest
			for i := w; i < len(ids); i += 4 {
				it := gen.ItemWithID(ids[i])
				it["versionNumber"] = &types.AttributeValueMemberN{Value: fmt.Sprint(v)}
				reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
				if len(reqs) == 25 || i+4 >= len(ids) {
					_, err := ddb.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{
						RequestItems: map[string][]types.WriteRequest{tenure.TableName: reqs}})
					require.NoError(t, err)
					reqs = nil
				}
			}
		})
	}
	wg.Wait()
}

func requireCopyEqualsScan(t *testing.T, emu *emulator.Server, db string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), db)
	require.NoError(t, err)
	defer conn.Close(t.Context())
	res, err := copycheck.Check(t.Context(), emu.DynamoDB(), tenure.TableName, conn, pgx.Identifier{"dynamodb", "tenure_information"}, tenure.Key)
	require.NoError(t, err)
	require.True(t, res.Exact(), "the copy differs from a Scan: %s", res)
}

func TestFollowCmd_KilledThenResumed(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	emu, ids := emulatedTable(t, 1000) // 5,000 changes to follow: it is killed well before the end
	dir := t.TempDir()
	_, err := emu.ExportToDir(t.Context(), tenure.TableName, emu.Clock().Now(), dir)
	require.NoError(t, err)
	code, _, errOut := run(t, "load", "--export", dir, "--database-url", db, "--endpoint-url", emu.URL(), "--progress", "none")
	require.Equal(t, 0, code, errOut)
	for v := 2; v <= 6; v++ {
		writeVersions(t, emu, ids, v)
	}

	cmd := child(t, "follow", "--table", tenure.TableName, "--database-url", db, "--endpoint-url", emu.URL(), "--poll-interval", "10ms")
	deadline := time.Now().Add(time.Minute)
	for count(t, db, `SELECT coalesce(sum(changes_applied), 0)::int FROM ddbsync.shards`) == 0 {
		require.True(t, time.Now().Before(deadline), "the follower applied nothing")
		time.Sleep(5 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	t.Logf("killed after %d changes applied", count(t, db, `SELECT sum(changes_applied)::int FROM ddbsync.shards`))

	writeVersions(t, emu, ids[:100], 7)
	code, out, errOut := run(t, "follow", "--table", tenure.TableName, "--database-url", db, "--endpoint-url", emu.URL(),
		"--until-caught-up", "--poll-interval", "10ms", "--discover-interval", "100ms")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "watermark ")
	requireCopyEqualsScan(t, emu, db)

	code, out, errOut = run(t, "status", "--database-url", db)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "watermark")
	require.Contains(t, out, "reading")
}

func TestFollowCmd_StopsCleanlyOnSIGTERM(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	emu, _ := emulatedTable(t, 50)
	dir := t.TempDir()
	_, err := emu.ExportToDir(t.Context(), tenure.TableName, emu.Clock().Now(), dir)
	require.NoError(t, err)
	code, _, errOut := run(t, "load", "--export", dir, "--database-url", db, "--endpoint-url", emu.URL(), "--progress", "none")
	require.Equal(t, 0, code, errOut)

	cmd := child(t, "follow", "--table", tenure.TableName, "--database-url", db, "--endpoint-url", emu.URL(), "--poll-interval", "10ms")
	deadline := time.Now().Add(time.Minute)
	for count(t, db, `SELECT count(*)::int FROM ddbsync.shards WHERE state = 'reading'`) == 0 {
		require.True(t, time.Now().Before(deadline), "the follower did not start")
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	err = cmd.Wait()
	require.NoError(t, err, "exit status 0 after SIGTERM")
	require.Less(t, time.Since(start), 5*time.Second)
}

func TestFollowCmd_RefusesTableNotLoaded(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	emu, _ := emulatedTable(t, 1)
	code, _, errOut := run(t, "follow", "--table", tenure.TableName, "--database-url", db, "--endpoint-url", emu.URL())
	require.Equal(t, 1, code, errOut)
	require.Contains(t, errOut, "ddbsync load")
}
