package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/ddbsync/ddbsync/reconcile/follow"
)

// verifyFlags are follow's verification flags; a table's settings in the
// configuration file apply where a flag was not given.
type verifyFlags struct {
	rate       verifyRate
	rcu        float64
	window     time.Duration
	onMismatch string
	// changed says which flags the command line gave.
	changed func(name string) bool
}

func addVerifyFlags(fl *pflag.FlagSet, f *verifyFlags) {
	fl.Var(&f.rate, "verify", fmt.Sprintf("check keys against strongly consistent reads of DynamoDB at this rate, e.g. %g/min (0: off)",
		follow.RecommendedVerifyRate))
	fl.Float64Var(&f.rcu, "verify-rcu", follow.RecommendedVerifyRCU, "--verify: cap on read capacity units consumed per second (0: no cap)")
	fl.DurationVar(&f.window, "verify-window", follow.DefaultVerifyWindow, "--verify: keys changed at or after the read minus this are in flight, and skipped")
	fl.StringVar(&f.onMismatch, "on-mismatch", string(follow.OnMismatchLog), "--verify: on a mismatch, log it, stop (exit 1), or repair the row from DynamoDB's image")
}

// config is the verification of table t: the flags given, else t's
// settings, else the flags' defaults. The caller sets the client.
func (f verifyFlags) config(t tableConfig) (follow.VerifyConfig, error) {
	given := func(name string) bool { return f.changed != nil && f.changed(name) }
	rate := f.rate.perMinute
	if !given("verify") && t.Verify != "" {
		r, err := parseVerifyRate(t.Verify)
		if err != nil {
			return follow.VerifyConfig{}, usageErrorf("table %s: verify: %v", t.Name, err)
		}
		rate = r
	}
	if rate == 0 {
		return follow.VerifyConfig{}, nil
	}
	c := follow.VerifyConfig{KeysPerMinute: rate, MaxRCU: f.rcu, Window: f.window,
		OnMismatch: follow.MismatchAction(f.onMismatch)}
	if !given("verify-rcu") && t.VerifyRCU != nil {
		c.MaxRCU = *t.VerifyRCU
	}
	if !given("verify-window") && t.VerifyWindow > 0 {
		c.Window = t.VerifyWindow
	}
	if !given("on-mismatch") && t.OnMismatch != "" {
		c.OnMismatch = follow.MismatchAction(t.OnMismatch)
	}
	if _, err := follow.ParseMismatchAction(string(c.OnMismatch)); err != nil {
		return c, usageErrorf("--on-mismatch %v", err)
	}
	if c.MaxRCU < 0 || c.Window <= 0 {
		return c, usageErrorf("--verify-rcu must not be negative and --verify-window must be positive")
	}
	return c, nil
}

// verifyRate is --verify: keys a minute, written N/s, N/min or N/h.
type verifyRate struct{ perMinute float64 }

func (r *verifyRate) String() string {
	if r.perMinute == 0 {
		return "0"
	}
	return strconv.FormatFloat(r.perMinute, 'g', -1, 64) + "/min"
}

func (r *verifyRate) Set(s string) error {
	v, err := parseVerifyRate(s)
	if err != nil {
		return err
	}
	r.perMinute = v
	return nil
}

func (r *verifyRate) Type() string { return "rate" }

// parseVerifyRate reads N/s, N/min or N/h as keys a minute; 0 and off
// are off.
func parseVerifyRate(s string) (float64, error) {
	switch s = strings.TrimSpace(s); s {
	case "0", "off":
		return 0, nil
	}
	num, unit, ok := strings.Cut(s, "/")
	per := map[string]float64{"s": 60, "sec": 60, "min": 1, "m": 1, "h": 1.0 / 60, "hour": 1.0 / 60}[unit]
	n, err := strconv.ParseFloat(num, 64)
	if !ok || per == 0 || err != nil || n <= 0 || n > 1e6 {
		return 0, fmt.Errorf("%q: want a rate of keys such as 60/min (or N/s, N/h), or 0 for off", s)
	}
	return n * per, nil
}
