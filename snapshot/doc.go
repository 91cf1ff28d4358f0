// Package snapshot reads and writes DynamoDB point-in-time exports
// (ExportTableToPointInTime output) in the layout AWS writes to S3:
// manifest-summary.json, manifest-files.json, their checksum files, and
// gzipped DYNAMODB_JSON data files. ION exports are not supported.
//
// [Open] reads and verifies the manifests of a full export held by a
// [Source] (a local copy of the export folder, or the folder in S3).
// [Export.OpenFile] streams one data file's items and verifies, at its end,
// the MD5 of the stored bytes and the item count the manifest promises.
// [Writer] produces an export in the same layout, for the demo, tests and
// benchmarks.
//
// Incremental exports (ExportType INCREMENTAL_EXPORT: the items written in
// a window [ExportFromTime, ExportToTime)) are read with [OpenIncremental]
// and [IncrementalExport.OpenFile], with the same checks; each line is a
// [Change]: the item's keys, the time of its last write in the window to
// the microsecond, its image at the end of the window (none if it was
// deleted) and, with the NEW_AND_OLD_IMAGES view, at the start. Their data
// files live in the shared folder <prefix>/AWSDynamoDB/data/ next to the
// export folder and are found from manifest-files.json alone.
// [IncrementalWriter] writes one. Which kind an export is comes from its
// summary's exportType ([ReadSummary], [Summary.Type]), never from its data;
// [Open] refuses an incremental export and [OpenIncremental] a full one.
//
// The package knows nothing of PostgreSQL.
package snapshot
