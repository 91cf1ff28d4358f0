// Package snapshot reads and writes DynamoDB point-in-time exports
// (ExportTableToPointInTime output) in the layout AWS writes to S3:
// manifest-summary.json, manifest-files.json, their checksum files, and
// gzipped DYNAMODB_JSON data files.
//
// [Open] reads and verifies the manifests of an export held by a [Source]
// (a local copy of the export folder, or the folder in S3). [Export.OpenFile]
// streams one data file's items and verifies, at its end, the MD5 of the
// stored bytes and the item count the manifest promises. [Writer] produces
// an export in the same layout, for the demo, tests and benchmarks.
//
// The package knows nothing of PostgreSQL.
package snapshot
