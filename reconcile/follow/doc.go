// Package follow replays a table's DynamoDB stream into its PostgreSQL
// copy, from the loaded export's instant onward: its one job.
//
// [Run] (follow.go) starts or resumes following and proves the stream
// still holds every change it needs; follow_loop.go runs one reader per
// shard, parents before children, and publishes the watermark W as
// [stream.Tracker] decides it (stream/tracker.go), listing the stream again
// whenever a listing would move W on, paced per table and, for
// DescribeStream, per process (describe_pace.go); apply.go applies each
// page of changes, coalesced to the last change of each key, in one
// transaction with the shard's checkpoint. With [Config].Verify on,
// verify.go and verify_run.go check the copy beside the loop: keys read
// from DynamoDB with strongly consistent reads are compared with their
// rows once W has passed the read, and a mismatch is recorded, then
// logged, stopped on or repaired. With [Config].Shared, share.go makes the
// Run one of several processes of the table: each reads the shards it
// holds a lease of (a fair share, and the expired leases of dead peers),
// each page is fenced by its lease's counter, and each publishes what its
// shards prove, from which W is the minimum. Every statement is [store]'s;
// the errors callers branch on are [reconcile]'s.
package follow
