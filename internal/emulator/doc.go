// Package emulator is an in-process AWS endpoint for ddbsync's tests,
// benchmarks and `ddbsync demo`: DynamoDB (tables, items, point-in-time
// recovery and exports), DynamoDB Streams and the few S3 calls an export
// needs, all served on one local URL that unmodified aws-sdk-go-v2 clients
// talk to (the AWS JSON 1.0 protocol, routed by the X-Amz-Target header;
// every other request is path-style S3).
//
// A test drives what real AWS does on its own schedule through Go methods on
// the [Server]: a fake [Clock] that stamps every write and stream record and
// decides retention (24 h), iterator expiry (15 min) and export instants;
// shard rollover and splits; TTL expiry; stream disable and re-enable;
// faults (throttling, 5xx, empty GetRecords pages) per operation; writes
// whose stream record is lost ([Server.WriteUnstreamed]).
//
// What it emulates follows docs/aws-facts.md, sections A, B and D: exports in
// the real S3 layout reflecting the table exactly as of the requested
// ExportTime even while writes continue (every item keeps its history),
// incremental exports (one line per item written in the window, its last
// write), stream records with the real field set, whole-second
// ApproximateCreationDateTime, non-contiguous sequence numbers of 21 to 40
// digits, no record for a write that changes nothing, per-key ordering along
// a shard lineage, and errors with the status and "__type" AWS sends, so the
// SDK returns its typed errors (for example
// *streamtypes.ExpiredIteratorException).
//
// Not emulated: indexes, queries (Query), transactions, condition
// expressions, capacity accounting, ION exports.
//
// A [Server] is safe for concurrent use.
package emulator
