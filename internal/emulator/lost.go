package emulator

import (
	"fmt"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// WriteUnstreamed writes item to the table as PutItem would, or deletes the
// item at key when item is nil, but leaves no stream record of it: the
// change happens in the table and is lost on its way to a consumer, which
// no real DynamoDB does and a faulty pipeline between DynamoDB and ddbsync
// might. Tests use it to plant a divergence that only a read of the table
// (a diff, follow --verify) can find. key names the item when item is nil
// (it may be the whole item). It reports whether an item was there before.
func (s *Server) WriteUnstreamed(tableName string, key, item ddbjson.Item) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables[tableName]
	if t == nil {
		return false, fmt.Errorf("writing without a stream record: no table %s", tableName)
	}
	from := key
	if item != nil {
		from = item
	}
	k, keyStr, err := t.keyOf(from, "Item")
	if err != nil {
		return false, fmt.Errorf("writing without a stream record: %w", err)
	}
	if st := t.stream; st != nil && st.enabled {
		st.enabled = false // writeLocked appends no record; nothing else reads it under s.mu
		defer func() { st.enabled = true }()
	}
	return s.writeLocked(t, k, keyStr, item, writeUser) != nil, nil
}
