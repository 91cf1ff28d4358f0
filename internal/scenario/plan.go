package scenario

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Kind is the shape of a scenario.
type Kind int

// The scenario kinds.
const (
	// KindFollow follows in process, with crashes, faults and shard events.
	KindFollow Kind = iota
	// KindCLI runs load and follow as ddbsync child processes too, killed
	// with SIGKILL at random points.
	KindCLI
	// KindExportTooOld loads an export and follows only after the stream's
	// retention has passed it: the follow must refuse.
	KindExportTooOld
	// KindAway follows, then stays away for about a day while writes go on:
	// past the retention the follow must refuse; otherwise it must converge.
	KindAway
	// KindHeal follows, then stays away for 25 to 55 hours while writes go
	// on: the follow must refuse, and `heal` (incremental exports of the
	// gap, chained past 24 hours) must recover an exact copy without a new
	// full export (heal.go).
	KindHeal
	// KindShared runs 2 to 4 `ddbsync follow --shared` child processes
	// at once while writes go on, SIGKILLs some and stalls others
	// (SIGSTOP past their lease, then SIGCONT): their shards change owner,
	// and a stalled process's page must be fenced off (shared.go).
	KindShared
)

func (k Kind) String() string {
	return [...]string{"follow", "cli", "export-too-old", "away", "heal", "shared"}[k]
}

// StepKind is one thing that happens after the load.
type StepKind int

// The steps.
const (
	StepWrites       StepKind = iota // N writes
	StepRollover                     // every open shard closes, one child each
	StepSplit                        // one open shard splits in two
	StepFaults                       // API faults at a rate, and forced empty pages
	StepClearFaults                  // no more faults
	StepClockJump                    // fake time jumps by D (past the iterator life)
	StepFollow                       // follow until caught up
	StepFollowCancel                 // follow, cancelled after N changes or D real time
	StepBackground                   // follow in the background during N writes, then cancel
	StepCLIFollow                    // ddbsync follow --until-caught-up as a child process
	StepCLIKill                      // ddbsync follow as a child process, SIGKILLed after N changes
	StepShared                       // N ddbsync follow --shared child processes, killed and stalled at random
)

var stepNames = [...]string{"writes", "rollover", "split", "faults", "clear-faults", "clock-jump", "follow",
	"follow-cancel", "background", "cli-follow", "cli-kill", "shared"}

func (k StepKind) String() string { return stepNames[k] }

// Step is one step of a [Plan].
type Step struct {
	Kind StepKind
	N    int
	D    time.Duration
	Rate float64
}

func (s Step) String() string {
	var b strings.Builder
	b.WriteString(s.Kind.String())
	if s.N != 0 {
		fmt.Fprintf(&b, " n=%d", s.N)
	}
	if s.D != 0 {
		fmt.Fprintf(&b, " d=%s", s.D)
	}
	if s.Rate != 0 {
		fmt.Fprintf(&b, " rate=%.2f", s.Rate)
	}
	return b.String()
}

// LoadCrash is how the load is interrupted.
type LoadCrash int

// The load interruptions.
const (
	LoadClean        LoadCrash = iota
	LoadCancelFiles            // cancel once N files are committed
	LoadCancelAtOnce           // cancel within a few milliseconds
	LoadKillChild              // SIGKILL a `ddbsync load` child process
)

// Plan is everything a seed decides.
type Plan struct {
	Seed        uint64
	Kind        Kind
	Shards      int
	ExportFiles int
	Keys        int // key space
	HotKeys     int // keys that take HotShare of the writes
	HotShare    float64
	PreOps      int // writes before the export instant
	DuringOps   int // writes between the export instant and the export
	LoadCrash   LoadCrash
	// IteratorTTL is the emulator's iterator life: AWS's 15 minutes, where
	// the readers renew ahead of time (at 14), or 3 minutes, where clock
	// jumps make them meet ExpiredIteratorException.
	IteratorTTL time.Duration
	Steps       []Step
	// Away is how long KindAway stays away; ExportAge how old the export
	// of KindExportTooOld is when following starts.
	Away, ExportAge time.Duration
	// History is whether the table keeps its history (load --history):
	// then each check also reads the table as of random instants between
	// T and W through its as-of function.
	History bool
}

// NewPlan derives a plan from seed. The same seed gives the same plan.
func NewPlan(seed uint64) Plan {
	p := newPlan(seed)
	// The heal kind is drawn from a stream of its own, so that adding it
	// left every other plan as it was: half the away plans (none of the
	// CI set's) stay away past the retention and recover by heal.
	if p.Kind == KindAway && rand.New(rand.NewPCG(seed, 0x4ea7)).IntN(2) == 0 {
		h := rand.New(rand.NewPCG(seed, 0x4ea8))
		p.Kind = KindHeal
		p.Away = 25*time.Hour + time.Duration(h.Int64N(int64(30*time.Hour)))
	}
	// The shared kind too: half the cli plans become shared ones, whose
	// child processes are shared follows.
	if p.Kind == KindCLI && rand.New(rand.NewPCG(seed, 0x5ea7)).IntN(2) == 0 {
		h := rand.New(rand.NewPCG(seed, 0x5ea8))
		p.Kind = KindShared
		for i, st := range p.Steps {
			if st.Kind == StepCLIFollow || st.Kind == StepCLIKill {
				p.Steps[i] = Step{Kind: StepShared, N: 2 + h.IntN(3)}
			}
		}
		p.Steps = append(p.Steps, Step{Kind: StepShared, N: 2 + h.IntN(3)})
	}
	// Also a stream of its own, leaving the rest of each plan as it was.
	// Not for heal: an incremental export dates its changes by their exact
	// write time, which the model's second-precision stream times are not.
	p.History = p.Kind != KindHeal && rand.New(rand.NewPCG(seed, 0x4157)).IntN(3) != 0
	return p
}

func newPlan(seed uint64) Plan {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	p := Plan{
		Seed:        seed,
		Shards:      1 + r.IntN(4),
		ExportFiles: 1 + r.IntN(6),
		Keys:        6 + r.IntN(60),
		HotKeys:     1 + r.IntN(3),
		HotShare:    0.2 + 0.5*r.Float64(),
		PreOps:      10 + r.IntN(80),
		DuringOps:   r.IntN(30),
	}
	switch x := r.IntN(100); {
	case x < 62:
		p.Kind = KindFollow
	case x < 76:
		p.Kind = KindCLI
	case x < 88:
		p.Kind = KindAway
	default:
		p.Kind = KindExportTooOld
	}
	p.IteratorTTL = 15 * time.Minute
	if r.IntN(2) == 0 {
		p.IteratorTTL = 3 * time.Minute
	}
	p.LoadCrash = LoadCrash(r.IntN(3))
	if p.Kind == KindCLI && r.IntN(2) == 0 {
		p.LoadCrash = LoadKillChild
	}
	switch p.Kind {
	case KindExportTooOld:
		p.ExportAge = 23*time.Hour + time.Duration(r.Int64N(int64(6*time.Hour)))
		return p
	case KindAway:
		p.Away = 22*time.Hour + time.Duration(r.Int64N(int64(5*time.Hour)))
	}
	n := 4 + r.IntN(12)
	for range n {
		p.Steps = append(p.Steps, randomStep(r, p.Kind))
	}
	return p
}

func randomStep(r *rand.Rand, kind Kind) Step {
	x := r.IntN(100)
	if kind == KindCLI && x >= 85 {
		if x < 92 {
			return Step{Kind: StepCLIKill, N: 1 + r.IntN(40)}
		}
		return Step{Kind: StepCLIFollow}
	}
	switch {
	case x < 30:
		return Step{Kind: StepWrites, N: 1 + r.IntN(60)}
	case x < 37:
		return Step{Kind: StepRollover}
	case x < 45:
		return Step{Kind: StepSplit}
	case x < 52:
		return Step{Kind: StepFaults, N: r.IntN(6), Rate: 0.05 + 0.35*r.Float64()}
	case x < 56:
		return Step{Kind: StepClearFaults}
	case x < 62:
		return Step{Kind: StepClockJump, D: 15*time.Minute + time.Duration(r.Int64N(int64(10*time.Minute)))}
	case x < 72:
		return Step{Kind: StepFollow}
	case x < 85:
		s := Step{Kind: StepFollowCancel, N: r.IntN(50)}
		if r.IntN(3) == 0 {
			s.N, s.D = 0, time.Duration(r.IntN(15))*time.Millisecond
		}
		return s
	default:
		return Step{Kind: StepBackground, N: 5 + r.IntN(80)}
	}
}

func (p Plan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d: kind=%s shards=%d files=%d keys=%d hot=%d/%.2f pre=%d during=%d load=%d iteratorTTL=%s",
		p.Seed, p.Kind, p.Shards, p.ExportFiles, p.Keys, p.HotKeys, p.HotShare, p.PreOps, p.DuringOps, p.LoadCrash, p.IteratorTTL)
	if p.Away > 0 {
		fmt.Fprintf(&b, " away=%s", p.Away)
	}
	if p.ExportAge > 0 {
		fmt.Fprintf(&b, " exportAge=%s", p.ExportAge)
	}
	if p.History {
		b.WriteString(" history")
	}
	for i, s := range p.Steps {
		fmt.Fprintf(&b, "\n  %2d %s", i, s)
	}
	return b.String()
}
