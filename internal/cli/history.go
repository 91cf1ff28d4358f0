package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// historyFlags are --history and --history-retention, of load and follow.
type historyFlags struct {
	on        bool
	retention string
	changed   func(name string) bool // the command's Flags().Changed, set in RunE
}

func addHistoryFlags(fl *pflag.FlagSet, f *historyFlags) {
	fl.BoolVar(&f.on, "history", false, "keep every version of the items in <table>_history, queried with <table>_as_of(ts) (stays on once on)")
	fl.StringVar(&f.retention, "history-retention", "", "drop history versions ended longer ago than this, e.g. 400d or 720h (default: keep all)")
}

// forTable resolves the flags against the table's configuration: a flag
// given wins, then the file's history and history_retention.
func (f historyFlags) forTable(t tableConfig) (on bool, retention time.Duration, err error) {
	on, spec := t.History, t.HistoryRetention
	if f.changed != nil && f.changed("history") {
		on = f.on
	}
	if f.changed != nil && f.changed("history-retention") {
		spec = f.retention
	}
	if spec == "" {
		return on, 0, nil
	}
	if retention, err = parseRetention(spec); err != nil {
		return false, 0, usageErrorf("history retention: %v", err)
	}
	return on, retention, nil
}

// parseRetention reads a retention: a number of days ("400d") or a Go
// duration ("720h").
func parseRetention(s string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, fmt.Errorf("%q: want a number of days, such as 400d, or a duration, such as 720h", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q: want a number of days, such as 400d, or a duration, such as 720h", s)
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q: must be positive", s)
	}
	return d, nil
}
