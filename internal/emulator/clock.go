package emulator

import (
	"sync"
	"time"
)

// Clock is the emulator's fake clock. It moves only when a test calls
// [Clock.Set] or [Clock.Advance]; everything time-dependent in the emulator
// (write history, ApproximateCreationDateTime, retention, iterator expiry,
// export instants) reads it. Safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock showing start.
func NewClock(start time.Time) *Clock { return &Clock{now: start.UTC()} }

// Now is the current fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t. Moving it backwards is allowed but leaves item
// history and stream records out of time order, as no real clock would.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t.UTC()
}

// Advance moves the clock forward by d and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}
