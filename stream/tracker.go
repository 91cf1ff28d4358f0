package stream

import "time"

// Tracker decides the watermark W of one stream: it is the one place where
// W is decided. The caller feeds it what it learns, the shard listings
// ([Tracker.Listed]) and each page's [ShardState] ([Tracker.Read],
// [Tracker.Finished]), and asks for W ([Tracker.Watermark]) and whether a
// new listing would move W on ([Tracker.ListingDue]). It does no I/O and has
// no clock: every method takes the times it needs.
//
// W promises: every change with ApproximateCreationDateTime < W is applied.
// Each shard that bounds W counts as an instant before which all its
// changes, and those of its children not listed yet, are applied; W is the
// minimum of these (the min-rule, computeWatermark), floored to the whole
// second: creation times are whole seconds, so W = 10.4 s would claim every
// change stamped 10 s, including one created at 10.9 s.
//
// What the Streams API tells, and what each rule rests on:
//
//   - Records. A page with records means the shard is not caught up; the
//     reader starts a new run of empty pages after it. AWS does not promise
//     that creation times grow within a shard (only per-item order and
//     exactly-once are documented), so a shard whose records were read counts
//     as the latest creation time read minus the reader's Tolerance
//     ([WithCreationTimeTolerance], default 1 s): assumption O, a record is
//     never dated more than Tolerance before one read ahead of it in the
//     shard, or in its parent.
//   - Empty pages. GetRecords may return empty pages while records wait
//     further along an open shard, and no response says the reader reached
//     the end of an open shard. An open shard is caught up by the reader's
//     rule ([WithCaughtUpRule]: k consecutive empty pages, spanning some
//     seconds) and counts as the time the first of the last k was asked for,
//     minus the propagation margin m ([WithPropagationMargin]). This rests on
//     assumption E, at most k−1 consecutive spurious empty pages (so one of
//     the last k found the end), and assumption P, a change is readable in
//     the shard that was open for its key, and a listing shows a shard's
//     closing, within m of the change's creation or the closing.
//   - NextShardIterator absent. The shard is closed and read to its end
//     ([ProgressFinished]); this is the only end AWS reports.
//   - Listings. Empty pages prove a shard caught up only while it is open:
//     once closed, its keys' changes go to its children, read only after it
//     finishes. Only a listing shows a shard open (no EndingSequenceNumber),
//     and only as of when it was asked for. So a caught-up shard counts no
//     later than (the latest listing showing it open) − m: a listing asked
//     for before the first empty page of the run proves the shard open only
//     up to the listing, not at that page. A shard that any listing showed
//     closed, or that no listing showed open, counts only up to what was
//     read from it. A stale listing never reopens a shard.
//   - Finished shards. A finished shard no longer bounds W once the latest
//     listing shows a child of it or no longer lists it (shards are trimmed
//     24 hours after they close; unfinished children then bound W
//     themselves). Until then it bounds W by what was read from it:
//     DescribeStream may lag behind a rollover, and the unlisted children's
//     changes all come after the parent's.
//   - Lineage. A listed shard waiting for its listed, unfinished parent is
//     left out: its changes all come after the parent's, which bounds W.
//   - Unknown. A listed shard ready to read but not read yet, or a page with
//     no record and not caught up, holds W where it is.
//   - The replay start S. No shard counts earlier than S: changes before S
//     are skipped, and the export the copy was loaded from holds them. A
//     shard without a record read counts as S.
//   - W never goes back: it is the latest of every W found so far, and of
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
	state ShardState // the latest page's, or zero: unknown
	read  bool       // a page was read
	// latest is the latest creation time among the records read, and
	// tolerance the largest Tolerance any page reported.
	latest    time.Time
	tolerance time.Duration
	finished  bool
	// openAt is when the latest listing that showed the shard open was
	// asked for; closedListed is set once a listing shows it closed.
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
// asked for at at: take at before the call, as the listing shows the stream
// as of some instant after it. It replaces the previous listing; shards it
// lacks stay known, with what was read from them.
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
	if st.Tolerance > s.tolerance {
		s.tolerance = st.Tolerance
	}
	if st.Progress == ProgressFinished {
		t.Finished(st.ShardID)
		return
	}
	s.state, s.read = st, true
	if st.Progress == ProgressReading && st.Time.After(s.latest) {
		s.latest = st.Time
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
// holding it back. Its Time is a whole second, never earlier than one
// returned before, or than the floor set by [Tracker.Resume]; it is zero
// while no W is known. Status is what this call found: [WatermarkAt];
// [WatermarkUnknown] (some shard holds W where it was, and ShardID names
// it); or [WatermarkUnbounded] (no shard bounds W, as for a disabled stream
// read to its end), when W becomes now. Before the first listing, W is
// unknown: a tracker that knows no shard cannot tell an empty stream from an
// unlisted one.
func (t *Tracker) Watermark(now time.Time) Watermark {
	if !t.seen {
		return Watermark{Status: WatermarkUnknown, Time: t.w}
	}
	w := computeWatermark(t.bounds(true))
	var at time.Time
	switch w.Status {
	case WatermarkAt:
		at = w.Time
	case WatermarkUnbounded:
		at = now
	}
	if at = at.Truncate(time.Second); at.After(t.w) {
		t.w = at
	}
	w.Time = t.w
	return w
}

// ListingDue reports whether a shard listing asked for now could move W on:
// W is held by a caught-up shard that counts only up to the latest listing
// showing it open, because that listing is older than its run of empty
// pages. While following, call it after feeding each page, and list the
// stream (and feed [Tracker.Listed]) when it says so; pace the listings, as
// DescribeStream allows 10 calls a second, shared by every follower of the
// account: one listing a second per table keeps W within about a second of
// what the empty pages prove. It is false before the first listing is fed
// (list anyway: nothing is known yet) and while W is held by records, an
// unknown shard or a shard a listing showed closed, which no listing moves.
func (t *Tracker) ListingDue() bool {
	if !t.seen {
		return false
	}
	free := computeWatermark(t.bounds(false))
	if free.Status != WatermarkAt {
		return false
	}
	held := t.w
	if w := computeWatermark(t.bounds(true)); w.Status == WatermarkAt && w.Time.After(held) {
		held = w.Time
	}
	return free.Time.Truncate(time.Second).After(held.Truncate(time.Second))
}

// bounds returns the state each shard that bounds W counts as. With
// capped false, caught-up shards count as if a listing asked for now had
// shown them open ([Tracker.ListingDue]).
func (t *Tracker) bounds(capped bool) []ShardState {
	out := make([]ShardState, 0, len(t.shards))
	for id, s := range t.shards {
		sh, listed := t.listed[id]
		switch {
		case s.finished:
			if listed && !t.parents[id] {
				out = append(out, t.recordBound(id, s))
			}
		case !s.read && listed && t.waitsForParent(sh):
		case s.state.Progress == ProgressCaughtUp:
			out = append(out, t.caughtUpBound(id, s, capped))
		case s.state.Progress == ProgressReading && !s.latest.IsZero():
			out = append(out, t.recordBound(id, s))
		default:
			out = append(out, s.state)
		}
	}
	return out
}

// recordBound is a shard counted by the records read from it: the latest
// creation time read minus the tolerance, never before the start.
func (t *Tracker) recordBound(id string, s *trackedShard) ShardState {
	at := t.start
	if !s.latest.IsZero() {
		if b := s.latest.Add(-s.tolerance); b.After(at) {
			at = b
		}
	}
	return ShardState{ShardID: id, Progress: ProgressReading, Time: at}
}

// caughtUpBound is a caught-up shard: its caught-up time, no later than the
// latest listing showing it open minus the margin (unless !capped), and no
// earlier than its record bound.
func (t *Tracker) caughtUpBound(id string, s *trackedShard, capped bool) ShardState {
	rec := t.recordBound(id, s)
	if s.closedListed || (capped && s.openAt.IsZero()) {
		return rec
	}
	at := s.state.Time
	if limit := s.openAt.Add(-s.state.Margin); capped && limit.Before(at) {
		at = limit
	}
	if rec.Time.After(at) {
		at = rec.Time
	}
	return ShardState{ShardID: id, Progress: ProgressCaughtUp, Time: at}
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

// Proven returns what shard id alone proves, by the rules of [Tracker]:
// every change of the shard created before the time returned is applied
// (false while nothing is known of it). It is a shard's part of W when
// several processes read a stream's shards, each publishing its own shards'
// and W taken as their minimum in one place; a process's tracker then knows
// only the shards it read, and the listings it made. Unlike [Tracker.Watermark]
// it is not floored to the second and may go back (a record read after a
// caught-up run): each value returned was true when it was.
func (t *Tracker) Proven(id string) (time.Time, bool) {
	b, ok := t.proven(id, true)
	return b.Time, ok
}

// ProvenListingDue reports whether a listing asked for now could move
// [Tracker.Proven] of shard id on by a second or more: it is
// [Tracker.ListingDue] for one shard.
func (t *Tracker) ProvenListingDue(id string) bool {
	free, ok := t.proven(id, false)
	if !ok {
		return false
	}
	held, _ := t.proven(id, true)
	return free.Time.Truncate(time.Second).After(held.Time.Truncate(time.Second))
}

func (t *Tracker) proven(id string, capped bool) (ShardState, bool) {
	s := t.shards[id]
	switch {
	case s == nil || !s.read:
		return ShardState{}, false
	case s.finished:
		return t.recordBound(id, s), true
	case s.state.Progress == ProgressCaughtUp:
		return t.caughtUpBound(id, s, capped), true
	case s.state.Progress == ProgressReading && !s.latest.IsZero():
		return t.recordBound(id, s), true
	}
	return ShardState{}, false
}
