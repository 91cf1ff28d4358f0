package stream

import (
	"strconv"
	"strings"
	"time"
)

// Shard ids carry their creation time. This is an observed format, not an
// AWS promise: the API reference says only that a shard id is a
// "system-generated identifier" of 28 to 65 characters. What was observed:
//
//   - AWS's own DescribeStream example (the Streams API's examples-1.json,
//     shipped with botocore and the AWS SDKs) lists a lineage of four shards,
//     shardId-00000001414562045508-2bac9cd2, then -00000001414576573621-,
//     -00000001414592258131- and -00000001414608446368-. Read as epoch
//     milliseconds, the first is 2014-10-29T05:54:05.508Z and each child
//     follows its parent by 4.0, 4.4 and 4.5 hours: the rollover period
//     practitioners report for open shards.
//   - An issue filed on 2020-06-17 (localstack/localstack#2569) quotes a real
//     id, shardId-00000001592367572726-07776efd: 2020-06-17T04:19:32.726Z,
//     the same day, and calls the 20 digits a timestamp.
//   - Apache Flink's DynamoDB Streams connector (DynamodbStreamsShardHandle)
//     documents the observed form "shardId-" + a 20-digit timestamp + "-" +
//     a suffix, and orders shards by it.
//
// So ShardCreated reads the 20 digits as the shard's creation time in epoch
// milliseconds, and only in the exact form observed: "shardId-", 20 digits,
// "-", 8 lowercase hexadecimal digits. Anything else does not parse, and the
// callers fall back to the rules that need no such evidence. Emulators differ:
// moto gives every stream the same fixed id (with a 2018 number), which is
// why [Orphan.ParentClosedBefore] also checks the ids of a lineage against
// each other.

const (
	shardIDPrefix = "shardId-"
	shardIDDigits = 20
	shardIDSuffix = 8
)

// Plausible creation times: DynamoDB launched in January 2012; a number
// outside these bounds is not a creation time.
var (
	shardIDEarliest = time.Date(2012, 1, 1, 0, 0, 0, 0, time.UTC)
	shardIDLatest   = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// ShardCreated returns the creation time that the AWS shard id id carries,
// and true; or false when id is not of the observed form
// shardId-<20 decimal digits>-<8 lowercase hex digits>, or its number, read as
// epoch milliseconds, is before 2012 or after 2099. The format is observed,
// not promised by AWS (see the comment above this function in shardid.go for
// the evidence): use the time only as extra evidence, with a safe rule when it
// is missing.
func ShardCreated(id string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(id, shardIDPrefix)
	if !ok || len(rest) != shardIDDigits+1+shardIDSuffix || rest[shardIDDigits] != '-' {
		return time.Time{}, false
	}
	digits, suffix := rest[:shardIDDigits], rest[shardIDDigits+1:]
	for i := range len(digits) {
		if digits[i] < '0' || digits[i] > '9' {
			return time.Time{}, false
		}
	}
	for i := range len(suffix) {
		if c := suffix[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return time.Time{}, false
		}
	}
	ms, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	at := time.UnixMilli(ms).UTC()
	if at.Before(shardIDEarliest) || !at.Before(shardIDLatest) {
		return time.Time{}, false
	}
	return at, true
}
