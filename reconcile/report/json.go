package report

import (
	"bufio"
	"encoding/json"
	"io"

	"github.com/ddbsync/ddbsync/reconcile/diff"
)

// JSON returns a [diff.Report] writing JSON lines: one object per
// finding ({"type":"finding", ...}), then one summary object
// ({"type":"summary", ...}).
func JSON(w io.Writer) diff.Report {
	bw := bufio.NewWriter(w)
	return &jsonReport{w: bw, enc: json.NewEncoder(bw)}
}

type jsonReport struct {
	w   *bufio.Writer
	enc *json.Encoder
	n   int
}

func (r *jsonReport) Begin(diff.Summary) error { return nil }

func (r *jsonReport) Finding(f diff.Finding) error {
	if err := r.enc.Encode(struct {
		Type string `json:"type"`
		diff.Finding
	}{"finding", f}); err != nil {
		return err
	}
	// Flush now and then, so a reader of a pipe sees progress.
	if r.n++; r.n%256 == 0 {
		return r.w.Flush()
	}
	return nil
}

func (r *jsonReport) End(s diff.Summary) error {
	if err := r.enc.Encode(struct {
		Type string `json:"type"`
		diff.Summary
		Consistent bool `json:"consistent"`
	}{"summary", s, s.Inconsistencies() == 0}); err != nil {
		return err
	}
	return r.w.Flush()
}
