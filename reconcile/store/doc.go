// Package store is the only package of ddbsync that writes SQL. It owns
// the PostgreSQL side of a DynamoDB table's copy:
//
//   - the data table's [Layout] and its DDL (layout.go, naming.go);
//   - the [Encoder] that turns an item into a row, and the one
//     [CopySource] that streams items into PostgreSQL with COPY (load,
//     diff source, scan and repair all go through it);
//   - the upsert that writes whole images into a data table
//     ([Layout.UpsertSQL]), for stream apply and diff repair alike;
//   - the session advisory locks that keep one load, follow or diff of a
//     table at a time (lock.go);
//   - one accessor per bookkeeping table of the ddbsync schema, whose
//     methods take a [Querier] so that callers choose the transaction.
//
// Orchestration (what to read, in which order, when to publish) lives in
// package reconcile, above this one.
package store
