// Package reconcile keeps a PostgreSQL copy of a DynamoDB table: it
// loads a verified export into a data table, follows the table's stream
// into it, and diffs the copy against a newer export or a live Scan.
//
// # Who does what
//
// The work is split between packages, each knowing only its part:
//
//   - [snapshot] reads DynamoDB point-in-time exports: manifests, data
//     files and their checks. It knows nothing of PostgreSQL.
//   - [github.com/ddbsync/ddbsync/stream] reads DynamoDB Streams: shard
//     listings, lineage, one shard at a time with the retry and gap rules.
//     Its Tracker (stream/tracker.go) is the one place where the watermark
//     W is decided: every change created before W is applied.
//   - [store] (reconcile/store) is the only package that writes SQL. It
//     owns the data table [Layout] and its DDL, the encoder and COPY source
//     every bulk write goes through, the upsert, the table locks, the
//     publishing steps, the diff's comparison, and one accessor per
//     bookkeeping table of the ddbsync schema.
//   - reconcile orchestrates: it decides what to read, in which order,
//     what goes in which transaction, and when to retry. It writes no SQL
//     of its own.
//   - [github.com/ddbsync/ddbsync/reconcile/report] renders a diff's
//     findings as text, JSON lines or HTML; it implements [DiffReport] and
//     reconcile does not import it.
//
// # Load, follow, diff
//
// [Load] (load.go) copies each data file of an export into an unpublished
// load table, one transaction per file together with its bookkeeping row,
// so an interrupted load resumes where it stopped; publish.go then adds
// the primary key and makes the load table the data table, all-or-nothing,
// keeping what users built on the previous copy.
//
// [Follow] (follow.go, follow_loop.go, apply.go) replays the stream from
// the loaded export's instant: each page of changes is applied with the
// shard's checkpoint in one transaction, and W, as the Tracker decides it,
// is published with them.
//
// [Diff] (diff.go, diff_sql.go) copies a source (an export or a Scan) into
// a scratch table, compares it with the copy in one snapshot, and passes
// the findings to a [DiffReport], telling inconsistencies from changes in
// flight; with Repair it writes the source's images for the
// inconsistencies.
//
// # The data table
//
// A data table holds one row per item: the key attributes as typed columns
// (the primary key), item (the lossless DynamoDB JSON), doc (plain JSON for
// analysts) and provenance columns saying where the row's image came from.
package reconcile
