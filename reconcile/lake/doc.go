// Package lake publishes a table's copy as a consistent cut for a data
// lake: Parquet files of the copy as of one instant, under a Hive-style
// partition folder (<table>/import_year=…/import_month=…/import_day=…/
// import_date=YYYYMMDD/), in S3 or a local folder.
//
// What is read: a typed view of the table when one exists (its columns,
// each PostgreSQL type mapped to a Parquet one: columns.go), otherwise the
// key columns and the lossless item. With an --as-of instant before the
// copy's watermark W, the history's as-of function of the view or of the
// table is read instead; without history that is refused ([ErrNoHistory]).
//
// Consistent: the instant (W, or the export time T of a copy never
// followed) and every row are read in one REPEATABLE READ snapshot.
// Readers never see half a cut: the manifest (files, row counts, sizes,
// SHA-256 checksums, columns) and then _SUCCESS are written last
// (destination.go says how a rerun of the same cut replaces it, in S3 and
// in a folder). Memory is bounded: rows stream from PostgreSQL, row groups
// are flushed at a size bound, files roll at a row or size bound, and S3
// gets one finished part file at a time.
//
// The store package writes the SQL (reconcile/store/lake.go); this
// package decides what to read and writes the files.
package lake
