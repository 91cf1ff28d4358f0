package stream

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"
)

// Defaults of the tunables; each can be changed with an [Option].
const (
	// DefaultPollInterval is the wait after an empty page of an open shard.
	// AWS advises 0.25–1 s between empty polls; Lambda polls about 4×/s.
	DefaultPollInterval = 500 * time.Millisecond
	// DefaultCaughtUpPages and DefaultCaughtUpSpan: an open shard counts as
	// caught up after this many consecutive empty pages spanning at least
	// this long. One empty page proves nothing: GetRecords may need several
	// calls to get past empty parts of a shard.
	DefaultCaughtUpPages = 3
	DefaultCaughtUpSpan  = 2 * time.Second
	// MinCaughtUpPages is the fewest empty pages the caught-up rule accepts.
	MinCaughtUpPages = 3
	// DefaultPropagationMargin is subtracted from the time of the first empty
	// page to give the caught-up time: a change reaches the stream a moment
	// after its (second-rounded) creation time.
	DefaultPropagationMargin = 5 * time.Second
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
// [DefaultCaughtUpSpan].
func WithCaughtUpRule(pages int, span time.Duration) Option {
	return optionFunc(func(c *config) error {
		if pages < MinCaughtUpPages || span < 0 {
			return fmt.Errorf("caught-up rule %d pages over %v: want at least %d pages and a span >= 0", pages, span, MinCaughtUpPages)
		}
		c.caughtUpPages, c.caughtUpSpan = pages, span
		return nil
	})
}

// WithPropagationMargin sets how far before the first empty page the
// caught-up time is put (default [DefaultPropagationMargin]); d must be >= 0.
func WithPropagationMargin(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d < 0 {
			return fmt.Errorf("propagation margin %v: want >= 0", d)
		}
		c.propagationMargin = d
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
