// Package scenario is ddbsync's model-based consistency-proof harness. From
// a seed it derives a workload (puts, whole-item saves, UpdateItem SET and
// REMOVE, deletes and TTL removals over a key space with hot keys) and a
// schedule of what AWS and the operator do to the follower (an export at a
// past instant while writes go on, shard rollovers and splits, throttling,
// 5xx, empty pages, records dated earlier than their write, fake-clock jumps
// past the 15-minute iterator life, crashes of load and follow in-process
// and SIGKILL of a ddbsync child process), runs it against the in-process
// emulator and PostgreSQL, and checks ddbsync's promise after every follow
// step:
//
//   - the watermark W in ddbsync.streams never runs ahead of a change that is
//     not applied: every key's row is the key's state after its last change
//     created before W, or a later state of it;
//   - at the end the copy equals the emulator's table exactly (canonical
//     DynamoDB JSON of every item), every shard's checkpoint is at its last
//     record, each change was applied once (changes_applied per shard
//     equals the shard's records since the replay start), and finished shards
//     are exactly the closed ones;
//   - scenarios that cross the stream's 24-hour retention end in a
//     refusal that matches [stream.ErrGap], with nothing applied past it, and
//     recover with a new export, or (the heal kind, heal.go) with `heal`:
//     incremental exports of the gap, after which the copy is exactly the
//     table as of the last export's end, before following on.
//
// The faults stay within the assumptions the watermark rests on
// (stream.Tracker): no shard meets more than k−1 forced empty pages in a
// row (E), and a record is dated early by at most the smaller of the
// propagation margin (P) and the creation-time tolerance (O). follow.go
// holds the bounds, in one place. [Options].ExtraEmptyPages breaks E on
// purpose: the checks must then be able to find a watermark past an
// unapplied change, and so must any live verification of the copy.
//
// The workload and the fault schedule come from the seed alone; goroutine
// timing varies between runs, and the assertions must hold for every
// interleaving. A failing scenario prints its seed, its plan and the command
// that replays it. See scenario_test.go for the CI seed set and the soak.
//
// The harness uses the emulator's fake clock everywhere a clock matters in
// process (the follower's retention rule, the readers' iterator age and
// caught-up rule), and keeps the clock moving while it waits, so that
// "caught up" is reached in fake time without real sleeps.
package scenario
