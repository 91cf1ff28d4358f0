package stream

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// Shard is one entry of a stream's shard listing.
type Shard struct {
	ID string
	// ParentID is the shard this one split or rolled over from; empty for a
	// root. The parent may be missing from the listing once trimmed.
	ParentID               string
	StartingSequenceNumber string
	// EndingSequenceNumber is empty while the shard is open.
	EndingSequenceNumber string
}

// Open reports whether the shard may still receive records.
func (s Shard) Open() bool { return s.EndingSequenceNumber == "" }

// ParentState is where a shard's parent stands, which decides whether the
// shard may be read: per-key order holds only if a parent is read to its end
// before its children.
type ParentState int

// The parent states. The zero value is invalid.
const (
	// ParentNone: the shard has no parent.
	ParentNone ParentState = iota + 1
	// ParentFinished: the caller finished reading the parent.
	ParentFinished
	// ParentPending: the parent is listed and not finished; the shard must
	// wait.
	ParentPending
	// ParentAbsent: the parent is not listed and the caller never finished
	// it. AWS trims shards 24 hours after they close, so this is normal for
	// the oldest shards, and such a shard is ready. But if the parent held
	// changes after the caller's start instant, they are lost: see
	// [ShardLineage.Orphans].
	ParentAbsent
)

// String returns the state's name.
func (p ParentState) String() string {
	switch p {
	case ParentNone:
		return "none"
	case ParentFinished:
		return "finished"
	case ParentPending:
		return "pending"
	case ParentAbsent:
		return "absent"
	}
	return fmt.Sprintf("ParentState(%d)", int(p))
}

// Orphan is a shard whose parent is not listed and was never finished by the
// caller.
type Orphan struct {
	ShardID  string
	ParentID string
}

// parentCloseAllowance is how long after a child's creation (as its id
// tells) its parent is taken to close at the latest, and how far the clock
// behind shard ids may run behind the clock behind record creation times.
// In AWS's examples a child is numbered when its parent rolls over; the
// allowance only makes the proof insist on a clear lead.
const parentCloseAllowance = time.Minute

// ParentClosedBefore reports whether the orphan's id proves that its gone
// parent closed before s, so that every change the parent held was created
// before s. A child is created when its parent closes (a rollover or a
// split), and the parent takes no record after that; so an orphan created
// (by [ShardCreated]) more than a minute before s has a parent whose changes
// all precede s. With s the replay start S, those changes are all in the
// export the copy was loaded from: losing the parent loses nothing.
//
// It returns false, the safe answer that leaves the caller to its other
// checks, when either id does not carry a creation time, when the parent's
// id is not earlier than the orphan's (ids that do not follow the observed
// format), or when the orphan was created too close to s or after it.
func (o Orphan) ParentClosedBefore(s time.Time) bool {
	created, ok := ShardCreated(o.ShardID)
	if !ok {
		return false
	}
	parent, ok := ShardCreated(o.ParentID)
	if !ok || !parent.Before(created) {
		return false
	}
	return created.Add(parentCloseAllowance).Before(s)
}

// ShardLineage is a shard listing arranged by parent links. It is built once
// from a [Describe] result and answers questions about it without I/O. A
// ShardLineage is immutable and safe for concurrent use.
type ShardLineage struct {
	shards   map[string]Shard
	order    []string
	children map[string][]string
}

// NewShardLineage builds the lineage of a shard listing, in any order (AWS
// promises none). A shard listed twice keeps the entry that says it is closed
// (the listing may be read while the shard closes). It returns an error
// wrapping [ErrLineage] for a shard without an id, a shard listed twice with
// different parents, or a cycle of parent links.
func NewShardLineage(listing []types.Shard) (*ShardLineage, error) {
	l := &ShardLineage{shards: make(map[string]Shard, len(listing)), children: map[string][]string{}}
	for i, ts := range listing {
		s := shardFrom(ts)
		if s.ID == "" {
			return nil, fmt.Errorf("%w: shard %d of the listing has no id", ErrLineage, i)
		}
		if old, ok := l.shards[s.ID]; ok {
			if old.ParentID != s.ParentID {
				return nil, fmt.Errorf("%w: shard %s is listed with parents %q and %q", ErrLineage, s.ID, old.ParentID, s.ParentID)
			}
			if !old.Open() {
				continue
			}
		}
		l.shards[s.ID] = s
	}
	depth, err := l.depths()
	if err != nil {
		return nil, err
	}
	l.order = make([]string, 0, len(l.shards))
	for id, s := range l.shards {
		l.order = append(l.order, id)
		if _, listed := l.shards[s.ParentID]; listed {
			l.children[s.ParentID] = append(l.children[s.ParentID], id)
		}
	}
	// By generation, then id: parents come first and the order is
	// deterministic whatever the listing's order.
	slices.SortFunc(l.order, func(a, b string) int {
		return cmp.Or(cmp.Compare(depth[a], depth[b]), cmp.Compare(a, b))
	})
	for _, c := range l.children {
		slices.Sort(c)
	}
	return l, nil
}

// depths returns each shard's number of listed ancestors, walking parent
// links iteratively and failing on a cycle.
func (l *ShardLineage) depths() (map[string]int, error) {
	depth := make(map[string]int, len(l.shards))
	for id := range l.shards {
		var path []string
		onPath := map[string]bool{}
		cur := id
		base := 0
		for {
			if d, ok := depth[cur]; ok {
				base = d + 1
				break
			}
			s, listed := l.shards[cur]
			if !listed {
				break
			}
			if onPath[cur] {
				return nil, fmt.Errorf("%w: shard %s is its own ancestor", ErrLineage, cur)
			}
			onPath[cur] = true
			path = append(path, cur)
			if s.ParentID == "" {
				break
			}
			cur = s.ParentID
		}
		for i := len(path) - 1; i >= 0; i-- {
			depth[path[i]] = base
			base++
		}
	}
	return depth, nil
}

func shardFrom(ts types.Shard) Shard {
	s := Shard{ID: deref(ts.ShardId), ParentID: deref(ts.ParentShardId)}
	if r := ts.SequenceNumberRange; r != nil {
		s.StartingSequenceNumber = deref(r.StartingSequenceNumber)
		s.EndingSequenceNumber = deref(r.EndingSequenceNumber)
	}
	return s
}

// Len returns the number of distinct shards listed.
func (l *ShardLineage) Len() int { return len(l.order) }

// Shard returns the listed shard with the given id.
func (l *ShardLineage) Shard(id string) (Shard, bool) {
	s, ok := l.shards[id]
	return s, ok
}

// Order returns every shard id, parents before their children; shards of one
// generation are sorted by id. The slice is the caller's.
func (l *ShardLineage) Order() []string { return slices.Clone(l.order) }

// Children returns the listed children of shard id, sorted; a split gives
// several.
func (l *ShardLineage) Children(id string) []string { return slices.Clone(l.children[id]) }

// Unlisted returns the ids among ids that the listing lacks, in their order.
// A checkpointed shard that is unlisted and was not finished is a gap: its
// remaining records are gone.
func (l *ShardLineage) Unlisted(ids []string) []string {
	var out []string
	for _, id := range ids {
		if _, ok := l.shards[id]; !ok {
			out = append(out, id)
		}
	}
	return out
}

// ParentState returns where shard id's parent stands, given the set of shard
// ids the caller has finished (read to their end). It returns 0 for a shard
// that is not listed.
func (l *ShardLineage) ParentState(id string, finished map[string]bool) ParentState {
	s, ok := l.shards[id]
	switch {
	case !ok:
		return 0
	case s.ParentID == "":
		return ParentNone
	case finished[s.ParentID]:
		return ParentFinished
	}
	if _, listed := l.shards[s.ParentID]; listed {
		return ParentPending
	}
	return ParentAbsent
}

// Ready returns, in [ShardLineage.Order], the shards the caller may read now:
// not finished, and with no parent, a finished parent, or a parent absent
// from the listing (trimmed; check [ShardLineage.Orphans] before applying
// anything from such a shard). The result includes shards already being read;
// the caller skips those.
func (l *ShardLineage) Ready(finished map[string]bool) []string {
	var out []string
	for _, id := range l.order {
		if finished[id] {
			continue
		}
		if l.ParentState(id, finished) != ParentPending {
			out = append(out, id)
		}
	}
	return out
}

// Orphans returns, in [ShardLineage.Order], the unfinished shards whose
// parent is absent from the listing and not finished by the caller. The
// parent's records are gone. That loses nothing when the parent closed before
// the caller's start instant S (T − skew), which the caller proves either
// before reading by the orphan's id ([Orphan.ParentClosedBefore]), or by the
// orphan's first record being at or before S ([Page].FirstRecordTime);
// otherwise it is a gap the caller must refuse, naming both shards.
func (l *ShardLineage) Orphans(finished map[string]bool) []Orphan {
	var out []Orphan
	for _, id := range l.order {
		if !finished[id] && l.ParentState(id, finished) == ParentAbsent {
			out = append(out, Orphan{ShardID: id, ParentID: l.shards[id].ParentID})
		}
	}
	return out
}
