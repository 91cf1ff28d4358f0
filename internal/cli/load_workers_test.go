package cli_test

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/reconcile"
)

// Three load workers share one export; one is SIGKILLed while the others
// copy. The survivors take over its files, exactly one of them publishes,
// the other says who did, and the copy equals the export.
func TestLoadCmd_WorkersOneKilled(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	const items, files = 36000, 24
	dir := sampleExport(t, items, files)
	args := []string{"load", "--worker", "--export", dir, "--key", "id", "--database-url", db, "--workers", "1", "--progress", "none"}
	workers := []*exec.Cmd{child(t, args...), child(t, args...), child(t, args...)}

	// Kill the first worker once it has committed a file and status shows
	// it copying its next one: no chance to clean up, in the middle of a file.
	// Once it has a file in, each look at status is taken with the worker
	// stopped, so that what it shows still holds at the kill (a file takes
	// a few tens of milliseconds; a look can take longer); between looks it
	// runs on. (Not before: stopped while it creates the schema, it would
	// hold the lock the look's own migration waits for.)
	deadline := time.Now().Add(2 * time.Minute)
	victim := ":" + itoa(workers[0].Process.Pid)
	for stopped := false; ; {
		require.True(t, time.Now().Before(deadline), "status never showed the first worker copying after a file: %s", output(workers[0]))
		w, ok := loadWorker(t, db, victim)
		if stopped && ok && w.FilesDone >= 1 && w.Copying == 1 {
			break
		}
		if stopped {
			require.NoError(t, workers[0].Process.Signal(syscall.SIGCONT))
			time.Sleep(20 * time.Millisecond)
		}
		stopped = ok && w.FilesDone >= 1
		if stopped {
			require.NoError(t, workers[0].Process.Signal(syscall.SIGSTOP))
		} else {
			time.Sleep(10 * time.Millisecond)
		}
	}
	require.NoError(t, workers[0].Process.Signal(syscall.SIGKILL))
	_ = workers[0].Wait()
	require.Less(t, count(t, db, `SELECT count(*) FROM ddbsync.load_files`), files, "the load finished before the kill")

	var published, told int
	for _, w := range workers[1:] {
		require.NoError(t, w.Wait(), output(w))
		out := output(w)
		switch {
		case strings.Contains(out, "published the load"):
			published++
		case strings.Contains(out, "published load"):
			told++
		default:
			t.Fatalf("a worker said neither that it published nor who did: %s", out)
		}
	}
	require.Equal(t, 1, published, "exactly one worker publishes")
	require.Equal(t, 1, told, "the other one says who published")

	require.Equal(t, items, count(t, db, `SELECT count(*) FROM dynamodb.tenure_information`))
	require.Equal(t, items, count(t, db, `SELECT count(DISTINCT id) FROM dynamodb.tenure_information`))
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM ddbsync.loads`), "the workers began one load")
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM ddbsync.loads WHERE state = 'published' AND published_by IS NOT NULL`))
	require.Equal(t, files, count(t, db, `SELECT count(*) FROM ddbsync.load_files`))
	require.Equal(t, items, count(t, db, `SELECT sum(item_count) FROM ddbsync.load_files`))
	code, out, errOut := run(t, "diff", "--table", "TenureInformation", "--against", dir, "--database-url", db)
	require.Equal(t, 0, code, out+errOut)

	// A worker started after the publication says so, and succeeds.
	code, out, errOut = run(t, args...)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "already holds export")
	require.Contains(t, out, "published by worker")
}

// Workers started together agree on one load even when none exists yet,
// and --worker refuses the flags that would make a late one start again.
func TestLoadCmd_WorkersAgreeAndRefuse(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	dir := sampleExport(t, 2000, 6)
	args := []string{"load", "--worker", "--export", dir, "--key", "id", "--database-url", db, "--workers", "2", "--progress", "none"}
	workers := []*exec.Cmd{child(t, args...), child(t, args...)}
	for _, w := range workers {
		require.NoError(t, w.Wait(), output(w))
	}
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM ddbsync.loads`), "two workers began two loads")
	require.Equal(t, 2000, count(t, db, `SELECT count(*) FROM dynamodb.tenure_information`))

	for _, flag := range []string{"--force", "--restart"} {
		code, _, errOut := run(t, append(args, flag)...)
		require.Equal(t, 2, code, errOut)
		require.Contains(t, errOut, "--worker cannot be given with --force or --restart")
	}
}

// loadWorker is the worker whose name ends with suffix in the table's
// unfinished load, as `status --json` shows it.
func loadWorker(t *testing.T, db, suffix string) (reconcile.WorkerProgress, bool) {
	t.Helper()
	code, out, errOut := run(t, "status", "--table", "TenureInformation", "--json", "--database-url", db)
	if code != 0 { // no load begun yet
		return reconcile.WorkerProgress{}, false
	}
	var st []reconcile.TableStatus
	require.NoError(t, json.Unmarshal([]byte(out), &st), errOut)
	for _, ts := range st {
		if ts.UnfinishedLoad == nil {
			continue
		}
		for _, w := range ts.UnfinishedLoad.Workers {
			if strings.HasSuffix(w.Worker, suffix) {
				return w, true
			}
		}
	}
	return reconcile.WorkerProgress{}, false
}

func output(cmd *exec.Cmd) string { return cmd.Stdout.(*bytes.Buffer).String() }
