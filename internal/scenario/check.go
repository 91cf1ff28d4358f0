package scenario

import (
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ddbsync/ddbsync/internal/copycheck"
	"github.com/ddbsync/ddbsync/reconcile/diff"
	"github.com/ddbsync/ddbsync/snapshot"
)

// pgItems reads the copy: canonical key → canonical item JSON.
func (e *env) pgItems() map[string]string {
	e.t.Helper()
	items, err := copycheck.Copy(e.t.Context(), e.pool, e.layout.Ident(), e.key)
	e.must(err, "reading the copy")
	return items
}

// watermark is the published W (zero when none).
func (e *env) watermark() time.Time {
	var w *time.Time
	err := e.pool.QueryRow(e.t.Context(), `SELECT watermark FROM ddbsync.streams WHERE table_name = $1`, tableName).Scan(&w)
	if errors.Is(err, pgx.ErrNoRows) || w == nil {
		return time.Time{}
	}
	e.must(err, "reading the watermark")
	return w.UTC()
}

// checkWatermark asserts the promise at the published W: every key's row is
// its state after its last change created before W, or a later one.
func (e *env) checkWatermark(when string) {
	e.t.Helper()
	w := e.watermark()
	if w.IsZero() {
		return
	}
	if w.Before(e.lastW) {
		e.fail("%s: the watermark went back from %s to %s", when, e.lastW, w)
	}
	e.lastW = w
	if w.After(e.now()) {
		e.fail("%s: the watermark %s is in the future (now %s)", when, w, e.now())
	}
	got := e.pgItems()
	for k := range e.m.keys {
		allowed := e.m.allowed(k, w)
		ok := false
		for _, a := range allowed {
			if got[k] == a {
				ok = true
				break
			}
		}
		if !ok {
			e.fail("%s: watermark %s, but key %s is %q; its states since its last change before W are %q",
				when, w.Format(time.RFC3339Nano), k, got[k], allowed)
		}
		delete(got, k)
	}
	for k := range got {
		e.fail("%s: key %s is in the copy but was never written", when, k)
	}
	e.checkOnce(when)
	e.checkHistory(when, w)
	e.totals.Checks.Add(1)
}

// checkHistory reads the table as of instants between the history's start
// T and w through its as-of function: T itself, the latest whole second
// before w, and random ones (half on a version's second, where
// neighbouring versions meet). Each must be the model's state then.
func (e *env) checkHistory(when string, w time.Time) {
	e.t.Helper()
	if !e.plan.History {
		return
	}
	var from time.Time
	err := e.pool.QueryRow(e.t.Context(), `SELECT history_from FROM ddbsync.history WHERE table_name = $1`, tableName).Scan(&from)
	e.must(err, "reading the history's start")
	from = from.UTC()
	if !w.After(from) {
		return
	}
	instants := []time.Time{from, w.Add(-time.Nanosecond).Truncate(time.Second)}
	var seconds []time.Time
	for _, vs := range e.m.keys {
		for _, v := range vs {
			if !v.acdt.Before(from) && v.acdt.Before(w) {
				seconds = append(seconds, v.acdt)
			}
		}
	}
	for range 3 {
		if len(seconds) > 0 && e.instants.IntN(2) == 0 {
			instants = append(instants, seconds[e.instants.IntN(len(seconds))])
		} else {
			instants = append(instants, from.Add(time.Duration(e.instants.Int64N(int64(w.Sub(from))))))
		}
	}
	fn := e.layout.AsOfIdent()
	for _, ts := range instants {
		if ts.Before(from) || !ts.Before(w) {
			continue
		}
		got, err := copycheck.AsOf(e.t.Context(), e.pool, fn, ts, e.key)
		e.must(err, "reading the history as of "+ts.Format(time.RFC3339Nano))
		for k := range e.m.keys {
			if want := e.m.asOf(k, ts); got[k] != want {
				e.fail("%s: as of %s (T %s, W %s), key %s is %q, its state then is %q",
					when, ts.Format(time.RFC3339Nano), from.Format(time.RFC3339Nano), w.Format(time.RFC3339Nano), k, got[k], want)
			}
			delete(got, k)
		}
		for k := range got {
			e.fail("%s: as of %s, key %s is in the history but was never written", when, ts.Format(time.RFC3339Nano), k)
		}
		e.totals.AsOfChecks.Add(1)
	}
}

// checkFinal asserts the copy is exactly the table, and every shard's
// checkpoint is at its last record with each change applied once.
func (e *env) checkFinal() {
	e.t.Helper()
	got := e.pgItems()
	want := e.scan()
	for k, w := range want {
		if got[k] != w {
			e.fail("final copy: key %s is %q, the table has %q", k, got[k], w)
		}
		if m := e.m.current(k); m != w {
			e.fail("model disagrees with the emulator on %s: %q vs %q", k, m, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			e.fail("final copy: key %s is %q, but the table does not have it", k, g)
		}
	}
	e.checkShards()
	e.checkDiff()
}

// checkDiff runs `ddbsync diff` against a new export as of just before W:
// it must find nothing missing, extra or different.
func (e *env) checkDiff() {
	e.t.Helper()
	w := e.watermark()
	at := w.Add(-time.Second)
	if !at.After(e.exportTime) {
		return // W is not past the copy's own export (a child's wall-clock W)
	}
	dir := e.exportAt(at)
	src, err := snapshot.NewDirSource(dir)
	e.must(err, "diff source")
	exp, err := snapshot.Open(e.t.Context(), src)
	e.must(err, "opening the diff's export")
	sum, err := diff.Run(e.t.Context(), e.pool, diff.Config{Table: tableName, Export: exp, Workers: 1, Now: e.emu.Clock().Now})
	if err != nil {
		e.fail("ddbsync diff against an export as of %s (W %s) failed: %v", at, w, err)
	}
	e.logf("diff: %d source items, %d rows, %d in flight", sum.SourceItems, sum.CopyRows, sum.InFlight)
	if sum.Missing+sum.Extra+sum.Different != 0 {
		e.fail("ddbsync diff against an export as of %s (W %s) found %d missing, %d extra, %d different",
			at, w, sum.Missing, sum.Extra, sum.Different)
	}
	e.totals.Diffs.Add(1)
}

func (e *env) scan() map[string]string {
	items, err := copycheck.Scan(e.t.Context(), e.ddb, tableName, e.key)
	e.must(err, "Scan")
	return items
}
