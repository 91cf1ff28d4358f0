package emulator

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash/fnv"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// table is one DynamoDB table. Every field is guarded by Server.mu.
type table struct {
	name        string
	arn         string
	id          string
	created     time.Time
	keys        ddbjson.KeySchema
	attrDefs    []attributeDefinition
	billingMode string
	items       map[string]*history // by keyString
	live        int                 // items that currently exist
	size        int64               // their itemSize total: DescribeTable's TableSizeBytes without a scan of every item under the lock
	sorted      []string            // keyStrings of live items, sorted; nil when stale
	pitr        bool
	pitrSince   time.Time
	ttlAttr     string
	stream      *stream // the latest stream, enabled or not; nil if never had one
	// forgotten is the last write that dropped an older version
	// ([WithLatestVersionsOnly]): the table's history starts there.
	forgotten time.Time
}

// version is an item as of a write; item is nil after a delete.
type version struct {
	at   time.Time
	item ddbjson.Item
}

// history is every version of one key, oldest first. Exports read it to
// reconstruct the table at any instant.
type history struct {
	key      ddbjson.Item
	versions []version
}

func (h *history) current() ddbjson.Item {
	if len(h.versions) == 0 {
		return nil
	}
	return h.versions[len(h.versions)-1].item
}

// at returns the item as of t (versions written at or before t), or nil.
func (h *history) at(t time.Time) ddbjson.Item {
	i := len(h.versions)
	for i > 0 && h.versions[i-1].at.After(t) {
		i--
	}
	if i == 0 {
		return nil
	}
	return h.versions[i-1].item
}

func tableID(arn string) string {
	h := sha256.Sum256([]byte(arn))
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// keyString is the key's identity in the table's maps: each key attribute's
// type and value bytes, length-prefixed.
func (t *table) keyString(key ddbjson.Item) string {
	var b []byte
	for _, a := range t.keys.Attributes() {
		v := key[a.Name]
		var raw []byte
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			raw = []byte(v.Value)
		case *types.AttributeValueMemberN:
			raw = []byte(v.Value)
		case *types.AttributeValueMemberB:
			raw = v.Value
		}
		b = append(b, string(ddbjson.TypeOf(v))...)
		b = binary.AppendUvarint(b, uint64(len(raw)))
		b = append(b, raw...)
	}
	return string(b)
}

// keyOf extracts and checks the key of an item or a Key request member.
func (t *table) keyOf(item ddbjson.Item, what string) (ddbjson.Item, string, error) {
	key, err := t.keys.KeyOf(item)
	if err != nil {
		return nil, "", errValidation("One or more parameter values were invalid: %s: %v", what, err)
	}
	return key, t.keyString(key), nil
}

// keyHash places a key in a stream's hash space.
func keyHash(keyStr string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(keyStr))
	return h.Sum64()
}

func (t *table) get(keyStr string) ddbjson.Item {
	if h := t.items[keyStr]; h != nil {
		return h.current()
	}
	return nil
}

// sortedKeysLocked returns the keyStrings of live items in a stable order,
// the order Scan pages through.
func (t *table) sortedKeysLocked() []string {
	if t.sorted == nil {
		t.sorted = make([]string, 0, t.live)
		for k, h := range t.items {
			if h.current() != nil {
				t.sorted = append(t.sorted, k)
			}
		}
		slices.Sort(t.sorted)
	}
	return t.sorted
}

// writeOp says who wrote: an ordinary call or TTL expiry.
type writeOp int

const (
	writeUser writeOp = iota
	writeTTL
)

// writeLocked replaces the item at key with item (nil deletes it), records
// the version and the stream record, and returns the previous item. A write
// that changes nothing records nothing, as in DynamoDB.
func (s *Server) writeLocked(t *table, key ddbjson.Item, keyStr string, item ddbjson.Item, op writeOp) ddbjson.Item {
	h := t.items[keyStr]
	var old ddbjson.Item
	if h != nil {
		old = h.current()
	}
	if sameItem(old, item) {
		return old
	}
	if h == nil {
		h = &history{key: key}
		t.items[keyStr] = h
	}
	now := s.clock.Now()
	if s.cfg.latestOnly && len(h.versions) > 0 {
		h.versions = h.versions[:0]
		t.forgotten = now
	}
	h.versions = append(h.versions, version{at: now, item: item})
	newSize, oldSize := itemSize(item), itemSize(old)
	t.size += newSize - oldSize
	switch {
	case old == nil && item != nil:
		t.live++
		t.sorted = nil
	case old != nil && item == nil:
		t.live--
		t.sorted = nil
	}
	if st := t.stream; st != nil && st.enabled {
		s.appendRecordLocked(st, keyStr, key, old, item, newSize, oldSize, op, now)
	}
	return old
}

// sameItem reports whether two items are equal as DynamoDB sees them (sets
// unordered, numbers already normalized).
func sameItem(a, b ddbjson.Item) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	ea, errA := ddbjson.EncodeItem(a)
	eb, errB := ddbjson.EncodeItem(b)
	return errA == nil && errB == nil && bytes.Equal(ea, eb)
}

// table looks a table up by name.
func (s *Server) tableLocked(name string) (*table, error) {
	t := s.tables[name]
	if t == nil {
		return nil, errNotFound("Requested resource not found: Table: %s not found", name)
	}
	return t, nil
}
