package stream_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ddbsync/ddbsync/stream"
)

// simShard is one shard of a simulated stream, and how far a simulated
// reader has read it.
type simShard struct {
	id, parent string
	records    []time.Time // creation times, in shard order
	closed     bool
	listed     bool // some listing showed it: the follower may read it
	read       int  // records read
	finished   bool
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

func (s *simStream) lastRead(sh *simShard) time.Time {
	if sh.read == 0 {
		return time.Time{}
	}
	return sh.records[sh.read-1]
}

// step runs one operation.
func (s *simStream) step(op, arg byte) {
	isOpen := func(sh *simShard) bool { return !sh.closed }
	switch op % 7 {
	case 0: // a write to an open shard
		if sh := s.pick(arg, isOpen); sh != nil {
			sh.records = append(sh.records, s.clock)
		}
	case 1: // time passes
		s.clock = s.clock.Add(time.Duration(arg%8) * time.Second)
	case 2: // a rollover, or with the high bit a split
		if sh := s.pick(arg, isOpen); sh != nil && len(s.shards) < 24 {
			sh.closed = true
			s.add(fmt.Sprintf("%s.%d", sh.id, 0), sh.id)
			if arg&0x80 != 0 {
				s.add(fmt.Sprintf("%s.%d", sh.id, 1), sh.id)
			}
		}
	case 3: // a listing, maybe lagging: a closed shard's children missing
		s.list(arg)
	case 4: // a page with records
		if sh := s.pick(arg, func(sh *simShard) bool { return s.readable(sh) && sh.read < len(sh.records) }); sh != nil {
			sh.read = min(len(sh.records), sh.read+1+int(arg>>5)%3)
			s.tr.Read(stream.ShardState{ShardID: sh.id, Progress: stream.ProgressReading, Time: s.lastRead(sh)})
		}
	case 5: // empty pages enough to be caught up, or the end of a closed shard
		if sh := s.pick(arg, func(sh *simShard) bool { return s.readable(sh) && sh.read == len(sh.records) }); sh != nil {
			switch {
			case sh.closed && arg&0x80 == 0:
				sh.finished = true
				s.tr.Read(stream.ShardState{ShardID: sh.id, Progress: stream.ProgressFinished})
			default:
				// An open shard; or a closed one that GetRecords still
				// serves empty pages for, which prove nothing of its
				// children.
				at := s.clock.Add(-time.Duration(arg>>5&3) * time.Second)
				if l := s.lastRead(sh); l.After(at) {
					at = l
				}
				s.tr.Read(stream.ShardState{ShardID: sh.id, Progress: stream.ProgressCaughtUp, Time: at})
			}
		}
	case 6: // an empty page, not (yet) caught up
		if sh := s.pick(arg, func(sh *simShard) bool { return s.readable(sh) && sh.read == len(sh.records) }); sh != nil {
			st := stream.ShardState{ShardID: sh.id}
			if sh.read > 0 {
				st.Progress, st.Time = stream.ProgressReading, s.lastRead(sh)
			}
			s.tr.Read(st)
		}
	}
}

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
		l := stream.Shard{ID: sh.id, ParentID: sh.parent}
		if sh.closed {
			l.EndingSequenceNumber = "1"
		}
		listing = append(listing, l)
	}
	s.tr.Listed(s.clock, listing...)
}

// check asserts the tracker's promise: W never goes back, is never in the
// future (but for the start S, which a shard with no record counts as), and no record with a creation time before W (and not before the
// replay start) is still unread, in any shard, listed or not.
func (s *simStream) check() {
	t := s.t
	w := s.tr.Watermark(s.clock)
	if w.Time.Before(s.last.Time) {
		t.Fatalf("W went back from %v to %v", s.last.Time, w.Time)
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
}

// FuzzTracker runs random sequences of writes, rollovers, splits, listings
// (some lagging behind a rollover), pages and finishes through a Tracker,
// and checks after each that W never goes back and never passes a record
// the follower has not read: in an unfinished shard, in the unlisted
// children of a finished one, or behind a closed shard's empty pages.
func FuzzTracker(f *testing.F) {
	f.Add([]byte{3, 0, 0, 0, 1, 7, 1, 7, 4, 0, 4, 1, 0, 0, 1, 3, 2, 0, 0, 0, 1, 5, 3, 1, 5, 0, 3, 0, 4, 2, 5, 2, 1, 6, 5, 0})
	f.Add([]byte{3, 0, 1, 7, 1, 7, 0, 0, 0, 1, 1, 2, 2, 0x80, 1, 3, 0, 2, 0, 3, 3, 0, 4, 0, 4, 1, 5, 0x80, 5, 0, 5, 1, 3, 0, 4, 0, 4, 1, 5, 0, 5, 1})
	f.Add([]byte{3, 0, 1, 7, 1, 7, 0, 0, 4, 0, 5, 0, 2, 0, 1, 4, 0, 1, 1, 4, 5, 0x80, 3, 1, 5, 0, 5, 0, 3, 0, 4, 0, 5, 0, 6, 0})
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
