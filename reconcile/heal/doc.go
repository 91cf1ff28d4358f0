// Package heal keeps a table's copy with incremental exports (ExportType
// INCREMENTAL_EXPORT: the writes of a window, from point-in-time recovery)
// instead of a new full export.
//
// [Run] recovers a copy that following can no longer complete (the stream's
// retention passed, a shard was trimmed, the stream was replaced): it asks
// AWS for incremental exports of the gap, from where the copy is complete
// ([reconcile.Coverage.Complete]: T, or W minus the replay margin) to the
// latest restorable instant, split into windows of at most 24 hours and at
// least 15 minutes, waits for each, verifies it and applies it in order
// ([load.RunIncremental]); the table is then ready to follow, from the last
// export's end minus the replay margin. It refuses when point-in-time
// recovery is off, or does not reach back to the start of the gap: only a
// new full export can restore such a copy.
//
// [Sync] keeps a table without a stream current by incremental exports
// alone: each round exports the writes since the copy's instant, applies
// them and publishes W = the export's end.
//
// Both hold the table's load and follow locks while they work, so no follow
// or load runs in between. Every statement is [store]'s (through load);
// every AWS call is [snapshot]'s.
package heal
