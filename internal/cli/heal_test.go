package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/emulator"
	"github.com/ddbsync/ddbsync/internal/emulator/emulatortest"
	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/snapshot"
)

// enablePITR turns point-in-time recovery on for the tenure table: it
// reaches back to the emulator clock's now.
func enablePITR(t *testing.T, emu *emulator.Server) {
	t.Helper()
	_, err := emu.DynamoDB().UpdateContinuousBackups(t.Context(), &dynamodb.UpdateContinuousBackupsInput{
		TableName:                        aws.String(tenure.TableName),
		PointInTimeRecoverySpecification: &types.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: aws.Bool(true)},
	})
	require.NoError(t, err)
}

// exportAndLoad exports the emulated table as of the clock's now and loads
// it into db.
func exportAndLoad(t *testing.T, emu *emulator.Server, db string) time.Time {
	t.Helper()
	at := emu.Clock().Now()
	dir := t.TempDir()
	_, err := emu.ExportToDir(t.Context(), tenure.TableName, at, dir)
	require.NoError(t, err)
	code, _, errOut := run(t, "load", "--export", dir, "--database-url", db, "--endpoint-url", emu.URL(), "--progress", "none")
	require.Equal(t, 0, code, errOut)
	return at
}

// pitrLoadedTable is an emulated table of n items with a stream and
// point-in-time recovery (from before its first write), a bucket named
// exports, and a database holding the load of its export.
func pitrLoadedTable(t *testing.T, n int) (*emulator.Server, string, []string) {
	t.Helper()
	emu, _ := emulatedTable(t, 0)
	enablePITR(t, emu)
	require.NoError(t, emu.CreateBucket("exports"))
	emu.Clock().Advance(time.Minute)
	ids := newIDs(n)
	writeVersions(t, emu, ids, 1)
	emu.Clock().Advance(time.Minute)
	db := pgtest.URL(t)
	exportAndLoad(t, emu, db)
	return emu, db, ids
}

func newIDs(n int) []string {
	gen := tenure.NewGenerator(9)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = gen.ID()
	}
	return ids
}

// churn writes versions of ids and deletes one of them, in steps over d of
// fake time.
func churn(t *testing.T, emu *emulator.Server, ids []string, d time.Duration, steps int) {
	t.Helper()
	for i := range steps {
		n := len(ids)
		k := (i * 3) % max(1, n-5)
		writeVersions(t, emu, ids[k:min(n, k+5)], 10+i)
		_, err := emu.DynamoDB().DeleteItem(t.Context(), &dynamodb.DeleteItemInput{TableName: aws.String(tenure.TableName),
			Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: ids[(i*7+2)%n]}}})
		require.NoError(t, err)
		emu.Clock().Advance(d / time.Duration(steps))
	}
}

// damageIncrementalExport starts the incremental export heal or sync is
// about to ask for (same window, view and destination, so the same client
// token) and damages one of its data files in S3: the command then finds
// that export, and refuses it.
func damageIncrementalExport(t *testing.T, emu *emulator.Server, from time.Time, bucket, prefix string) {
	t.Helper()
	desc, err := emu.DynamoDB().DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(tenure.TableName)})
	require.NoError(t, err)
	uri, err := snapshot.RequestIncrementalExport(t.Context(), emu.DynamoDB(), snapshot.IncrementalRequest{
		Table: tenure.TableName, TableArn: aws.ToString(desc.Table.TableArn), Bucket: bucket, Prefix: prefix,
		From: from.Truncate(time.Second), To: emu.Clock().Now().Truncate(time.Second), Poll: time.Millisecond,
	})
	require.NoError(t, err)
	src, err := snapshot.NewS3Source(emu.S3(), uri)
	require.NoError(t, err)
	exp, err := snapshot.OpenIncremental(t.Context(), src)
	require.NoError(t, err)
	_, err = emu.S3().PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket),
		Key: aws.String(exp.Files[0].DataFileS3Key), Body: bytes.NewReader([]byte("not the bytes AWS wrote"))})
	require.NoError(t, err)
}

// incrementalDir writes the emulated table's incremental export of [from,
// to) into a new folder and returns the export folder.
func incrementalDir(t *testing.T, emu *emulator.Server, from, to time.Time, view snapshot.ViewType) string {
	t.Helper()
	dir, _, err := emu.ExportIncrementalToDir(t.Context(), tenure.TableName, from, to, view, t.TempDir())
	require.NoError(t, err)
	return dir
}

func TestHealCmd_GapThenHealThenFollow(t *testing.T) {
	t.Parallel()
	emu, db, ids := pitrLoadedTable(t, 200)
	follow := []string{"follow", "--table", tenure.TableName, "--until-caught-up", "--database-url", db, "--endpoint-url", emu.URL(),
		"--poll-interval", "10ms", "--discover-interval", "100ms"}
	code, _, errOut := run(t, follow...)
	require.Equal(t, 0, code, errOut)

	// 30 hours of writes nobody followed: the stream no longer has the
	// oldest of them.
	churn(t, emu, ids, 30*time.Hour, 6)
	code, _, errOut = run(t, follow...)
	require.Equal(t, 1, code, errOut)
	require.Contains(t, errOut, "ddbsync heal --table "+tenure.TableName, "the refusal names heal")

	code, out, errOut := run(t, "heal", "--table", tenure.TableName, "--s3", "s3://exports/heal", "--poll", "10ms",
		"--database-url", db, "--endpoint-url", emu.URL(), "--progress", "none")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "applied 2 incremental exports", "30 hours take two windows of at most 24 hours")
	require.Contains(t, out, "ddbsync follow --table "+tenure.TableName)
	requireCopyEqualsScan(t, emu, db)

	churn(t, emu, ids, 10*time.Minute, 2)
	code, _, errOut = run(t, follow...)
	require.Equal(t, 0, code, errOut)
	requireCopyEqualsScan(t, emu, db)
}

func TestLoadCmd_IncrementalExport(t *testing.T) {
	t.Parallel()
	emu, db, ids := pitrLoadedTable(t, 100)
	at := emu.Clock().Now()
	churn(t, emu, ids, 20*time.Minute, 4)
	before := count(t, db, `SELECT count(*) FROM dynamodb.tenure_information WHERE origin = 'export'`)

	// A window that leaves a gap after the copy: refused, nothing applied.
	late := incrementalDir(t, emu, at.Add(5*time.Minute), emu.Clock().Now(), snapshot.ViewNewImage)
	code, _, errOut := run(t, "load", "--export", late, "--database-url", db, "--progress", "none")
	require.Equal(t, 1, code, errOut)
	require.Contains(t, errOut, "does not fit the copy")
	require.Contains(t, errOut, "ddbsync: export a window that starts at or before")
	require.Equal(t, before, count(t, db, `SELECT count(*) FROM dynamodb.tenure_information WHERE origin = 'export'`))

	// A NEW_IMAGE export from the copy's instant: applied.
	dir := incrementalDir(t, emu, at, emu.Clock().Now(), snapshot.ViewNewImage)
	code, out, errOut := run(t, "load", "--export", dir, "--database-url", db, "--progress", "none")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, `to "dynamodb"."tenure_information"`)
	require.Contains(t, out, "the copy is now as of")
	requireCopyEqualsScan(t, emu, db)
	require.Positive(t, count(t, db, `SELECT count(*) FROM dynamodb.tenure_information WHERE origin = 'incremental'`))

	// Again: nothing to do.
	code, out, errOut = run(t, "load", "--export", dir, "--database-url", db, "--progress", "none")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "nothing to do")

	code, out, errOut = run(t, "status", "--database-url", db)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "end of the last incremental export")
}

func TestLoadCmd_IncrementalExportWithABadMD5IsRefused(t *testing.T) {
	t.Parallel()
	emu, db, ids := pitrLoadedTable(t, 50)
	at := emu.Clock().Now()
	churn(t, emu, ids, 20*time.Minute, 2)
	dir := incrementalDir(t, emu, at, emu.Clock().Now(), "")
	src, err := snapshot.NewDirSource(dir)
	require.NoError(t, err)
	exp, err := snapshot.OpenIncremental(t.Context(), src)
	require.NoError(t, err)
	corruptFile(t, dir, exp.Files[0].Name)
	rows := func() string {
		return strings.Join(rowsOf(t, db, `SELECT id || origin || item::text FROM dynamodb.tenure_information ORDER BY id`), "\n")
	}
	before := rows()
	code, _, errOut := run(t, "load", "--export", dir, "--database-url", db, "--progress", "none")
	require.Equal(t, 1, code, errOut)
	require.Contains(t, errOut, "checksum mismatch")
	require.Contains(t, errOut, exp.Files[0].Name)
	require.Equal(t, before, rows(), "nothing applied")
}

func TestLoadCmd_IncrementalKilledThenResumed(t *testing.T) {
	t.Parallel()
	emu := emulatortest.Start(t, emulator.WithStartTime(time.Now().UTC()), emulator.WithExportFiles(16))
	createTenureTable(t, emu, false)
	db := pgtest.URL(t)
	ids := newIDs(4000)
	writeVersions(t, emu, ids, 1)
	emu.Clock().Advance(time.Minute)
	at := exportAndLoad(t, emu, db)
	writeVersions(t, emu, ids, 2)
	emu.Clock().Advance(20 * time.Minute)
	dir := incrementalDir(t, emu, at, emu.Clock().Now(), "")

	cmd := child(t, "load", "--export", dir, "--database-url", db, "--workers", "1", "--progress", "none")
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	staged := `SELECT count(*) FROM ddbsync.load_files JOIN ddbsync.loads USING (load_id) WHERE export_type = 'INCREMENTAL_EXPORT'`
	deadline := time.Now().Add(time.Minute)
	for count(t, db, staged) < 2 {
		require.True(t, time.Now().Before(deadline), "the apply made no progress")
		select {
		case err := <-exited:
			t.Fatalf("the apply ended before it could be killed: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	<-exited
	require.Less(t, count(t, db, staged), 16, "the apply finished before it could be killed")
	require.Zero(t, count(t, db, `SELECT count(*) FROM dynamodb.tenure_information WHERE origin = 'incremental'`),
		"a killed apply applies nothing")

	code, out, errOut := run(t, "load", "--export", dir, "--database-url", db, "--progress", "none")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "files were already staged by an earlier run")
	requireCopyEqualsScan(t, emu, db)
}

func TestSyncCmd_KeepsAStreamlessTableEqualToAScan(t *testing.T) {
	t.Parallel()
	emu := emulatortest.Start(t, emulator.WithStartTime(time.Now().UTC()))
	createTenureTable(t, emu, false)
	enablePITR(t, emu)
	require.NoError(t, emu.CreateBucket("exports"))
	emu.Clock().Advance(time.Minute)
	ids := newIDs(80)
	writeVersions(t, emu, ids, 1)
	emu.Clock().Advance(time.Minute)
	db := pgtest.URL(t)
	exportAndLoad(t, emu, db)
	cfg := writeConfig(t, `
tables:
  - name: `+tenure.TableName+`
    sync_every: 1h
    s3: s3://exports/sync
`)
	sync := []string{"sync", "--config", cfg, "--once", "--poll", "10ms", "--database-url", db, "--endpoint-url", emu.URL()}

	// Too soon after the load: nothing to do.
	code, out, errOut := run(t, sync...)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "nothing to do")

	var last string
	for round := range 3 {
		churn(t, emu, ids, time.Hour, 3)
		code, out, errOut = run(t, sync...)
		require.Equal(t, 0, code, "round %d: %s", round, errOut)
		require.Contains(t, out, tenure.TableName+": watermark ")
		require.NotEqual(t, last, out)
		last = out
		requireCopyEqualsScan(t, emu, db)
	}
	code, out, errOut = run(t, "status", "--database-url", db)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "kept by `ddbsync sync`")
	require.Equal(t, 3, count(t, db, `SELECT count(*) FROM ddbsync.loads WHERE export_type = 'INCREMENTAL_EXPORT' AND state = 'published'`))
}

func TestSyncCmd_StopsCleanlyOnSIGTERM(t *testing.T) {
	t.Parallel()
	emu := emulatortest.Start(t, emulator.WithStartTime(time.Now().UTC()))
	createTenureTable(t, emu, false)
	enablePITR(t, emu)
	require.NoError(t, emu.CreateBucket("exports"))
	emu.Clock().Advance(time.Minute)
	writeVersions(t, emu, newIDs(20), 1)
	emu.Clock().Advance(time.Minute)
	db := pgtest.URL(t)
	exportAndLoad(t, emu, db)
	emu.Clock().Advance(time.Hour)
	cmd := child(t, "sync", "--table", tenure.TableName, "--s3", "s3://exports/sync", "--every", "1h", "--poll", "10ms",
		"--database-url", db, "--endpoint-url", emu.URL())
	// The first round runs at once; then it waits an hour for the next.
	deadline := time.Now().Add(time.Minute)
	for count(t, db, `SELECT count(*) FROM ddbsync.streams WHERE stream_arn = '' AND watermark IS NOT NULL`) == 0 {
		require.True(t, time.Now().Before(deadline), "no round was done")
		time.Sleep(5 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), "exit status 0 after SIGTERM")
	requireCopyEqualsScan(t, emu, db)
}

// createTenureTable creates the tenure table in emu, with a stream or not.
func createTenureTable(t *testing.T, emu *emulator.Server, withStream bool) {
	t.Helper()
	in := &dynamodb.CreateTableInput{
		TableName:            aws.String(tenure.TableName),
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		BillingMode:          types.BillingModePayPerRequest,
	}
	if withStream {
		in.StreamSpecification = &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages}
	}
	_, err := emu.DynamoDB().CreateTable(t.Context(), in)
	require.NoError(t, err)
}

// corruptFile appends a byte to file name of the export folder dir: its
// MD5 no longer matches the manifest's.
func corruptFile(t *testing.T, dir, name string) {
	t.Helper()
	path := filepath.Join(dir, filepath.FromSlash(name))
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, append(raw, 0), 0o644))
}

func rowsOf(t *testing.T, db, query string) []string {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), db)
	require.NoError(t, err)
	defer conn.Close(t.Context())
	rows, err := conn.Query(t.Context(), query)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}

// incrementalArgs runs heal or sync (one round) on the tenure table of emu,
// into s3://exports/t.
func incrementalArgs(cmd string, emu *emulator.Server, db string) []string {
	args := []string{cmd, "--table", tenure.TableName, "--s3", "s3://exports/t", "--poll", "10ms", "--endpoint-url", emu.URL(), "--database-url", db}
	if cmd == "sync" {
		args = append(args, "--once")
	}
	return args
}
