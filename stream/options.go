package stream

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"
)

// Defaults of the tunables; each can be changed with an [Option].
//
// The caught-up rule and the margins are assumptions about AWS, which
// documents none of them; [Tracker] says which rule rests on which. The
// watermark W is only as good as they are, and each buys safety with
// freshness: on a quiet table W trails the present by about
// (k−1) × (poll interval + GetRecords latency), or the span if longer, plus
// the propagation margin, plus up to a second of rounding, plus up to a poll
// interval between pages (and more when a listing older than the run of
// empty pages holds it: [Tracker.ListingDue]). With the defaults that is
// about 1 s + 0.5 s + 1 s + 0.25 s: under 3 s. Under steady writes W trails
// the latest creation time read by the tolerance, plus the rounding.
const (
	// DefaultPollInterval is the wait after an empty page of an open shard.
	// AWS advises 0.25–1 s between empty polls; Lambda polls about 4×/s, as
	// this does.
	DefaultPollInterval = 250 * time.Millisecond
	// DefaultCaughtUpPages and DefaultCaughtUpSpan: an open shard counts as
	// caught up after this many consecutive empty pages, the last at least
	// this long after the first.
	//
	// The bound: the rule holds if GetRecords never returns k (the pages)
	// spurious empty pages in a row, empty while a record that reached the
	// shard before the call waits further along it; one of the last k then
	// found the end. AWS says only that "it might take multiple calls to get
	// to a portion of the shard that contains stream records", so this is an
	// assumption, and k−1 = 4 is the most it tolerates by default. The span
	// is a second guard, for runs that come in quick succession; it cannot
	// be relied on (a slow or retried call stretches a few pages over
	// seconds), so the proof rests on the page count. Five pages at the
	// default poll interval take about the 1 s span. A small [WithLimit] may
	// make empty pages more frequent (a page then covers less of the shard).
	DefaultCaughtUpPages = 5
	DefaultCaughtUpSpan  = time.Second
	// MinCaughtUpPages is the fewest empty pages the caught-up rule accepts.
	MinCaughtUpPages = 3
	// DefaultPropagationMargin is subtracted from the time the first empty
	// page of a caught-up run was asked for, and from the time of a listing
	// showing a shard open: a change may become readable in its shard, and
	// a shard's closing may show in DescribeStream, up to this long after it
	// happened. AWS only says records appear "in near-real time"; half a
	// second keeps W within 3 s of the present on a quiet table, and a
	// follower that must ride out slower propagation raises it (every second
	// of margin is a second of W's age). Second rounding is not part of it:
	// the tracker floors W to the second.
	DefaultPropagationMargin = 500 * time.Millisecond
	// DefaultCreationTimeTolerance is how much earlier than the latest
	// creation time read a record still to come in the shard (or in its
	// children) may be dated. AWS promises creation order per item only, and
	// rounds creation times down to the second; a tolerance of one second
	// covers records stamped by clocks a fraction of a second apart on either
	// side of a second boundary.
	DefaultCreationTimeTolerance = time.Second
	// DefaultIteratorMaxAge is the age at which an iterator is renewed before
	// use; AWS expires them after 15 minutes.
	DefaultIteratorMaxAge = 14 * time.Minute
	// DefaultLimit is the GetRecords page size, the API's maximum.
	DefaultLimit = 1000
)

// DefaultBackoff is the backoff for throttling and server errors: the SDK's
// standard retryer caps at 20 s too.
func DefaultBackoff() Backoff { return Backoff{Base: 100 * time.Millisecond, Cap: 20 * time.Second} }

// Log attribute keys.
const (
	logStream  = "stream_arn"
	logShardID = "shard_id"
	logSeq     = "seq"
	logCause   = "cause"
	logOp      = "op"
	logAttempt = "attempt"
	logDelay   = "delay"
	logError   = "error"
)

// config holds the tunables of [Describe] and [ShardReader].
type config struct {
	pollInterval      time.Duration
	caughtUpPages     int
	caughtUpSpan      time.Duration
	propagationMargin time.Duration
	timeTolerance     time.Duration
	iteratorMaxAge    time.Duration
	limit             int32
	backoff           Backoff
	skipBefore        time.Time
	now               func() time.Time
	jitter            func(max time.Duration) time.Duration
	hook              func(RetryEvent)
	logger            *slog.Logger
}

func defaultConfig() config {
	return config{
		pollInterval:      DefaultPollInterval,
		caughtUpPages:     DefaultCaughtUpPages,
		caughtUpSpan:      DefaultCaughtUpSpan,
		propagationMargin: DefaultPropagationMargin,
		timeTolerance:     DefaultCreationTimeTolerance,
		iteratorMaxAge:    DefaultIteratorMaxAge,
		limit:             DefaultLimit,
		backoff:           DefaultBackoff(),
		now:               time.Now,
		jitter:            fullJitter,
		logger:            slog.New(slog.DiscardHandler),
	}
}

func fullJitter(max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	return rand.N(max + 1)
}

func newConfig(opts []Option) (config, error) {
	c := defaultConfig()
	var errs []error
	for _, o := range opts {
		if err := o.apply(&c); err != nil {
			errs = append(errs, err)
		}
	}
	return c, errors.Join(errs...)
}

// Option configures [NewShardReader], [Describe] and [DescribeChildren] (the
// last two use only the backoff, retry hook and logger). Options validate their values; an invalid
// one makes the constructor fail.
type Option interface {
	apply(*config) error
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

// WithPollInterval sets the wait after an empty page of an open shard
// (default [DefaultPollInterval]); d must be positive.
func WithPollInterval(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("poll interval %v: want > 0", d)
		}
		c.pollInterval = d
		return nil
	})
}

// WithCaughtUpRule sets when an open shard counts as caught up: after pages
// consecutive empty pages (at least [MinCaughtUpPages]) whose first came at
// least span before the last. Defaults: [DefaultCaughtUpPages],
// [DefaultCaughtUpSpan]. The watermark is right only if GetRecords never
// returns pages spurious empty pages in a row: a test that injects n of them
// needs pages > n.
func WithCaughtUpRule(pages int, span time.Duration) Option {
	return optionFunc(func(c *config) error {
		if pages < MinCaughtUpPages || span < 0 {
			return fmt.Errorf("caught-up rule %d pages over %v: want at least %d pages and a span >= 0", pages, span, MinCaughtUpPages)
		}
		c.caughtUpPages, c.caughtUpSpan = pages, span
		return nil
	})
}

// WithPropagationMargin sets how long after a change (or a shard's closing)
// it may take to show in GetRecords (or DescribeStream): the caught-up time
// is put that far before the first empty page, and a listing counts that
// far before it was asked for (default [DefaultPropagationMargin]); d must
// be >= 0.
func WithPropagationMargin(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d < 0 {
			return fmt.Errorf("propagation margin %v: want >= 0", d)
		}
		c.propagationMargin = d
		return nil
	})
}

// WithCreationTimeTolerance sets how much earlier than the latest creation
// time read a record still to come may be dated (default
// [DefaultCreationTimeTolerance]); d must be >= 0. A shard whose records
// were read bounds the watermark by that time minus d.
func WithCreationTimeTolerance(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d < 0 {
			return fmt.Errorf("creation time tolerance %v: want >= 0", d)
		}
		c.timeTolerance = d
		return nil
	})
}

// WithIteratorMaxAge sets the age at which an iterator is renewed before use
// (default [DefaultIteratorMaxAge]); 0 < d < 15 minutes.
func WithIteratorMaxAge(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d <= 0 || d >= 15*time.Minute {
			return fmt.Errorf("iterator max age %v: want between 0 and 15m (AWS expires iterators at 15m)", d)
		}
		c.iteratorMaxAge = d
		return nil
	})
}

// WithLimit sets the GetRecords page size, 1 to 1000 (default [DefaultLimit]).
func WithLimit(n int) Option {
	return optionFunc(func(c *config) error {
		if n < 1 || n > 1000 {
			return fmt.Errorf("limit %d: want 1 to 1000", n)
		}
		c.limit = int32(n)
		return nil
	})
}

// WithBackoff sets the backoff for throttling, server and network errors
// (default [DefaultBackoff]).
func WithBackoff(b Backoff) Option {
	return optionFunc(func(c *config) error {
		if err := b.validate(); err != nil {
			return err
		}
		c.backoff = b
		return nil
	})
}

// WithSkipBefore makes the reader drop changes whose ApproximateCreationTime
// is before cutoff: the follower's start rule reads from TRIM_HORIZON and
// skips what precedes T − 5 minutes. Dropped records still count in
// [Page].Skipped, move [Page].Position and set the record times, so the
// caller can checkpoint past them and prove coverage. Records trimmed while
// the reader is still before cutoff are no gap when the oldest record left
// is before cutoff too: the reader reads again from TRIM_HORIZON and checks.
func WithSkipBefore(cutoff time.Time) Option {
	return optionFunc(func(c *config) error {
		c.skipBefore = cutoff
		return nil
	})
}

// WithClock sets the wall clock used for iterator age and the caught-up rule
// (default time.Now). Waits still use real timers.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(c *config) error {
		if now == nil {
			return errors.New("clock: nil function")
		}
		c.now = now
		return nil
	})
}

// WithRetryHook sets a function called, on the reading goroutine, before
// every retry or iterator renewal; use it for metrics. It must not block.
func WithRetryHook(hook func(RetryEvent)) Option {
	return optionFunc(func(c *config) error {
		c.hook = hook
		return nil
	})
}

// WithLogger sets the logger (default: discard). Retries log at Debug, a
// finished shard at Info.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) error {
		if l == nil {
			return errors.New("logger: nil")
		}
		c.logger = l
		return nil
	})
}
