package scenario

import (
	"context"
	"strings"
	"time"

	"github.com/ddbsync/ddbsync/reconcile/load"
	"github.com/ddbsync/ddbsync/snapshot"
)

// exportAt writes an export of the table as of at into a new folder.
func (e *env) exportAt(at time.Time) string {
	dir := e.t.TempDir()
	_, err := e.emu.ExportToDir(e.t.Context(), tableName, at, dir)
	e.must(err, "exporting")
	e.logf("export as of %s", at.Format("15:04:05.000"))
	return dir
}

func (e *env) loadOnce(ctx context.Context, dir string, stats *load.Stats) error {
	src, err := snapshot.NewDirSource(dir)
	if err != nil {
		return err
	}
	exp, err := snapshot.Open(ctx, src)
	if err != nil {
		return err
	}
	_, err = load.Run(ctx, e.pool, exp, load.Config{Layout: e.layout, Workers: 1 + e.r.IntN(3), Stats: stats, History: e.plan.History})
	return err
}

// load loads the export in dir as of at, interrupting it first as the plan
// says, and checks the copy is exactly the table as of at.
func (e *env) load(dir string, at time.Time, crash LoadCrash) {
	e.t.Helper()
	switch crash {
	case LoadCancelFiles, LoadCancelAtOnce:
		ctx, cancel := context.WithCancel(e.t.Context())
		stats := &load.Stats{}
		after := int64(e.r.IntN(e.plan.ExportFiles))
		delay := time.Duration(e.r.IntN(4000)) * time.Microsecond
		go func() {
			if crash == LoadCancelAtOnce {
				time.Sleep(delay)
			} else {
				for stats.FilesDone.Load() < after && ctx.Err() == nil {
					time.Sleep(100 * time.Microsecond)
				}
			}
			cancel()
		}()
		err := e.loadOnce(ctx, dir, stats)
		cancel()
		e.logf("load cancelled (files done %d): %v", stats.FilesDone.Load(), err)
		e.totals.LoadCrashes.Add(1)
	case LoadKillChild:
		args := []string{"load", "--export", dir, "--key", keySpec, "--workers", "1", "--progress", "none"}
		if e.plan.History {
			args = append(args, "--history")
		}
		cmd, out := e.child(args...)
		e.waitUntil(3*time.Second, func() bool { return e.count(`SELECT count(*) FROM ddbsync.load_files`) >= 1 || exited(cmd) })
		e.kill(cmd, out, "load")
	}
	// A killed process's session, and so its advisory lock, outlives it
	// until the server notices.
	var err error
	for range 200 {
		if err = e.loadOnce(e.t.Context(), dir, nil); err == nil || !strings.Contains(err.Error(), "is running") {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.must(err, "loading")
	e.lastW, e.exportTime = time.Time{}, at
	e.logf("loaded")
	got := e.pgItems()
	for k := range e.m.keys {
		if want := e.m.stateAt(k, at); got[k] != want {
			e.fail("after load of the export as of %s, key %s is %q, want %q", at, k, got[k], want)
		}
		delete(got, k)
	}
	for k := range got {
		e.fail("after load, key %s is in the copy but was never written", k)
	}
}
