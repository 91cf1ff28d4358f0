package emulator

import (
	"sync"
	"time"
)

// Clock is the emulator's clock. By default it is fake: it moves only when a
// test calls [Clock.Set] or [Clock.Advance]. After [Clock.Tick] it runs with
// the wall clock (Set and Advance then shift it). Everything time-dependent
// in the emulator (write history, ApproximateCreationDateTime, retention,
// iterator expiry, export instants) reads it. Safe for concurrent use.
type Clock struct {
	mu     sync.Mutex
	now    time.Time     // the fake time, while not ticking
	ticks  bool          // running with the wall clock
	offset time.Duration // fake time minus wall time, while ticking
}

// NewClock returns a clock showing start.
func NewClock(start time.Time) *Clock { return &Clock{now: start.UTC()} }

// Now is the current time on the clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nowLocked()
}

func (c *Clock) nowLocked() time.Time {
	if c.ticks {
		return time.Now().UTC().Add(c.offset)
	}
	return c.now
}

// Set moves the clock to t. Moving it backwards is allowed but leaves item
// history and stream records out of time order, as no real clock would.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ticks {
		c.offset = time.Until(t)
		return
	}
	c.now = t.UTC()
}

// Advance moves the clock forward by d and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ticks {
		c.offset += d
	} else {
		c.now = c.now.Add(d)
	}
	return c.nowLocked()
}

// Tick makes the clock run with the wall clock from its current time on,
// for demos and latency benchmarks.
func (c *Clock) Tick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ticks {
		c.ticks = true
		c.offset = time.Until(c.now)
	}
}
