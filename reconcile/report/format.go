package report

import "time"

// shortTime formats an optional time for reports.
func shortTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return fmtTime(*t)
}

// fmtTime formats a time as package diff does in its messages: UTC, to the
// millisecond.
func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
