package scenario

import (
	"fmt"
	"sync/atomic"
)

// Totals are the figures of a run of scenarios, safe for concurrent use.
type Totals struct {
	Scenarios     atomic.Int64
	LoadCrashes   atomic.Int64 // loads cancelled or killed, then resumed
	FollowCancels atomic.Int64 // in-process follows cancelled at a random point
	ChildKills    atomic.Int64 // ddbsync child processes killed with SIGKILL
	APIRetries    atomic.Int64 // throttles, 5xx and expired iterators the readers met and retried
	EmptyPages    atomic.Int64 // forced empty GetRecords pages
	DatedEarly    atomic.Int64 // stream records dated earlier than their write
	ClockJumps    atomic.Int64 // fake-clock jumps past the iterator life
	ShardEvents   atomic.Int64 // rollovers and splits
	Changes       atomic.Int64 // stream changes applied (per shard checkpoints, summed)
	Checks        atomic.Int64 // watermark checks passed
	Refusals      atomic.Int64 // gap refusals that were required or allowed, and correct
	Divergences   atomic.Int64 // scenarios that failed an assertion
	Diffs         atomic.Int64 // ddbsync diff runs that found nothing
	Heals         atomic.Int64 // copies recovered by heal, exact after it
	Stalls        atomic.Int64 // shared follow processes stopped (SIGSTOP) past their lease, then continued
	AsOfChecks    atomic.Int64 // history read as of an instant, equal to the model's state then
}

// Crashes is the number of crashes injected.
func (t *Totals) Crashes() int64 {
	return t.LoadCrashes.Load() + t.FollowCancels.Load() + t.ChildKills.Load()
}

// Faults is the number of faults injected.
func (t *Totals) Faults() int64 {
	return t.APIRetries.Load() + t.EmptyPages.Load() + t.DatedEarly.Load() + t.ClockJumps.Load() + t.ShardEvents.Load()
}

func (t *Totals) String() string {
	return fmt.Sprintf("scenarios run: %d\ncrashes injected: %d (load %d, follow cancelled %d, child SIGKILL %d)\n"+
		"faults injected: %d (API errors and expired iterators retried %d, forced empty pages %d, records dated early %d, clock jumps %d, shard rollovers and splits %d)\n"+
		"changes applied: %d\nwatermark checks: %d\ndiffs with 0 findings: %d\ndivergences found: %d\nrefusals that were correct: %d\n"+
		"copies healed with incremental exports: %d\nshared follow processes stalled past their lease: %d\nas-of checks of the history: %d",
		t.Scenarios.Load(), t.Crashes(), t.LoadCrashes.Load(), t.FollowCancels.Load(), t.ChildKills.Load(),
		t.Faults(), t.APIRetries.Load(), t.EmptyPages.Load(), t.DatedEarly.Load(), t.ClockJumps.Load(), t.ShardEvents.Load(),
		t.Changes.Load(), t.Checks.Load(), t.Diffs.Load(), t.Divergences.Load(), t.Refusals.Load(), t.Heals.Load(), t.Stalls.Load(), t.AsOfChecks.Load())
}
