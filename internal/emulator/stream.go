package emulator

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"time"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// stream is one DynamoDB stream (one label of a table). Guarded by Server.mu.
type stream struct {
	idx      int // position in Server.streams
	arn      string
	label    string
	table    string
	keys     ddbjson.KeySchema
	viewType string
	created  time.Time
	enabled  bool
	shards   []*shard // creation order, gone ones included
	byID     map[string]*shard
}

// shard is one stream shard. Records carry offsets: a record's sequence
// number is base+off, so offsets grow with gaps, as AWS sequence numbers do.
type shard struct {
	idx      int // position in stream.shards
	id       string
	parent   string
	gen      int
	lo, hi   uint64 // the key-hash range it receives, inclusive
	base     *big.Int
	startSeq string
	records  []record
	nextOff  uint64
	closed   bool
	closedAt time.Time
	endSeq   string
	// trimmed records ended at lastTrimmedOff; gone shards are hidden from
	// DescribeStream (closed and older than the retention period).
	trimmed        bool
	lastTrimmedOff uint64
	gone           bool
}

type record struct {
	off  uint64
	at   time.Time
	data []byte // the record's JSON, as GetRecords returns it
}

func (sh *shard) seq(off uint64) string {
	v := new(big.Int).SetUint64(off)
	return v.Add(v, sh.base).String()
}

// parseOff maps a sequence number to an offset of sh. below is true when it
// lies before the shard's start; a number past any offset clamps to MaxUint64.
func (sh *shard) parseOff(seq string) (off uint64, below bool, err error) {
	v, ok := new(big.Int).SetString(seq, 10)
	if !ok || v.Sign() < 0 || len(seq) > 40 {
		return 0, false, errValidation("Invalid SequenceNumber: %q", seq)
	}
	v.Sub(v, sh.base)
	switch {
	case v.Sign() < 0:
		return 0, true, nil
	case !v.IsUint64():
		return math.MaxUint64, false, nil
	}
	return v.Uint64(), false, nil
}

// find returns the index of the first record with off >= pos.
func (sh *shard) find(pos uint64) int {
	return sort.Search(len(sh.records), func(i int) bool { return sh.records[i].off >= pos })
}

// openShards lists the shards receiving records.
func (st *stream) openShards() []*shard {
	var out []*shard
	for _, sh := range st.shards {
		if !sh.closed {
			out = append(out, sh)
		}
	}
	return out
}

// shardFor returns the open shard whose hash range holds h.
func (st *stream) shardFor(h uint64) *shard {
	for _, sh := range st.shards {
		if !sh.closed && h >= sh.lo && h <= sh.hi {
			return sh
		}
	}
	return nil
}

// newStreamLocked creates an enabled stream for t with n shards splitting
// the hash space evenly.
func (s *Server) newStreamLocked(t *table, viewType string, n int) *stream {
	now := s.clock.Now()
	label := now.Format("2006-01-02T15:04:05.000")
	for _, old := range s.streams {
		if old.table == t.name && old.label >= label {
			// Labels must differ even when the clock has not moved.
			tm, _ := time.Parse("2006-01-02T15:04:05.000", old.label)
			label = tm.Add(time.Millisecond).Format("2006-01-02T15:04:05.000")
		}
	}
	st := &stream{
		idx:      len(s.streams),
		arn:      t.arn + "/stream/" + label,
		label:    label,
		table:    t.name,
		keys:     t.keys,
		viewType: viewType,
		created:  now,
		enabled:  true,
		byID:     make(map[string]*shard),
	}
	step := math.MaxUint64 / uint64(n)
	for i := range n {
		lo := uint64(i) * step
		hi := lo + step - 1
		if i == n-1 {
			hi = math.MaxUint64
		}
		s.newShardLocked(st, "", 0, lo, hi)
	}
	s.streams = append(s.streams, st)
	s.streamByArn[st.arn] = st
	t.stream = st
	return st
}

func (s *Server) newShardLocked(st *stream, parent string, gen int, lo, hi uint64) *shard {
	now := s.clock.Now()
	var b [16]byte
	binary.BigEndian.PutUint64(b[:], uint64(len(st.shards))+1)
	binary.BigEndian.PutUint64(b[8:], s.rng.Uint64())
	// AWS's ids are observed to carry the creation time in epoch
	// milliseconds, then 8 hex digits (stream.ShardCreated reads them); a
	// child's is its parent's rollover or split, on the emulator's clock.
	id := fmt.Sprintf("shardId-%020d-%s", now.UnixMilli(), hex.EncodeToString(b[12:]))
	// Starting numbers sit just below a power of ten, so a shard's sequence
	// numbers grow by a digit after a few hundred records and later
	// generations start longer: string comparison of sequence numbers is
	// wrong, and a consumer that does it will show it.
	base := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(21+gen%15)), nil)
	base.Sub(base, big.NewInt(50_000-int64(len(st.shards))*7))
	sh := &shard{
		idx:     len(st.shards),
		id:      id,
		parent:  parent,
		gen:     gen,
		lo:      lo,
		hi:      hi,
		base:    base,
		nextOff: 1 + s.rng.Uint64N(100),
	}
	sh.startSeq = sh.seq(sh.nextOff)
	st.shards = append(st.shards, sh)
	st.byID[id] = sh
	return sh
}

// closeShardLocked closes sh: it takes no more records.
func (s *Server) closeShardLocked(sh *shard) {
	if sh.closed {
		return
	}
	sh.closed = true
	sh.closedAt = s.clock.Now()
	if n := len(sh.records); n > 0 {
		sh.endSeq = sh.seq(sh.records[n-1].off)
	} else {
		sh.endSeq = sh.startSeq
	}
}

// trimLocked applies retention to st: records older than the retention
// period go; closed shards older than it vanish.
func (s *Server) trimLocked(st *stream) {
	cutoff := s.clock.Now().Add(-s.cfg.retention)
	for _, sh := range st.shards {
		if sh.gone {
			continue
		}
		n := 0
		for n < len(sh.records) && sh.records[n].at.Before(cutoff) {
			n++
		}
		if sh.closed && sh.closedAt.Before(cutoff) {
			n = len(sh.records)
			sh.gone = true
		}
		if n > 0 {
			sh.trimmed = true
			sh.lastTrimmedOff = sh.records[n-1].off
			sh.records = append(sh.records[:0:0], sh.records[n:]...)
		}
	}
}

// appendRecordLocked adds the stream record of one write to the key's shard;
// newSize and oldSize are the items' itemSize, which the write computed already.
func (s *Server) appendRecordLocked(st *stream, keyStr string, key, old, item ddbjson.Item, newSize, oldSize int64, op writeOp, now time.Time) {
	sh := st.shardFor(keyHash(keyStr))
	if sh == nil {
		return // every shard closed by hand: nowhere to write, as when disabled
	}
	off := sh.nextOff
	sh.nextOff += 1 + s.rng.Uint64N(200)
	s.eventSeq++
	var id [16]byte
	binary.BigEndian.PutUint64(id[:], s.eventSeq^uint64(st.idx)<<48)
	binary.BigEndian.PutUint64(id[8:], s.rng.Uint64())
	var name string
	switch {
	case old == nil:
		name = "INSERT"
	case item == nil:
		name = "REMOVE"
	default:
		name = "MODIFY"
	}
	var newImage, oldImage ddbjson.Item
	size := itemSize(key)
	switch st.viewType {
	case "NEW_IMAGE":
		newImage, size = item, size+newSize
	case "OLD_IMAGE":
		oldImage, size = old, size+oldSize
	case "NEW_AND_OLD_IMAGES":
		newImage, oldImage, size = item, old, size+newSize+oldSize
	}

	// Built in a scratch buffer and kept at its exact size: a stream holds
	// every record of its retention.
	b := s.recordScratch[:0]
	b = append(b, `{"eventID":"`...)
	b = hex.AppendEncode(b, id[:])
	b = append(b, `","eventName":"`...)
	b = append(b, name...)
	b = append(b, `","eventVersion":"1.1","eventSource":"aws:dynamodb","awsRegion":`...)
	b = strconv.AppendQuote(b, s.cfg.region) // an AWS region name: plain ASCII
	b = append(b, `,"dynamodb":{"ApproximateCreationDateTime":`...)
	b = strconv.AppendInt(b, now.Add(-s.backdate).Unix(), 10) // whole seconds, rounded down
	b = append(b, `,"Keys":`...)
	b = appendWireItem(b, key)
	if newImage != nil {
		b = append(b, `,"NewImage":`...)
		b = appendWireItem(b, newImage)
	}
	if oldImage != nil {
		b = append(b, `,"OldImage":`...)
		b = appendWireItem(b, oldImage)
	}
	b = append(b, `,"SequenceNumber":"`...)
	b = append(b, sh.seq(off)...)
	b = append(b, `","SizeBytes":`...)
	b = strconv.AppendInt(b, size, 10)
	b = append(b, `,"StreamViewType":"`...)
	b = append(b, st.viewType...)
	b = append(b, `"}`...)
	if op == writeTTL {
		b = append(b, `,"userIdentity":{"PrincipalId":"dynamodb.amazonaws.com","Type":"Service"}`...)
	}
	b = append(b, '}')
	s.recordScratch = b
	sh.records = append(sh.records, record{off: off, at: now, data: bytes.Clone(b)})
}
