// Package store is the only package of ddbsync that writes SQL. It owns
// the PostgreSQL side of a DynamoDB table's copy; packages load, follow
// and diff (under reconcile), above it, decide what to read, in which
// order and in which transaction, and call store for every statement. Values reach SQL as parameters (or,
// where a statement takes none, quoted by PostgreSQL: [QuoteLiterals],
// format with %L); identifiers are quoted with pgx.Identifier.
//
// Accessors and functions take a [Querier] (or a pgx.Tx where a step must
// run inside the caller's transaction) so that callers choose the
// transaction, and return PostgreSQL's errors for the caller to word.
//
// # Files
//
//   - layout.go: the data table's [Layout], its columns and origins, and
//     the SQL built from it ([Layout.UpsertSQL], the stage table, deletes);
//     naming.go: [SnakeCase], how DynamoDB names become PostgreSQL ones.
//   - ddl.go: creating a load table ([CreateLoadTable]) and widening the
//     origin CHECK ([AllowOrigin]).
//   - encoder.go: the [Encoder] that turns an item into a row.
//   - copy.go: the one [CopySource] that streams items into PostgreSQL
//     with COPY (load, diff source, scan and repair all go through it).
//   - lock.go: the session advisory locks that keep one load, follow or
//     diff of a table at a time.
//   - publish.go: the steps that publish a load table as the data table
//     ([BeginPublish], [SwapIn], [CopyInto], [CommentOnTable], …).
//   - carry.go: the [CarryPlan], read from the catalogs, that re-creates on
//     a freshly loaded table the views, indexes, grants, comments, policies
//     and owner of the copy it replaces.
//   - compare.go: a diff's [Comparison] (its scratch tables, the findings
//     join, the counts, the repair and the findings query).
//   - compare_live.go, cas_repair.go, apply_lock.go: repairing beside a
//     running follower: a comparison's findings as [RepairCandidate]s,
//     the compare-and-set write of one key ([Layout.QueueCASRepair]), and
//     the apply lock that keeps it and a page of stream changes apart.
//   - verify_rows.go: what `follow --verify` reads of a data table (a
//     random sample of keys, the rows at given keys in one snapshot).
//   - incremental.go: applying an incremental export: its stage table and
//     [ChangeEncoder], [ApplyIncremental] (last change per key, deletes,
//     upserts, tombstones, the sweep of items created and deleted inside
//     the window), and the bookkeeping of an incremental load.
//   - tables.go, loads.go, streams.go, diff_runs.go, verifications.go: one
//     accessor per bookkeeping table of the ddbsync schema ([Tables],
//     [Loads], [LoadFiles], [Streams], [Shards], [Tombstones], [DiffRuns],
//     [Repairs], [Verifications]); states.go: their states as typed
//     constants.
//   - lake.go: what publish reads: a relation (data table, typed view or
//     as-of function), its columns' types, and the REPEATABLE READ
//     snapshot a cut is read in ([BeginSnapshot], [CutQuery]).
//   - views.go: the typed views of package views: each column's
//     expression over item ([ViewDef], the same SELECT list over the data
//     table or the history's as-of function), reading the items to infer
//     them from ([ReadItems]), writing a view with its comments
//     ([WriteView]) and its as-of twin ([WriteAsOf]), and reading an
//     existing view's columns and dependents from the catalog.
//   - status.go: what the status command reads; querier.go: [Querier] and
//     the bookkeeping schema; quote.go: [QuoteLiterals].
package store
