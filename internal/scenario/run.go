package scenario

import (
	"errors"
	"time"

	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/follow"
	"github.com/ddbsync/ddbsync/stream"
)

// Run plays the scenario of seed against the empty, migrated database at
// dbURL (pgtest.URL gives one) and fails t, printing the seed, the plan and
// the replay command, if ddbsync breaks its promise. It adds its figures to
// totals.
func Run(t T, seed uint64, dbURL string, totals *Totals) {
	t.Helper()
	RunWith(t, seed, dbURL, totals, Options{})
}

// Options change how [RunWith] plays a scenario. The zero value is [Run]:
// every fault stays within the assumptions W rests on.
type Options struct {
	// ExtraEmptyPages lets this many more forced empty pages be pending
	// than assumption E allows (k−1, maxSpuriousEmpties): a shard may then
	// meet k or more spurious empty pages in a row with records waiting,
	// look caught up, and W pass changes not applied yet, which the
	// watermark checks report as a divergence. This is the hook for
	// testing what catches a broken assumption live (follow --verify): a
	// scenario run with it must have the verification flag the copy.
	ExtraEmptyPages int
}

// RunWith is [Run] with opts.
func RunWith(t T, seed uint64, dbURL string, totals *Totals, opts Options) {
	t.Helper()
	plan := NewPlan(seed)
	e := newEnv(t, plan, dbURL, totals)
	e.opts = opts
	totals.Scenarios.Add(1)
	defer func() {
		totals.APIRetries.Add(e.apiRetries.Load())
	}()

	if plan.Kind == KindHeal {
		e.prepareHeal()
	}
	// Writes before the export instant, the instant itself, then writes
	// while the export "runs": those are not in it and must come from the
	// stream.
	e.writes(plan.PreOps)
	exportTime := e.now().Add(-time.Duration(e.r.IntN(3000)) * time.Millisecond)
	e.writes(plan.DuringOps)
	if e.r.IntN(3) == 0 {
		e.shardEvent(e.r.IntN(2) == 0)
		e.writes(e.r.IntN(10))
	}
	dir := e.exportAt(exportTime)
	e.writes(e.r.IntN(10))
	e.load(dir, exportTime, plan.LoadCrash)

	if plan.Kind == KindExportTooOld {
		e.runExportTooOld()
		return
	}
	for i, s := range plan.Steps {
		e.step(s)
		e.checkWatermark("after step " + s.String())
		_ = i
	}
	if plan.Kind == KindAway {
		e.runAway()
		return
	}
	if plan.Kind == KindHeal {
		e.runHeal()
		return
	}
	e.finish()
}

func (e *env) step(s Step) {
	e.t.Helper()
	switch s.Kind {
	case StepWrites:
		e.writes(s.N)
	case StepRollover:
		e.shardEvent(false)
	case StepSplit:
		e.shardEvent(true)
	case StepFaults:
		e.faults(s)
	case StepClearFaults:
		e.clearFaults()
	case StepClockJump:
		e.advance(s.D)
		e.totals.ClockJumps.Add(1)
		e.logf("clock jumped %s", s.D)
	case StepFollow:
		_, err := e.follow("follow")
		e.followErr(err, "follow")
	case StepFollowCancel:
		e.followCancel(s.N, s.D)
	case StepBackground:
		e.background(s.N)
	case StepCLIFollow:
		e.cliFollow()
	case StepCLIKill:
		e.cliKill(s.N)
	case StepShared:
		e.sharedFollowers(s.N)
	}
}

// finish follows to the present without faults and checks everything.
func (e *env) finish() {
	e.t.Helper()
	e.clearFaults()
	if e.plan.Kind == KindCLI && e.r.IntN(2) == 0 {
		e.cliFollow()
	} else {
		var err error
		for range 50 { // a follower killed a moment ago may still hold its lock
			if _, err = e.follow("final follow"); err == nil {
				break
			}
			e.followErr(err, "final follow")
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			e.fail("the final follow failed: %v", err)
		}
	}
	e.checkWatermark("after the final follow")
	e.checkFinal()
}

// isGap reports whether err is the loud refusal the promise asks for.
func isGap(err error) bool {
	var gap *stream.GapError
	return errors.Is(err, stream.ErrGap) && (errors.As(err, &gap) || errors.Is(err, reconcile.ErrStreamChanged))
}

// runExportTooOld follows only once the stream's retention has passed the
// export: the follow must refuse, apply nothing, and a new export recovers.
func (e *env) runExportTooOld() {
	e.t.Helper()
	age := e.plan.ExportAge
	for _, part := range []time.Duration{age / 3, age / 3} {
		e.advance(part)
		e.writes(1 + e.r.IntN(10))
	}
	if e.r.IntN(2) == 0 {
		e.shardEvent(false)
	}
	e.advance(e.exportTime.Add(age).Sub(e.now()))
	e.writes(1 + e.r.IntN(5))
	before := e.pgItems()
	res, err := e.follow("follow of a too old export")
	if !isGap(err) {
		e.fail("following an export %s old must refuse with a gap; got %v", age, err)
	}
	if res.Applied != 0 {
		e.fail("the refused follow applied %d changes", res.Applied)
	}
	e.requireUnchanged(before)
	e.totals.Refusals.Add(1)
	e.recoverWithNewExport()
}

// runAway follows, stays away for plan.Away while writes go on, and
// follows again: past the retention it must refuse, otherwise converge.
func (e *env) runAway() {
	e.t.Helper()
	e.clearFaults()
	if _, err := e.follow("follow before going away"); err != nil {
		e.followErr(err, "follow before going away")
	}
	e.checkWatermark("before going away")
	w := e.watermark()
	left := e.now()
	for i := range 4 {
		e.advance(e.plan.Away / 4)
		e.writes(e.r.IntN(12))
		if i == 1 && e.r.IntN(2) == 0 {
			e.shardEvent(e.r.IntN(2) == 0)
		}
	}
	before := e.pgItems()
	_, err := e.follow("follow after being away")
	mustRefuse := w.IsZero() || e.now().Sub(w) > follow.DefaultRetention
	switch {
	case err == nil && mustRefuse:
		e.fail("away %s (watermark %s, now %s): the follow must refuse, and it went on", e.now().Sub(left), w, e.now())
	case err == nil:
		e.checkWatermark("after being away")
		e.finish()
		return
	case !isGap(err):
		e.fail("after being away %s the follow failed without naming a gap: %v", e.now().Sub(left), err)
	}
	if w.IsZero() {
		e.fail("no watermark was published before going away")
	}
	e.requireUnchanged(before)
	e.checkWatermark("after the refusal")
	e.totals.Refusals.Add(1)
	e.recoverWithNewExport()
}

func (e *env) requireUnchanged(before map[string]string) {
	e.t.Helper()
	after := e.pgItems()
	for k, v := range before {
		if after[k] != v {
			e.fail("a refused follow changed key %s: %q → %q", k, v, after[k])
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			e.fail("a refused follow added key %s", k)
		}
	}
}

// recoverWithNewExport does what a refusal says: a new export, a load, a
// follow; the copy must then be exact.
func (e *env) recoverWithNewExport() {
	e.t.Helper()
	e.writes(e.r.IntN(10))
	at := e.now()
	e.writes(e.r.IntN(10))
	dir := e.exportAt(at)
	e.load(dir, at, LoadClean)
	e.writes(e.r.IntN(10))
	e.finish()
}
