package stream_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ddbsync/ddbsync/stream"
)

// The simulated stream's clocks. Writes reach their shard up to simDelay
// after they are made, and are stamped with their creation time rounded down
// to the second, so a record may be dated before one ahead of it in its
// shard, or in its parent; a listing shows a shard closed only once it has
// been closed simStale. The reader's margins cover both, as the defaults are
// meant to cover AWS: Margin = simDelay + simStale (assumption P), Tolerance
// = simDelay (assumption O).
const (
	simTick   = 250 * time.Millisecond
	simDelay  = time.Second
	simStale  = 500 * time.Millisecond
	simMargin = simDelay + simStale
)

// simShard is one shard of a simulated stream, and how far a simulated
// reader has read it.
type simShard struct {
	id, parent string
	records    []time.Time // creation times, whole seconds, in shard order
	closed     bool
	closedAt   time.Time
	listed     bool // some listing showed it: the follower may read it
	// listedClosed is what the latest listing showing the shard said.
	listedClosed bool
	read         int // records read
	latest       time.Time
	finished     bool
}

// simStream is a stream whose shards roll over and split as bytes say,
// read by a follower that feeds a [stream.Tracker] the way ShardReader and
// the follower do. It knows every record, so it can check W against them.
type simStream struct {
	t      *testing.T
	start  time.Time
	clock  time.Time
	shards []*simShard
	byID   map[string]*simShard
	tr     *stream.Tracker
	last   stream.Watermark
}

func newSimStream(t *testing.T) *simStream {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	s := &simStream{t: t, start: t0.Add(10 * time.Second), clock: t0, byID: map[string]*simShard{}}
	s.tr = stream.NewTracker(s.start)
	s.add("a", "")
	s.add("b", "")
	return s
}

func (s *simStream) add(id, parent string) {
	sh := &simShard{id: id, parent: parent}
	s.shards = append(s.shards, sh)
	s.byID[id] = sh
}

func (s *simStream) pick(arg byte, ok func(*simShard) bool) *simShard {
	var c []*simShard
	for _, sh := range s.shards {
		if ok(sh) {
			c = append(c, sh)
		}
	}
	if len(c) == 0 {
		return nil
	}
	return c[int(arg)%len(c)]
}

// readable: listed, unfinished, and its parent (if any) finished.
func (s *simStream) readable(sh *simShard) bool {
	if !sh.listed || sh.finished {
		return false
	}
	p := s.byID[sh.parent]
	return p == nil || p.finished
}

func (s *simStream) state(sh *simShard, p stream.Progress, at time.Time) stream.ShardState {
	return stream.ShardState{ShardID: sh.id, Progress: p, Time: at, Margin: simMargin, Tolerance: simDelay}
}

// step runs one operation.
func (s *simStream) step(op, arg byte) {
	isOpen := func(sh *simShard) bool { return !sh.closed }
	switch op % 7 {
	case 0: // a write reaching an open shard now, made up to simDelay ago
		if sh := s.pick(arg, isOpen); sh != nil {
			made := s.clock.Add(-time.Duration(arg>>5) * simDelay / 7)
			sh.records = append(sh.records, made.Truncate(time.Second))
		}
	case 1: // time passes
		s.clock = s.clock.Add(time.Duration(arg%16) * simTick)
	case 2: // a rollover, or with the high bit a split
		if sh := s.pick(arg, isOpen); sh != nil && len(s.shards) < 24 {
			sh.closed, sh.closedAt = true, s.clock
			s.add(fmt.Sprintf("%s.%d", sh.id, 0), sh.id)
			if arg&0x80 != 0 {
				s.add(fmt.Sprintf("%s.%d", sh.id, 1), sh.id)
			}
		}
	case 3: // a listing, maybe lagging: a closed shard's children missing
		s.list(arg)
	case 4: // a page with records
		if sh := s.pick(arg, func(sh *simShard) bool { return s.readable(sh) && sh.read < len(sh.records) }); sh != nil {
			n := min(len(sh.records), sh.read+1+int(arg>>5)%3)
			for _, r := range sh.records[sh.read:n] {
				if r.After(sh.latest) {
					sh.latest = r
				}
			}
			sh.read = n
			s.tr.Read(s.state(sh, stream.ProgressReading, sh.latest))
		}
	case 5: // empty pages enough to be caught up, or the end of a closed shard
		if sh := s.pick(arg, func(sh *simShard) bool { return s.readable(sh) && sh.read == len(sh.records) }); sh != nil {
			switch {
			case sh.closed && arg&0x80 == 0:
				sh.finished = true
				s.tr.Read(stream.ShardState{ShardID: sh.id, Progress: stream.ProgressFinished})
			default:
				// An open shard, read to its end now, its run of empty pages
				// begun some ticks ago; or a closed one that GetRecords still
				// serves empty pages for, which prove nothing of its
				// children.
				began := s.clock.Add(-time.Duration(arg>>5&7) * simTick)
				s.tr.Read(s.state(sh, stream.ProgressCaughtUp, began.Add(-simMargin)))
			}
		}
	case 6: // an empty page, not (yet) caught up
		if sh := s.pick(arg, func(sh *simShard) bool { return s.readable(sh) && sh.read == len(sh.records) }); sh != nil {
			st := s.state(sh, stream.ProgressUnknown, time.Time{})
			if sh.read > 0 {
				st.Progress, st.Time = stream.ProgressReading, sh.latest
			}
			s.tr.Read(st)
		}
	}
}

// list feeds a listing asked for now. It shows a shard closed only once it
// has been closed simStale, and with arg's low bit it lacks the children of
// a closed shard, as DescribeStream may lag behind a rollover.
func (s *simStream) list(arg byte) {
	var hideChildrenOf string
	if arg&1 != 0 {
		if p := s.pick(arg>>1, func(sh *simShard) bool { return sh.closed }); p != nil {
			hideChildrenOf = p.id
		}
	}
	var listing []stream.Shard
	for _, sh := range s.shards {
		if sh.parent != "" && sh.parent == hideChildrenOf {
			continue
		}
		sh.listed = true
		sh.listedClosed = sh.closed && !s.clock.Before(sh.closedAt.Add(simStale))
		listing = append(listing, listedAs(sh))
	}
	s.tr.Listed(s.clock, listing...)
}

func listedAs(sh *simShard) stream.Shard {
	l := stream.Shard{ID: sh.id, ParentID: sh.parent}
	if sh.listedClosed {
		l.EndingSequenceNumber = "1"
	}
	return l
}

// check asserts the tracker's promise: W is a whole second, never goes
// back, is never in the future (but for the start S, which a shard with no
// record counts as), and no record created before W (and not before the
// replay start) is still unread, in any shard, listed or not. And when the
// tracker says a listing is due, a listing asked for now that shows the
// shards as before moves W on.
func (s *simStream) check() {
	t := s.t
	w := s.tr.Watermark(s.clock)
	if w.Time.Before(s.last.Time) {
		t.Fatalf("W went back from %v to %v", s.last.Time, w.Time)
	}
	if !w.Time.Equal(w.Time.Truncate(time.Second)) {
		t.Fatalf("W %v is not a whole second", w.Time)
	}
	if w.Time.After(s.clock) && w.Time.After(s.start) {
		t.Fatalf("W %v is after now %v and the start %v", w.Time, s.clock, s.start)
	}
	for _, sh := range s.shards {
		for _, r := range sh.records[sh.read:] {
			if !r.Before(s.start) && r.Before(w.Time) {
				t.Fatalf("W %v (%s, held by %q) passed unread record %v of shard %s (finished %v, listed %v, parent %q)",
					w.Time, w.Status, w.ShardID, r, sh.id, sh.finished, sh.listed, sh.parent)
			}
		}
	}
	s.last = w
	if s.tr.ListingDue() {
		var again []stream.Shard
		for _, sh := range s.shards {
			if sh.listed {
				again = append(again, listedAs(sh))
			}
		}
		c := stream.CloneTracker(s.tr)
		c.Listed(s.clock, again...)
		if got := c.Watermark(s.clock); !got.Time.After(w.Time) {
			t.Fatalf("a listing was due at W %v (held by %q), but one asked for now leaves W at %v", w.Time, w.ShardID, got.Time)
		}
	}
}

// FuzzTracker runs random sequences of writes (reaching their shard late,
// dated to the second, so creation times may go back within a shard),
// rollovers, splits, listings (some lagging behind a rollover, some not yet
// showing a closing), pages and finishes through a Tracker, and checks after
// each that W never goes back and never passes a record the follower has not
// read: in an unfinished shard, in the unlisted children of a finished one,
// or behind a closed shard's empty pages after a listing taken before them.
func FuzzTracker(f *testing.F) {
	f.Add([]byte{3, 0, 0, 0, 1, 7, 1, 7, 4, 0, 4, 1, 0, 0, 1, 3, 2, 0, 0, 0, 1, 5, 3, 1, 5, 0, 3, 0, 4, 2, 5, 2, 1, 6, 5, 0})
	f.Add([]byte{3, 0, 1, 7, 1, 7, 0, 0, 0, 1, 1, 2, 2, 0x80, 1, 3, 0, 2, 0, 3, 3, 0, 4, 0, 4, 1, 5, 0x80, 5, 0, 5, 1, 3, 0, 4, 0, 4, 1, 5, 0, 5, 1})
	f.Add([]byte{3, 0, 1, 7, 1, 7, 0, 0, 4, 0, 5, 0, 2, 0, 1, 4, 0, 1, 1, 4, 5, 0x80, 3, 1, 5, 0, 5, 0, 3, 0, 4, 0, 5, 0, 6, 0})
	// Shard b splits at 11.0 s; a write made at 10.86 s reaches its child
	// b.1, stamped 10; a listing at 11.0 s still shows b open (its closing
	// not shown yet), and empty pages asked for from 13.5 s count b caught
	// up: the listing proves b open only up to 11.0 s minus the margin, or
	// W would pass the record in b.1.
	f.Add([]byte{0xa2, 0x3b, 0x16, 0x92, 0x39, 0x28, 0xef, 0xfd, 0x8, 0xa7, 0x9b, 0xd3, 0xcd, 0xc7, 0x38, 0x3b, 0x7a, 0x3a, 0x8, 0x6e, 0x69, 0x0, 0xfa, 0x9c, 0xac, 0xbd})
	// Shard b's last record is stamped 11; b splits, and a write made at
	// 10.75 s reaches child b.0 stamped 10, a second before the record read
	// ahead of it in the lineage: b counts as 11 minus the tolerance.
	f.Add([]byte{0x32, 0x2e, 0x32, 0xe5, 0x39, 0x28, 0xef, 0xfd, 0x8, 0xa7, 0xd9, 0x3d, 0x6b, 0xab, 0x0, 0xfa, 0xa2, 0xb9, 0xc0, 0x62, 0x7c, 0x1, 0x5f, 0xa8, 0x99})
	f.Fuzz(func(t *testing.T, data []byte) {
		s := newSimStream(t)
		s.list(0) // the follower lists before it reads
		s.check()
		for i := 0; i+1 < len(data) && i < 400; i += 2 {
			s.step(data[i], data[i+1])
			s.check()
		}
	})
}
