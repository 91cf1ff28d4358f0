package cli_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/cli"
	"github.com/ddbsync/ddbsync/internal/pgtest"
)

// childEnv makes the test binary act as the ddbsync command, so tests can
// run it as a separate process and kill it.
const childEnv = "DDBSYNC_TEST_CHILD_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(childEnv); args != "" {
		var argv []string
		if err := json.Unmarshal([]byte(args), &argv); err != nil {
			panic(err)
		}
		os.Exit(cli.Run(argv, os.Stdin, os.Stdout, os.Stderr))
	}
	// Set once for the whole binary, not with t.Setenv, so that tests can
	// run in parallel; child processes inherit them.
	for k, v := range awsEnv {
		if err := os.Setenv(k, v); err != nil {
			panic(err)
		}
	}
	os.Exit(pgtest.Main(m))
}

// awsEnv is the AWS configuration of the tests: fake credentials and the
// emulator's default region.
var awsEnv = map[string]string{
	"AWS_ACCESS_KEY_ID":         "test",
	"AWS_SECRET_ACCESS_KEY":     "test",
	"AWS_REGION":                "us-east-1",
	"AWS_EC2_METADATA_DISABLED": "true",
}

// run runs ddbsync in-process and returns its exit status and output.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := cli.Run(args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// child starts ddbsync as a separate process.
func child(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	raw, err := json.Marshal(args)
	require.NoError(t, err)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(raw))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

func sampleExport(t *testing.T, items, files int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "export")
	code, out, errOut := run(t, "sample-export", "--items", itoa(items), "--files", itoa(files), "--out", dir, "--seed", "3")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "wrote export")
	return dir
}

func itoa(n int) string { return strconv.Itoa(n) }

func count(t *testing.T, dbURL, query string) int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dbURL)
	require.NoError(t, err)
	defer conn.Close(t.Context())
	var n int
	require.NoError(t, conn.QueryRow(t.Context(), query).Scan(&n))
	return n
}

func TestLoadCmd_LoadsSampleExport(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	dir := sampleExport(t, 1000, 3)
	code, out, errOut := run(t, "load", "--export", dir, "--key", "id", "--database-url", db, "--progress", "log")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, `loaded 1000 items from 3 files into "dynamodb"."tenure_information"`)
	require.Equal(t, 1000, count(t, db, `SELECT count(*) FROM dynamodb.tenure_information`))

	// A second load of the same table needs no --key: the first one's is kept.
	code, _, errOut = run(t, "load", "--export", dir, "--database-url", db, "--progress", "none")
	require.Equal(t, 0, code, errOut)
}

func TestLoadCmd_KilledThenResumed(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	dir := sampleExport(t, 30000, 24)
	cmd := child(t, "load", "--export", dir, "--key", "id", "--database-url", db, "--workers", "1", "--progress", "none")

	// Kill -9 once a few files are committed: no chance to clean up.
	deadline := time.Now().Add(2 * time.Minute)
	for count(t, db, `SELECT count(*) FROM ddbsync.load_files`) < 3 {
		require.True(t, time.Now().Before(deadline), "the load made no progress")
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	require.Zero(t, count(t, db, `SELECT count(*) FROM ddbsync.tables`), "a killed first load must publish nothing")
	filesBefore := count(t, db, `SELECT count(*) FROM ddbsync.load_files`)
	require.Less(t, filesBefore, 24, "the load finished before it could be killed")

	code, out, errOut := run(t, "load", "--export", dir, "--key", "id", "--database-url", db, "--progress", "none")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "files were already loaded by an earlier run")
	require.Equal(t, 30000, count(t, db, `SELECT count(*) FROM dynamodb.tenure_information`))
	require.Equal(t, 30000, count(t, db, `SELECT count(DISTINCT id) FROM dynamodb.tenure_information`))
}

func TestLoadCmd_ExitStatus(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	good := sampleExport(t, 50, 2)
	corrupt := sampleExport(t, 50, 2)
	require.NoError(t, os.WriteFile(filepath.Join(corrupt, "manifest-files.checksum"), []byte("AAAAAAAAAAAAAAAAAAAAAA=="), 0o644))

	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"success", []string{"load", "--export", good, "--key", "id", "--database-url", db}, 0, ""},
		{"corrupt export is a refusal", []string{"load", "--export", corrupt, "--key", "id", "--database-url", db}, 1, "manifest-files.json: checksum mismatch"},
		{"missing export folder", []string{"load", "--export", filepath.Join(good, "nope"), "--key", "id", "--database-url", db}, 2, "no such file"},
		{"unreachable database", []string{"load", "--export", good, "--key", "id", "--database-url", "postgres://nobody:secret@127.0.0.1:1/x?connect_timeout=2"}, 2, "connecting to PostgreSQL at 127.0.0.1:1"},
		{"no database", []string{"load", "--export", good, "--key", "id", "--database-url", ""}, 2, "pass --database-url"},
		{"bad key", []string{"load", "--export", good, "--key", "id:X", "--database-url", db}, 2, `type "X"`},
		{"no --export", []string{"load", "--database-url", db}, 2, "--export is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := run(t, tc.args...)
			require.Equal(t, tc.code, code, errOut)
			require.Contains(t, errOut, tc.msg)
			require.NotContains(t, errOut, "secret", "a password reached the output")
		})
	}
}
