// Package reconcile keeps a PostgreSQL copy of a DynamoDB table: it loads
// a verified export into a data table, follows the table's stream into
// it, and diffs the copy against a newer export or a live Scan. This page
// is the map of the whole; each package's own comment says how it works.
//
// # Who does what
//
// Each package has one job, and imports point down only:
//
//   - reconcile/load loads an export and publishes it as the table's copy
//     (load.Run, load.Abandon), or applies an incremental export onto it
//     (load.RunIncremental, incremental.go).
//   - reconcile/heal requests incremental exports and applies them: it
//     fills a gap a follow refused at (heal.Run), or keeps a table without
//     a stream current (heal.Sync).
//   - reconcile/follow replays the table's stream into the copy
//     (follow.Run).
//   - reconcile/diff compares the copy with an export or a Scan, and
//     repairs it on request (diff.Run, diff.Report, diff.AttrDiffs).
//   - reconcile/report renders a diff's findings as text, JSON lines or
//     HTML; each is a diff.Report.
//   - reconcile/lake publishes the copy as of one instant as Parquet
//     files, with a manifest and _SUCCESS, to S3 or a folder (lake.Publish).
//   - reconcile/views writes a loaded table's typed views, inferred from
//     its items, and keeps them current beside a follower (views.Run,
//     views.Keep).
//   - reconcile (this package) holds only what load, follow and diff
//     share: the errors callers branch on (errors.go), the data table's
//     [Layout] and key schema, named after [store]'s (layout.go), which
//     database errors are worth retrying (retryable.go: [Retryable]),
//     reading an export's data files into PostgreSQL (export.go:
//     [CopyExportFile], [ReadStats], [DefaultWorkers]), a loaded table's
//     record (table.go: [ReadLoadedTable]) and the status report, which
//     is about all three (status.go: [Status]). It imports none of them.
//   - [store] (reconcile/store) is the only package that writes SQL: the
//     data table's layout and DDL, the encoder and COPY source every bulk
//     write goes through, the upsert, the table locks, the publishing
//     steps, the diff's comparison, and one accessor per bookkeeping
//     table of the ddbsync schema.
//   - [snapshot] reads (and writes) DynamoDB point-in-time exports:
//     manifests, data files and their checks. It knows nothing of
//     PostgreSQL.
//   - [github.com/ddbsync/ddbsync/stream] reads DynamoDB Streams: shard
//     listings, lineage, one shard at a time with the retry and gap rules.
//   - internal/cli holds the commands, one file each; its exit.go turns
//     the errors of errors.go into exit statuses and advice.
//
// The imports, top to bottom: internal/cli imports load, follow, diff,
// heal, report, lake and views (internal/metrics and internal/scenario some of them);
// report imports diff; heal imports load; load, follow, diff, lake and views
// import reconcile and store;
// reconcile imports store; store imports only internal/ddbjson of
// ddbsync's own packages. Tests share their helpers through internal/reconciletest,
// which only _test.go files import.
//
// # Where is …
//
//   - SQL written? In reconcile/store, and nowhere else.
//   - the watermark W decided? In stream/tracker.go: every change created
//     before W has been applied. reconcile/follow/follow_loop.go
//     publishes it. A shared follow (several processes, follow.Config.Shared)
//     publishes each shard's part (stream.Tracker.Proven), and W is their
//     minimum, in one statement of reconcile/store/leases.go.
//   - shards shared between follow processes? reconcile/follow/share.go
//     (fair shares, takeover), on the leases of reconcile/store/leases.go;
//     each page is fenced by its lease in reconcile/follow/apply.go.
//   - a page of stream changes applied? reconcile/follow/apply.go, in one
//     transaction with the shard's checkpoint.
//   - a load published? reconcile/load/publish.go, all-or-nothing,
//     keeping what users built on the previous copy; by one of several
//     load workers (load --worker) in publishAsWorker there.
//   - an incremental export applied? reconcile/load/incremental.go, in one
//     transaction with the copy's new instant; where it must start is
//     reconcile/coverage.go's.
//   - a key schema converted to the codec's? reconcile/store/key.go.
//   - a repair written beside a running follower? reconcile/diff/repair_live.go
//     (diff --repair from a scan) and reconcile/follow/verify_run.go
//     (follow --verify), both through store's compare-and-set
//     (cas_repair.go) under the apply lock (apply_lock.go), which each
//     page of stream changes takes shared.
//   - a table's history (every version, <table>_history) and its as-of
//     function written? reconcile/store/history.go; each writer records
//     its versions in its own transaction: load/publish.go (the export's
//     rows at T), follow/history.go (every change of a page), the
//     repairs (cas_repair.go, diff/diff_sql.go) and load/incremental.go.
//   - an exit status decided? internal/cli/exit.go.
//
// # The data table
//
// A data table holds one row per item: the key attributes as typed columns
// (the primary key), item (the lossless DynamoDB JSON), doc (plain JSON, in
// tables loaded with --doc: store.Layout.Doc) and provenance columns saying
// where the row's image came from.
package reconcile
