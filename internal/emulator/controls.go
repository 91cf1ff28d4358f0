package emulator

import (
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// streamOfLocked is the table's current, enabled stream.
func (s *Server) streamOfLocked(tableName string) (*table, *stream, error) {
	t := s.tables[tableName]
	if t == nil {
		return nil, nil, fmt.Errorf("no table %s", tableName)
	}
	if t.stream == nil || !t.stream.enabled {
		return nil, nil, fmt.Errorf("table %s has no enabled stream", tableName)
	}
	return t, t.stream, nil
}

// RolloverShards closes every open shard of the table's stream and opens
// one child per closed shard, covering the same keys, as DynamoDB does
// every few hours. It returns the children's ids.
func (s *Server) RolloverShards(tableName string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, st, err := s.streamOfLocked(tableName)
	if err != nil {
		return nil, fmt.Errorf("rolling over shards: %w", err)
	}
	var ids []string
	for _, sh := range st.openShards() {
		s.closeShardLocked(sh)
		ids = append(ids, s.newShardLocked(st, sh.id, sh.gen+1, sh.lo, sh.hi).id)
	}
	return ids, nil
}

// SplitShard closes the open shard shardID and opens two children, each
// taking half of its keys. Records of one key keep their order along the
// lineage: parent first, then the one child that receives the key.
func (s *Server) SplitShard(tableName, shardID string) (left, right string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, st, err := s.streamOfLocked(tableName)
	if err != nil {
		return "", "", fmt.Errorf("splitting shard %s: %w", shardID, err)
	}
	sh := st.byID[shardID]
	if sh == nil || sh.closed {
		return "", "", fmt.Errorf("splitting shard %s: no such open shard in %s", shardID, st.arn)
	}
	if sh.lo == sh.hi {
		return "", "", fmt.Errorf("splitting shard %s: its key range cannot be split further", shardID)
	}
	s.closeShardLocked(sh)
	mid := sh.lo + (sh.hi-sh.lo)/2
	l := s.newShardLocked(st, sh.id, sh.gen+1, sh.lo, mid)
	r := s.newShardLocked(st, sh.id, sh.gen+1, mid+1, sh.hi)
	return l.id, r.id, nil
}

// OpenShards lists the ids of the open shards of the table's stream.
func (s *Server) OpenShards(tableName string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, st, err := s.streamOfLocked(tableName)
	if err != nil {
		return nil, fmt.Errorf("listing shards: %w", err)
	}
	var ids []string
	for _, sh := range st.openShards() {
		ids = append(ids, sh.id)
	}
	return ids, nil
}

// DisableStream disables the table's stream, as UpdateTable with
// StreamEnabled false does: its open shards close and its records stay
// readable until retention removes them.
func (s *Server) DisableStream(tableName string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, _, err := s.streamOfLocked(tableName)
	if err != nil {
		return fmt.Errorf("disabling stream: %w", err)
	}
	return s.setStreamLocked(t, false, "")
}

// EnableStream enables a stream on the table, as UpdateTable does: a new
// stream with a new ARN and label. It returns the new ARN.
func (s *Server) EnableStream(tableName, viewType string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables[tableName]
	if t == nil {
		return "", fmt.Errorf("enabling stream: no table %s", tableName)
	}
	if err := s.setStreamLocked(t, true, viewType); err != nil {
		return "", fmt.Errorf("enabling stream: %w", err)
	}
	return t.stream.arn, nil
}

// BackdateRecords dates the stream records of the writes that follow d
// earlier than the writes themselves (ApproximateCreationDateTime is the
// write's time minus d, rounded down to the second), until it is called
// again; 0 dates them as written. AWS promises creation order per item
// only: a record may carry an earlier creation time than one before it in
// its shard, and may become readable some time after the instant it names.
// Item history, exports and retention keep the writes' own times. d must
// not be negative.
func (s *Server) BackdateRecords(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.backdate = max(d, 0)
}

// ExpireIterators expires every shard iterator handed out so far, as 15
// minutes without use would: GetRecords answers ExpiredIteratorException
// for each. Iterators handed out later are not affected. It returns
// [Server.IteratorsIssued] as of the call.
func (s *Server) ExpireIterators() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expiredBelow = s.iterators
	return s.iterators
}

// IteratorsIssued reports how many shard iterators GetShardIterator and
// GetRecords have handed out. A test waits for it to pass the value
// [Server.ExpireIterators] returned to know a reader holds an iterator
// that the next ExpireIterators will expire.
func (s *Server) IteratorsIssued() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.iterators
}

// ExpireItem deletes the item at key as TTL expiry does: the stream record
// is a REMOVE carrying userIdentity {Type "Service", PrincipalId
// "dynamodb.amazonaws.com"}. It reports whether the item existed.
func (s *Server) ExpireItem(tableName string, key ddbjson.Item) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables[tableName]
	if t == nil {
		return false, fmt.Errorf("expiring item: no table %s", tableName)
	}
	k, keyStr, err := t.keyOf(key, "key")
	if err != nil {
		return false, fmt.Errorf("expiring item: %w", err)
	}
	return s.writeLocked(t, k, keyStr, nil, writeTTL) != nil, nil
}

// ExpireTTL deletes, as TTL expiry, every item of the table whose TTL
// attribute (set with UpdateTimeToLive) is a number of epoch seconds before
// the fake clock's now. It returns how many it deleted.
func (s *Server) ExpireTTL(tableName string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables[tableName]
	if t == nil {
		return 0, fmt.Errorf("expiring items: no table %s", tableName)
	}
	if t.ttlAttr == "" {
		return 0, fmt.Errorf("expiring items: table %s has no TTL attribute", tableName)
	}
	now := s.clock.Now().Unix()
	n := 0
	for _, keyStr := range append([]string(nil), t.sortedKeysLocked()...) {
		h := t.items[keyStr]
		num, isNum := ttlSeconds(h.current(), t.ttlAttr)
		if isNum && num < now {
			s.writeLocked(t, h.key, keyStr, nil, writeTTL)
			n++
		}
	}
	return n, nil
}

func ttlSeconds(item ddbjson.Item, attr string) (int64, bool) {
	v, ok := item[attr].(*types.AttributeValueMemberN)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseFloat(v.Value, 64)
	return int64(n), err == nil
}
