package scenario

import (
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/emulator"
)

// pickKey chooses a key, hot keys taking HotShare of the writes.
func (e *env) pickKey() int {
	if e.r.Float64() < e.plan.HotShare {
		return e.hotKeys[e.r.IntN(len(e.hotKeys))]
	}
	return e.r.IntN(e.plan.Keys)
}

// write makes one random write and records its outcome in the model.
func (e *env) write() {
	e.t.Helper()
	ctx := e.t.Context()
	i := e.pickKey()
	key := keyItem(i)
	ck, err := canonicalKey(key)
	e.must(err, "key")
	var gap time.Duration
	switch x := e.r.IntN(10); {
	case x < 3: // same second as the previous write
	case x < 9:
		gap = time.Duration(e.r.IntN(2500)) * time.Millisecond
	default:
		gap = time.Duration(5+e.r.IntN(60)) * time.Second
	}
	e.clockMu.Lock()
	defer e.clockMu.Unlock()
	e.emu.Clock().Advance(gap)
	early := e.dateEarly()
	if early > 0 {
		e.emu.BackdateRecords(early)
		defer e.emu.BackdateRecords(0)
	}
	op := ""
	switch x := e.r.IntN(100); {
	case x < 30:
		op = "put"
		_, err = e.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tableName), Item: e.g.item(key)})
	case x < 45:
		op = "save" // read, change, write back the whole item
		cur := e.getLocked(key)
		if cur == nil {
			cur = e.g.item(key)
		}
		cur[attrNames[e.g.r.IntN(len(attrNames))]] = e.g.value(1)
		_, err = e.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tableName), Item: cur})
	case x < 75:
		op = "update"
		expr, names, values := e.g.update()
		_, err = e.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(tableName), Key: key,
			UpdateExpression: aws.String(expr), ExpressionAttributeNames: names, ExpressionAttributeValues: values})
	case x < 91:
		op = "delete"
		_, err = e.ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(tableName), Key: key})
	default:
		op = "ttl"
		_, err = e.emu.ExpireItem(tableName, key)
	}
	e.must(err, op)
	at := e.emu.Clock().Now()
	enc := ""
	if it := e.getLocked(key); it != nil {
		b, err := ddbjson.EncodeItem(it)
		e.must(err, "encoding")
		enc = string(b)
	}
	e.m.record(ck, at, at.Add(-early), enc)
	e.writesTotal++
}

// dateEarly is how much earlier than its write the next write's stream
// record is dated: while faults are on, one write in four, by up to
// maxDatedEarly. Its draws come from a generator of their own, so the rest
// of a seed's scenario is what it was before this fault existed.
func (e *env) dateEarly() time.Duration {
	if !e.faultsOn || e.early.IntN(4) != 0 {
		return 0
	}
	e.totals.DatedEarly.Add(1)
	return time.Duration(1+e.early.Int64N(maxDatedEarly.Milliseconds())) * time.Millisecond
}

func (e *env) getLocked(key ddbjson.Item) ddbjson.Item {
	out, err := e.ddb.GetItem(e.t.Context(), &dynamodb.GetItemInput{TableName: aws.String(tableName), Key: key, ConsistentRead: aws.Bool(true)})
	e.must(err, "GetItem")
	return out.Item
}

func (e *env) writes(n int) {
	e.t.Helper()
	for range n {
		e.write()
	}
	e.logf("%d writes", n)
}

// shardEvent rolls every shard over or splits one. A millisecond passes
// first: on AWS a shard lives for hours, and its children's ids, which carry
// their creation time to the millisecond (stream.ShardCreated), are always
// later than its own; without the clock moving, a child would carry its
// parent's time, which proves nothing (stream.Orphan.ParentClosedBefore).
func (e *env) shardEvent(split bool) {
	e.clockMu.Lock()
	defer e.clockMu.Unlock()
	e.emu.Clock().Advance(time.Millisecond)
	if !split {
		ids, err := e.emu.RolloverShards(tableName)
		e.must(err, "rollover")
		e.logf("rollover: %v", ids)
	} else {
		open, err := e.emu.OpenShards(tableName)
		e.must(err, "open shards")
		sort.Strings(open)
		if len(open) == 0 || len(open) >= 16 {
			return
		}
		l, r, err := e.emu.SplitShard(tableName, open[e.r.IntN(len(open))])
		if err != nil {
			e.logf("split refused: %v", err)
			return
		}
		e.logf("split into %s, %s", l, r)
	}
	e.totals.ShardEvents.Add(1)
}

var faultOps = []string{"GetRecords", "GetShardIterator", "DescribeStream", "DescribeTable"}
var faultKinds = []emulator.FaultKind{emulator.FaultThrottle, emulator.FaultProvisionedThroughput, emulator.FaultInternal}

func (e *env) faults(s Step) {
	for _, op := range faultOps {
		if e.r.IntN(2) == 0 {
			rate := s.Rate
			if op == "DescribeTable" {
				rate /= 4
			}
			e.emu.FailRate(op, faultKinds[e.r.IntN(len(faultKinds))], rate)
		}
	}
	// Forced empty pages stay within assumption E: at most k−1 pending at
	// any time, counting those of earlier steps not consumed yet.
	n := min(s.N+e.opts.ExtraEmptyPages, maxSpuriousEmpties+e.opts.ExtraEmptyPages-e.pendingEmpties())
	if n > 0 {
		e.emu.FailNext("GetRecords", emulator.FaultEmptyPage, n)
		e.emptiesPending += n
		e.totals.EmptyPages.Add(int64(n))
	}
	e.faultsOn = true
	e.logf("faults on: rate %.2f, %d empty pages (%d asked, %d pending at most)", s.Rate, n, s.N, e.emptiesPending)
}

// pendingEmpties is how many forced empty pages are still to come. Every
// GetRecords call takes one while any is pending (the emulator serves count
// rules before rates, in order), whoever makes it, so the calls since the
// last count settle it exactly.
func (e *env) pendingEmpties() int {
	calls := e.emu.Calls("GetRecords")
	e.emptiesPending = max(0, e.emptiesPending-(calls-e.emptiesCalls))
	e.emptiesCalls = calls
	return e.emptiesPending
}

func (e *env) clearFaults() {
	e.emu.ClearFaults()
	e.emptiesPending, e.emptiesCalls = 0, e.emu.Calls("GetRecords")
	e.faultsOn = false
	e.logf("faults off")
}
