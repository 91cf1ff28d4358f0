// Package reconcile merges DynamoDB data into PostgreSQL: it loads a
// verified export into a data table (load.go), keeps the bookkeeping that
// makes loads resumable and atomic, and describes the data table layout
// shared by every writer (layout.go).
//
// A data table holds one row per item: the key attributes as typed columns
// (the primary key), item (the lossless DynamoDB JSON), doc (plain JSON for
// analysts) and provenance columns saying where the row's image came from.
package reconcile
