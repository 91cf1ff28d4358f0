package stream

import (
	"fmt"
	"time"
)

// Progress is how far a shard has been read, for the watermark.
type Progress int

// The progress states. The zero value, ProgressUnknown, holds the watermark
// back, so a forgotten shard can never advance it.
const (
	// ProgressUnknown: nothing is known about the shard's position (no
	// record read, not caught up). The watermark cannot be computed.
	ProgressUnknown Progress = iota
	// ProgressReading: Time is the latest creation time among the records
	// read and applied. AWS does not promise that creation times grow
	// within a shard, so every change of the shard before Time − Tolerance
	// is applied ([Tracker] gives the rule).
	ProgressReading
	// ProgressCaughtUp: an open shard passed the caught-up rule; Time is
	// when the first of its last empty pages was asked for, minus the
	// propagation margin Margin.
	ProgressCaughtUp
	// ProgressFinished: the shard is closed and read to its end; it no longer
	// bounds the watermark.
	ProgressFinished
)

// String returns the progress as a snake_case name.
func (p Progress) String() string {
	switch p {
	case ProgressUnknown:
		return "unknown"
	case ProgressReading:
		return "reading"
	case ProgressCaughtUp:
		return "caught_up"
	case ProgressFinished:
		return "finished"
	}
	return fmt.Sprintf("Progress(%d)", int(p))
}

// ShardState is one shard's contribution to the watermark. [Page].State
// gives it for the shard a [ShardReader] reads; pass it to [Tracker.Read],
// which combines it with the listings by the rules of [Tracker].
type ShardState struct {
	ShardID  string
	Progress Progress
	// Time is meaningful for ProgressReading and ProgressCaughtUp (see each),
	// where a zero Time counts as ProgressUnknown.
	Time time.Time
	// Margin is the propagation margin the reader assumed
	// ([WithPropagationMargin]): a caught-up Time has it subtracted, and the
	// tracker subtracts it from the time of a listing that shows the shard
	// open.
	Margin time.Duration
	// Tolerance is how much earlier than a record already read a record
	// still to come may be dated ([WithCreationTimeTolerance]).
	Tolerance time.Duration
}

// WatermarkStatus says what [Tracker.Watermark] found.
type WatermarkStatus int

// The watermark statuses.
const (
	// WatermarkUnknown: some unfinished shard has no known position; keep
	// the previously published watermark.
	WatermarkUnknown WatermarkStatus = iota
	// WatermarkAt: Watermark.Time is the watermark.
	WatermarkAt
	// WatermarkUnbounded: no unfinished shard (a disabled stream read to its
	// end): nothing more can arrive.
	WatermarkUnbounded
)

// String returns the status's name.
func (s WatermarkStatus) String() string {
	switch s {
	case WatermarkUnknown:
		return "unknown"
	case WatermarkAt:
		return "at"
	case WatermarkUnbounded:
		return "unbounded"
	}
	return fmt.Sprintf("WatermarkStatus(%d)", int(s))
}

// Watermark is the result of [Tracker.Watermark].
type Watermark struct {
	Status WatermarkStatus
	// Time is the watermark W when Status is WatermarkAt: every change with
	// ApproximateCreationDateTime < W has been applied. [Tracker.Watermark]
	// gives whole seconds.
	Time time.Time
	// ShardID is the shard holding the watermark back: the one with the
	// earliest Time, or an unknown one. Empty when unbounded.
	ShardID string
}
