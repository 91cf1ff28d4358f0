package follow

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/stream"
)

// The spellings a range key may arrive with: AWS normalizes numbers, but
// the row they land on is found by numeric equality in PostgreSQL, so
// coalescing must treat equal numbers as one key whatever the spelling.
var fuzzRangeKeys = []string{"1", "1.0", "01", "1e0", "-0", "0", "2.50", "2.5", "99999999999999999999999999999999999999", "1E2", "100"}

var fuzzHashKeys = []string{"a", "b", "é", "a "}

// fuzzChanges decodes data, three bytes a change, into a page of changes of
// a table keyed pk (S) + sk (N): the event, the hash key and the range key
// spelling. A range key byte with the top bit set leaves sk out (a change
// whose key cannot be read: coalesce keeps it, apply reports it).
func fuzzChanges(data []byte) []stream.Change {
	var out []stream.Change
	for i := 0; i+2 < len(data); i += 3 {
		ev := []stream.EventName{stream.EventInsert, stream.EventModify, stream.EventRemove}[int(data[i])%3]
		keys := ddbjson.Item{"pk": &types.AttributeValueMemberS{Value: fuzzHashKeys[int(data[i+1])%len(fuzzHashKeys)]}}
		if data[i+2]&0x80 == 0 {
			keys["sk"] = &types.AttributeValueMemberN{Value: fuzzRangeKeys[int(data[i+2])%len(fuzzRangeKeys)]}
		}
		c := stream.Change{ShardID: "shardId-1", SequenceNumber: strconv.Itoa(1000 + i), EventName: ev, Keys: keys}
		if ev != stream.EventRemove {
			c.NewImage = ddbjson.Item{"v": &types.AttributeValueMemberN{Value: strconv.Itoa(i)}}
			for k, v := range keys {
				c.NewImage[k] = v
			}
		}
		out = append(out, c)
	}
	return out
}

// rowKey is the key as PostgreSQL sees it: the range key compared as a
// number. "" for a change without a readable key.
func rowKey(t *testing.T, c stream.Change) string {
	sk, ok := c.Keys["sk"].(*types.AttributeValueMemberN)
	if !ok {
		return ""
	}
	n, err := ddbjson.NormalizeNumber(sk.Value)
	if err != nil {
		t.Fatalf("normalizing %q: %v", sk.Value, err)
	}
	return c.Keys["pk"].(*types.AttributeValueMemberS).Value + "\x00" + n
}

// replay applies changes in order to a table of row key → sequence number
// of the image it holds, as the data table would hold them.
func replay(t *testing.T, changes []stream.Change) map[string]string {
	rows := map[string]string{}
	for _, c := range changes {
		k := rowKey(t, c)
		if k == "" {
			continue
		}
		if c.EventName == stream.EventRemove {
			delete(rows, k)
		} else {
			rows[k] = c.SequenceNumber
		}
	}
	return rows
}

// FuzzCoalesce checks follow's coalescing of a page: the last change of
// each key wins, page order is kept, nothing else is dropped, and replaying
// the result gives the same rows as replaying the whole page. apply relies
// on at most one change per row (it writes the page's new images in one
// merge and its removes after it), so that is checked too.
func FuzzCoalesce(f *testing.F) {
	f.Add([]byte{0, 0, 0, 2, 0, 0, 0, 0, 0})       // insert, remove, re-insert of one key
	f.Add([]byte{0, 0, 0, 1, 0, 1, 2, 0, 2})       // one row under three spellings of 1
	f.Add([]byte{0, 0, 0x80, 1, 0, 0x80, 0, 1, 5}) // changes without a readable key are kept
	f.Add([]byte{2, 1, 9, 0, 1, 10, 0, 2, 6, 1, 2, 7})
	key := reconcile.KeySchema{Hash: reconcile.KeyAttribute{Name: "pk", Type: "S"}, Range: reconcile.KeyAttribute{Name: "sk", Type: "N"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		in := fuzzChanges(data)
		out := coalesce(key, in)

		// Order kept: out is a subsequence of in.
		pos := make(map[string]int, len(in))
		for i, c := range in {
			pos[c.SequenceNumber] = i
		}
		prev := -1
		for _, c := range out {
			i, ok := pos[c.SequenceNumber]
			if !ok || i <= prev {
				t.Fatalf("coalesce reordered or invented changes: %v", seqs(out))
			}
			prev = i
		}
		// The last change of each row wins; at most one change per row;
		// changes without a readable key are all kept.
		last := map[string]string{}
		unreadable := 0
		for _, c := range in {
			if k := rowKey(t, c); k != "" {
				last[k] = c.SequenceNumber
			} else {
				unreadable++
			}
		}
		seen := map[string]bool{}
		for _, c := range out {
			k := rowKey(t, c)
			if k == "" {
				unreadable--
				continue
			}
			if seen[k] {
				t.Fatalf("two changes for row %q in %v (apply would write them out of order)", k, seqs(out))
			}
			seen[k] = true
			if last[k] != c.SequenceNumber {
				t.Fatalf("row %q keeps change %s, its last is %s", k, c.SequenceNumber, last[k])
			}
		}
		if len(seen) != len(last) || unreadable != 0 {
			t.Fatalf("coalesce dropped changes: %d of %d rows kept, %d unreadable changes lost", len(seen), len(last), unreadable)
		}
		if a, b := fmt.Sprint(replay(t, in)), fmt.Sprint(replay(t, out)); a != b {
			t.Fatalf("replaying the coalesced page gives %s, the whole page %s", b, a)
		}
	})
}

func seqs(cs []stream.Change) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.SequenceNumber
	}
	return out
}
