package load

import (
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/store"
	"github.com/ddbsync/ddbsync/snapshot"
)

// writeExport writes an export of items tenure items over files data files.
// (internal/reconciletest imports this package: its helpers are out of reach.)
func writeExport(t *testing.T, at time.Time, items, files int) *snapshot.Export {
	t.Helper()
	dir := t.TempDir()
	w, err := snapshot.NewWriter(t.Context(), snapshot.DirSink(dir), snapshot.WriterConfig{
		TableArn: "arn:aws:dynamodb:eu-west-2:000000000000:table/" + tenure.TableName, ExportTime: at, Files: files})
	require.NoError(t, err)
	g := tenure.NewGenerator(1)
	for range items {
		require.NoError(t, w.Write(g.Item()))
	}
	_, err = w.Close(t.Context())
	require.NoError(t, err)
	src, err := snapshot.NewDirSource(dir)
	require.NoError(t, err)
	exp, err := snapshot.Open(t.Context(), src)
	require.NoError(t, err)
	return exp
}

func tenureLayout(t *testing.T) reconcile.Layout {
	t.Helper()
	key, err := store.ParseKeySchema(tenure.Key.String())
	require.NoError(t, err)
	l, err := store.NewLayout(tenure.TableName, "", key)
	require.NoError(t, err)
	return l
}

// A worker that died while copying a file holds its file lock until
// PostgreSQL ends its session. A live worker copies every other file,
// waits for that one (status shows the dead worker copying it), copies it
// once the session is gone, and publishes.
func TestWorker_TakesOverADeadWorkersFile(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	exp := writeExport(t, time.Now(), 80, 4)
	l := tenureLayout(t)
	id, _, published, err := joinLoad(t.Context(), pool, exp, l, false)
	require.NoError(t, err)
	require.Nil(t, published)

	// The dead worker's session: in the middle of copying the first file.
	dead, err := pgx.ConnectConfig(t.Context(), pool.Config().ConnConfig.Copy())
	require.NoError(t, err)
	tx, err := dead.Begin(t.Context())
	require.NoError(t, err)
	f := exp.Files[0]
	locked, err := store.LoadFiles.LockFile(t.Context(), tx, id, f.Name, "dead:1", false)
	require.NoError(t, err)
	require.True(t, locked)
	claimed, err := store.LoadFiles.Claim(t.Context(), tx, id, store.LoadFile{Name: f.Name, Items: f.ItemCount, MD5: f.MD5Checksum, Worker: "dead:1"})
	require.NoError(t, err)
	require.True(t, claimed)

	type outcome struct {
		res Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := Run(t.Context(), pool, exp, Config{Layout: l, Worker: true, WorkerName: "alive:2", Workers: 2})
		done <- outcome{res, err}
	}()

	// The live worker copies the three other files, then waits.
	deadline := time.Now().Add(time.Minute)
	var p *store.Progress
	for {
		require.True(t, time.Now().Before(deadline), "the live worker did not copy the other files")
		p, err = store.Loads.Progress(t.Context(), pool, l.Table)
		require.NoError(t, err)
		if p != nil && p.FilesDone == 3 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	require.Equal(t, []store.WorkerProgress{
		{Worker: "alive:2", FilesDone: 3, ItemsDone: 80 - f.ItemCount},
		{Worker: "dead:1", Copying: 1},
	}, p.Workers, "status shows each worker's share")
	select {
	case o := <-done:
		t.Fatalf("the live worker published without the dead worker's file: %+v, %v", o.res, o.err)
	default:
	}

	// The dead worker's process is gone: its connection closes.
	require.NoError(t, dead.Close(t.Context()))
	o := <-done
	require.NoError(t, o.err)
	require.True(t, o.res.Published)
	require.Equal(t, "alive:2", o.res.PublishedBy)
	require.Equal(t, 4, o.res.FilesCopied)
	require.EqualValues(t, 80, o.res.Items)

	var rows, byAlive int
	require.NoError(t, pool.QueryRow(t.Context(), "SELECT count(*) FROM "+l.Ident().Sanitize()).Scan(&rows))
	require.Equal(t, 80, rows)
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FROM ddbsync.load_files WHERE load_id = $1 AND worker = 'alive:2'`, id).Scan(&byAlive))
	require.Equal(t, 4, byAlive)
	state, by, err := store.Loads.State(t.Context(), pool, id)
	require.NoError(t, err)
	require.Equal(t, store.LoadPublished, state)
	require.Equal(t, "alive:2", by)

	// A worker started after the publication finds it, and who made it.
	res, err := Run(t.Context(), pool, exp, Config{Layout: l, Worker: true, WorkerName: "late:3"})
	require.NoError(t, err)
	require.True(t, res.Unchanged)
	require.False(t, res.Published)
	require.Equal(t, "alive:2", res.PublishedBy)
}

// Other workers may be copying an unfinished load of another export: a
// worker refuses to abandon it, and leaves it as it is.
func TestWorker_RefusesAnotherExportsUnfinishedLoad(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	first := writeExport(t, time.Now().Add(-time.Hour), 10, 1)
	second := writeExport(t, time.Now(), 10, 1)
	require.NotEqual(t, first.ID(), second.ID())
	l := tenureLayout(t)
	id, _, _, err := joinLoad(t.Context(), pool, first, l, false)
	require.NoError(t, err)

	_, err = Run(t.Context(), pool, second, Config{Layout: l, Worker: true})
	require.True(t, errors.Is(err, reconcile.ErrUnfinishedLoad), "%v", err)
	require.ErrorContains(t, err, first.ID())
	cur, err := store.Loads.Unfinished(t.Context(), pool, l.Table)
	require.NoError(t, err)
	require.NotNil(t, cur)
	require.Equal(t, id, cur.ID)
}
