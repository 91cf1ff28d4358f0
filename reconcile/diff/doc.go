// Package diff compares a table's PostgreSQL copy with a source of truth,
// a newer export or a live Scan, and reports every key that differs: its
// one job.
//
// [Run] (diff.go) copies the source's digests into a scratch table (an
// export through [reconcile.CopyExportFile], as a load reads it; a Scan,
// with its images, through scan.go), checks the copy has caught up with
// the source's instant (diff_caughtup.go), lets [store.Comparison] join
// the two in PostgreSQL, reads the images of the keys that differ again
// from the export (images.go) and, with Repair, writes them (diff_sql.go), then passes
// the findings to a [Report], telling inconsistencies from changes in
// flight; [AttrDiffs] (diff_attrs.go) names the attributes that differ.
// Rendering a report is package report's; the errors callers branch on
// are [reconcile]'s.
package diff
