package stream

import "time"

// Tracker decides the watermark W of one stream: it is the one place where
// W is decided. The caller feeds it what it learns, the shard listings
// ([Tracker.Listed]) and each page's [ShardState] ([Tracker.Read],
// [Tracker.Finished]), and asks for W ([Tracker.Watermark]). It does no I/O
// and has no clock: every method takes the times it needs.
//
// The rules, from the design's definition of W (every change created before
// W is applied):
//
//   - W is the minimum, over the shards that bound it, of each one's bound
//     (the min-rule, computeWatermark). A shard whose position is unknown (a
//     listed shard ready to read but not read yet, a page with no record
//     and not caught up) holds W where it is.
//   - A shard reading records is bounded by the creation time of its last
//     record read: records of a shard come in creation order.
//   - An open shard that is caught up counts as the first of its empty pages
//     minus the propagation margin; the caught-up rule itself is the reader's
//     ([WithCaughtUpRule], [Page].CaughtUp). Empty pages prove that only
//     while the shard is open: once closed, the changes that follow are in
//     its children, read only after it finishes. So a caught-up time counts
//     no later than the last listing that showed the shard open, and a shard
//     that a listing showed closed, or that no listing showed open, counts
//     only up to its last record.
//   - A finished shard (closed and read to its end) no longer bounds W once
//     the latest listing shows a child of it, or no longer lists it (shards
//     are trimmed 24 hours after they close; unfinished children then bound
//     W themselves). Until then it bounds W at its last record: DescribeStream
//     may lag behind a rollover, and the unlisted children's changes all come
//     after the parent's.
//   - A listed shard waiting for its listed, unfinished parent is left out:
//     its changes all come after the parent's, which bounds W.
//   - A shard without a record read counts as the replay start S, the
//     instant before which changes are skipped.
//   - W never goes back: it is the latest of every bound found so far, and of
//     the W a previous run published ([Tracker.Resume]).
//
// A Tracker is not safe for concurrent use: one goroutine feeds it.
type Tracker struct {
	start  time.Time
	w      time.Time
	shards map[string]*trackedShard
	// listed and parents are the latest listing: its shards by id, and
	// the ids its shards name as parent.
	listed  map[string]Shard
	parents map[string]bool
	// seen is set by the first listing: until then, W is unknown.
	seen bool
}

// trackedShard is what the tracker knows of one shard.
type trackedShard struct {
	state    ShardState // the latest page's, or zero: unknown
	read     bool       // a page was read
	lastRead time.Time  // creation time of the last record read
	finished bool
	// openAt is when the latest listing that showed the shard open was
	// taken; closedListed is set once a listing shows it closed.
	openAt       time.Time
	closedListed bool
}

// NewTracker returns a tracker of a stream replayed from start, the instant
// S = T − skew before which changes are skipped. It knows no shard yet.
func NewTracker(start time.Time) *Tracker {
	return &Tracker{start: start, shards: map[string]*trackedShard{}, listed: map[string]Shard{}, parents: map[string]bool{}}
}

// Resume sets the floor of W to w, the watermark a previous run published:
// [Tracker.Watermark] never returns an earlier one.
func (t *Tracker) Resume(w time.Time) {
	if w.After(t.w) {
		t.w = w
	}
}

func (t *Tracker) shard(id string) *trackedShard {
	s := t.shards[id]
	if s == nil {
		s = &trackedShard{state: ShardState{ShardID: id}}
		t.shards[id] = s
	}
	return s
}

// Listed records a shard listing (a [Describe] result, every shard of it)
// asked for at at. It replaces the previous listing; shards it lacks stay
// known, with what was read from them.
func (t *Tracker) Listed(at time.Time, shards ...Shard) {
	t.seen = true
	t.listed = make(map[string]Shard, len(shards))
	t.parents = make(map[string]bool, len(shards))
	for _, sh := range shards {
		t.listed[sh.ID] = sh
		if sh.ParentID != "" {
			t.parents[sh.ParentID] = true
		}
		s := t.shard(sh.ID)
		if !sh.Open() {
			s.closedListed = true
		} else if at.After(s.openAt) {
			s.openAt = at
		}
	}
}

// Read records the state of shard st.ShardID after a page was applied
// ([Page].State). A state with ProgressFinished is [Tracker.Finished].
// Reads of a finished shard change nothing.
func (t *Tracker) Read(st ShardState) {
	s := t.shard(st.ShardID)
	if s.finished {
		return
	}
	if st.Progress == ProgressFinished {
		t.Finished(st.ShardID)
		return
	}
	s.state, s.read = st, true
	if st.Progress == ProgressReading && st.Time.After(s.lastRead) {
		s.lastRead = st.Time
	}
}

// Finished records that shard id is closed and read to its end, in this
// run or (from its checkpoint) a previous one.
func (t *Tracker) Finished(id string) {
	s := t.shard(id)
	s.finished, s.read = true, true
	s.state = ShardState{ShardID: id, Progress: ProgressFinished}
}

// CaughtUp reports whether every unfinished shard known, listed or read,
// passed the caught-up rule on its latest page: the follower has reached
// the present. A shard waiting for its parent is not caught up.
func (t *Tracker) CaughtUp() bool {
	for _, s := range t.shards {
		if !s.finished && s.state.Progress != ProgressCaughtUp {
			return false
		}
	}
	return true
}

// Watermark returns W, decided by the rules of [Tracker], and the shard
// holding it back. Its Time is never earlier than one returned before, or
// than the floor set by [Tracker.Resume]; it is zero while no W is known.
// Status is what this call found: [WatermarkAt]; [WatermarkUnknown] (some
// shard holds W where it was, and ShardID names it); or [WatermarkUnbounded]
// (no shard bounds W, as for a disabled stream read to its end), when W
// becomes now. Before the first listing, W is unknown: a tracker that knows
// no shard cannot tell an empty stream from an unlisted one.
func (t *Tracker) Watermark(now time.Time) Watermark {
	if !t.seen {
		return Watermark{Status: WatermarkUnknown, Time: t.w}
	}
	w := computeWatermark(t.bounds())
	var at time.Time
	switch w.Status {
	case WatermarkAt:
		at = w.Time
	case WatermarkUnbounded:
		at = now
	}
	if at.After(t.w) {
		t.w = at
	}
	w.Time = t.w
	return w
}

// bounds returns the state each shard that bounds W counts as.
func (t *Tracker) bounds() []ShardState {
	out := make([]ShardState, 0, len(t.shards))
	for id, s := range t.shards {
		sh, listed := t.listed[id]
		switch {
		case s.finished:
			if listed && !t.parents[id] {
				out = append(out, t.lastRecord(id, s))
			}
		case !s.read && listed && t.waitsForParent(sh):
		case s.state.Progress == ProgressCaughtUp && (s.closedListed || s.openAt.IsZero()):
			out = append(out, t.lastRecord(id, s))
		case s.state.Progress == ProgressCaughtUp && s.state.Time.After(s.openAt):
			out = append(out, ShardState{ShardID: id, Progress: ProgressCaughtUp, Time: s.openAt})
		default:
			out = append(out, s.state)
		}
	}
	return out
}

// lastRecord is a shard counted up to its last record read, else the start.
func (t *Tracker) lastRecord(id string, s *trackedShard) ShardState {
	at := s.lastRead
	if at.IsZero() {
		at = t.start
	}
	return ShardState{ShardID: id, Progress: ProgressReading, Time: at}
}

// waitsForParent reports whether listed shard sh's parent is listed and
// unfinished: sh may not be read yet, and the parent bounds W.
func (t *Tracker) waitsForParent(sh Shard) bool {
	if sh.ParentID == "" {
		return false
	}
	if _, listed := t.listed[sh.ParentID]; !listed {
		return false
	}
	p := t.shards[sh.ParentID]
	return p == nil || !p.finished
}

// computeWatermark returns W = the minimum Time over the unfinished shards
// (ProgressReading and ProgressCaughtUp). Finished shards do not count; any
// unknown one makes W unknown. Ties and unknowns are reported by the smallest
// shard id, so the result does not depend on the order of states.
//
// It is the min-rule of [Tracker], which decides which shards count and as
// what; W from one call may be earlier than from the one before (a newly
// started shard, a record after a caught-up period), which is why the
// tracker keeps the latest.
func computeWatermark(states []ShardState) Watermark {
	w := Watermark{Status: WatermarkUnbounded}
	var unknown string
	anyUnknown := false
	for _, s := range states {
		switch s.Progress {
		case ProgressFinished:
			continue
		case ProgressReading, ProgressCaughtUp:
			if !s.Time.IsZero() {
				if w.Status != WatermarkAt || s.Time.Before(w.Time) || (s.Time.Equal(w.Time) && s.ShardID < w.ShardID) {
					w = Watermark{Status: WatermarkAt, Time: s.Time, ShardID: s.ShardID}
				}
				continue
			}
		}
		if !anyUnknown || s.ShardID < unknown {
			unknown, anyUnknown = s.ShardID, true
		}
	}
	if anyUnknown {
		return Watermark{Status: WatermarkUnknown, ShardID: unknown}
	}
	return w
}
