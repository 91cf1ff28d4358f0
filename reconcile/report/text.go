package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/ddbsync/ddbsync/reconcile/diff"
)

// Text returns a [diff.Report] for people at a terminal: the
// summary with counts by kind, then each finding it is given (cap them with
// [diff.Config.Limit]) with its differing attributes.
func Text(w io.Writer) diff.Report { return &textReport{w: bufio.NewWriter(w)} }

type textReport struct {
	w     *bufio.Writer
	shown int64
	sum   diff.Summary
}

func (r *textReport) Begin(s diff.Summary) error {
	r.sum = s
	fmt.Fprintf(r.w, "diff %d of %s (%s) against %s\n", s.DiffID, s.Table, s.PGTable, s.Source)
	fmt.Fprintf(r.w, "  compared at I = %s", fmtTime(s.Instant))
	if s.ScanEnd != nil {
		fmt.Fprintf(r.w, " (scan start; scan ended %s)", fmtTime(*s.ScanEnd))
	} else {
		fmt.Fprint(r.w, " (export time)")
	}
	if s.Watermark != nil {
		fmt.Fprintf(r.w, ", copy watermark W = %s", fmtTime(*s.Watermark))
	}
	fmt.Fprintf(r.w, "\n  %d items in the source, %d rows in the copy\n", s.SourceItems, s.CopyRows)
	if s.Inconsistencies() == 0 {
		fmt.Fprint(r.w, "  CONSISTENT")
	} else {
		fmt.Fprintf(r.w, "  INCONSISTENT: %d missing in PostgreSQL, %d extra in PostgreSQL, %d different", s.Missing, s.Extra, s.Different)
	}
	fmt.Fprintf(r.w, "; %d in flight (changed at or after I - %s)\n", s.InFlight, s.Skew)
	if rp := s.Repair; rp != nil {
		fmt.Fprintf(r.w, "  repaired: %d inserted, %d updated, %d deleted (recorded in ddbsync.repairs, diff %d)\n",
			rp.Inserted, rp.Updated, rp.Deleted, s.DiffID)
		if rp.Skipped > 0 {
			fmt.Fprintf(r.w, "  not repaired: %d %s\n", rp.Skipped, diff.RepairSkippedNewer)
		}
	}
	return r.w.Flush()
}

func (r *textReport) Finding(f diff.Finding) error {
	if r.shown == 0 {
		fmt.Fprintln(r.w)
	}
	r.shown++
	label := string(f.Kind)
	switch f.Kind {
	case diff.KindMissing:
		label = "missing in PostgreSQL"
	case diff.KindExtra:
		label = "extra in PostgreSQL"
	}
	if f.InFlight {
		label = "in flight (" + label + ")"
	}
	if f.Repaired {
		label += ", repaired"
	}
	if f.RepairSkipped != "" {
		label += ", not repaired (" + f.RepairSkipped + ")"
	}
	fmt.Fprintf(r.w, "%s %s", label, f.Key)
	if p := f.Provenance; p != nil {
		fmt.Fprintf(r.w, "  [%s]", provenanceText(p))
	}
	if t := f.Tombstone; t != nil {
		fmt.Fprintf(r.w, "  [removed by the stream %s, shard %s seq %s]", fmtTime(t.RemovedAt), t.ShardID, t.Sequence)
	}
	fmt.Fprintln(r.w)
	for _, a := range f.Differences {
		fmt.Fprintf(r.w, "    %s\n      source: %s\n      copy:   %s\n", a.Path, a.Source, a.Copy)
	}
	return r.w.Flush()
}

func (r *textReport) End(s diff.Summary) error {
	total := s.Inconsistencies() + s.InFlight
	if r.shown < total {
		fmt.Fprintf(r.w, "\n(%d of %d findings shown; --limit 0 or --format json for all)\n", r.shown, total)
	}
	return r.w.Flush()
}

func provenanceText(p *diff.FindingProvenance) string {
	var b strings.Builder
	b.WriteString(p.Origin)
	if p.OriginTime != nil {
		b.WriteString(" " + fmtTime(*p.OriginTime))
	}
	if p.ShardID != "" {
		b.WriteString(", shard " + p.ShardID)
	}
	if p.Sequence != "" {
		b.WriteString(" seq " + p.Sequence)
	}
	return b.String()
}
