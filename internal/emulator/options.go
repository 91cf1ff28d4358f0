package emulator

import (
	"errors"
	"fmt"
	"time"
)

// Option configures a [Server]; pass options to [New].
type Option interface {
	apply(*config) error
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

// config holds every knob; defaults live in defaultConfig.
type config struct {
	region         string
	accountID      string
	start          time.Time
	retention      time.Duration
	iteratorTTL    time.Duration
	shards         int
	exportFiles    int
	exportDuration time.Duration
	seed           uint64
	latestOnly     bool
}

func defaultConfig() config {
	return config{
		region:    "us-east-1",
		accountID: "123456789012",
		// Whole seconds, close to the wall clock, so that manifest times
		// written by snapshot.Writer (wall clock) and export times (fake
		// clock) stay comparable unless a test moves the clock.
		start:       time.Now().UTC().Truncate(time.Second),
		retention:   24 * time.Hour,
		iteratorTTL: 15 * time.Minute,
		shards:      1,
		exportFiles: 4,
		seed:        1,
	}
}

// WithRegion sets the region in ARNs and stream records (default us-east-1).
func WithRegion(region string) Option {
	return optionFunc(func(c *config) error {
		if region == "" {
			return errors.New("WithRegion: empty region")
		}
		c.region = region
		return nil
	})
}

// WithAccountID sets the account in ARNs (default 123456789012).
func WithAccountID(id string) Option {
	return optionFunc(func(c *config) error {
		if len(id) != 12 {
			return fmt.Errorf("WithAccountID: %q is not a 12-digit account id", id)
		}
		c.accountID = id
		return nil
	})
}

// WithStartTime sets the fake clock's initial time (default: the wall clock
// at New, truncated to the second).
func WithStartTime(t time.Time) Option {
	return optionFunc(func(c *config) error {
		if t.IsZero() {
			return errors.New("WithStartTime: zero time")
		}
		c.start = t.UTC()
		return nil
	})
}

// WithRetention sets how long stream records live, in fake time (default
// 24h, as AWS).
func WithRetention(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("WithRetention: %v is not positive", d)
		}
		c.retention = d
		return nil
	})
}

// WithIteratorTTL sets how long a shard iterator stays valid, in fake time
// (default 15m, as AWS).
func WithIteratorTTL(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("WithIteratorTTL: %v is not positive", d)
		}
		c.iteratorTTL = d
		return nil
	})
}

// WithShards sets how many open shards a new stream starts with (default 1).
func WithShards(n int) Option {
	return optionFunc(func(c *config) error {
		if n < 1 || n > 64 {
			return fmt.Errorf("WithShards: %d is not in 1..64", n)
		}
		c.shards = n
		return nil
	})
}

// WithExportFiles sets how many data files an export writes (default 4).
func WithExportFiles(n int) Option {
	return optionFunc(func(c *config) error {
		if n < 1 {
			return fmt.Errorf("WithExportFiles: %d is not positive", n)
		}
		c.exportFiles = n
		return nil
	})
}

// WithExportDuration sets how long, in fake time, an export stays
// IN_PROGRESS in DescribeExport (default 0: COMPLETED at the first
// DescribeExport). The data is written at once either way.
func WithExportDuration(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d < 0 {
			return fmt.Errorf("WithExportDuration: %v is negative", d)
		}
		c.exportDuration = d
		return nil
	})
}

// WithSeed seeds the random choices (fault rates, sequence number gaps,
// event ids), so that a run can be repeated (default 1).
func WithSeed(seed uint64) Option {
	return optionFunc(func(c *config) error {
		c.seed = seed
		return nil
	})
}

// WithLatestVersionsOnly keeps each item's latest version only, instead of
// every version (which exports as of any instant need): for benchmarks that
// write more versions than memory holds. An export as of an instant before
// a version was forgotten is refused, through the API (the instant is
// outside the point-in-time recovery window) and through ExportToDir and
// ExportIncrementalToDir alike.
func WithLatestVersionsOnly() Option {
	return optionFunc(func(c *config) error {
		c.latestOnly = true
		return nil
	})
}
