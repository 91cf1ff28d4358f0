// Package report renders the findings of a [diff.Run] for people and
// programs. Each constructor returns a [diff.Report] to set as
// [diff.Config.Report]:
//
//   - [Text]: a summary with counts by kind, then each finding with its
//     differing attributes, for a terminal;
//   - [JSON]: JSON lines, one object per finding, then one summary object;
//   - [HTML]: one self-contained HTML page.
//
// A report writes to the io.Writer it is given and is not safe for
// concurrent use; [diff.Run] calls it from one goroutine.
package report
