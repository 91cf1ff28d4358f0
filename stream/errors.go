package stream

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Conditions callers branch on, matched with errors.Is.
var (
	// ErrGap means the stream no longer holds every change after a position
	// ddbsync had reached: records were trimmed (older than 24 hours) or the
	// shard vanished before it was read to its end. [ShardReader.Next]
	// returns it inside a [*GapError].
	ErrGap = errors.New("stream no longer holds every change since the checkpoint")
	// ErrShardGone is a shard that DynamoDB Streams does not know
	// (ResourceNotFoundException) when it was to be read from TRIM_HORIZON
	// with nothing read yet. Whether that loses data depends on what the
	// caller knows of the shard; [ShardReader.Next] returns it.
	ErrShardGone = errors.New("shard no longer exists in the stream")
	// ErrStreamNotFound is a stream ARN that DynamoDB Streams does not know
	// (ResourceNotFoundException from DescribeStream): the stream was
	// deleted or replaced, and a re-enabled stream has a new ARN, so changes
	// may have been lost. [Describe] returns it.
	ErrStreamNotFound = errors.New("stream not found")
	// ErrViewType is a stream whose records carry no new image (KEYS_ONLY or
	// OLD_IMAGE); [CheckViewType] returns it.
	ErrViewType = errors.New("stream view type carries no new image")
	// ErrBadSequenceNumber is a sequence number that is not 1 to 40 decimal
	// digits.
	ErrBadSequenceNumber = errors.New("invalid sequence number")
	// ErrBadRecord is a stream record that lacks a field ddbsync needs
	// (sequence number, keys, creation time) or has an unknown event name.
	ErrBadRecord = errors.New("invalid stream record")
	// ErrLineage is a shard listing that cannot be ordered: a shard without
	// an id, or a cycle of parent links.
	ErrLineage = errors.New("invalid shard lineage")
)

// GapError is a gap: DynamoDB Streams no longer holds changes the copy
// needs, so ddbsync cannot prove its copy complete. It is the one error type
// of a gap: [ShardReader.Next] fills the shard's fields (StreamArn, ShardID,
// After), and a follower that finds a gap in the listing, or adds what it
// knows to a reader's gap, fills the table's (Table, Shards, From, To,
// Reason). It wraps [ErrGap] and the AWS error that revealed the gap.
type GapError struct {
	StreamArn string
	ShardID   string
	// After is the last sequence number read or checkpointed on the shard;
	// the changes after it may be lost.
	After string
	// Cause is the AWS error (TrimmedDataAccessException or
	// ResourceNotFoundException), or nil.
	Cause error

	// Table is the DynamoDB table, when the caller knows it.
	Table string
	// Shards are the shards where the changes were lost, when there are
	// several or the gap was found in a listing.
	Shards []string
	// From and To bound the time window whose changes may be lost (zero when
	// unknown).
	From, To time.Time
	// Reason says how the gap was found, in place of the default that the
	// stream no longer holds the changes after After.
	Reason string
	// Acceptable is a gap that may not have lost anything (a parent shard
	// read by no one): a caller may choose to go on past it.
	Acceptable bool
}

// Error says what was lost.
func (e *GapError) Error() string {
	var b strings.Builder
	if e.Table != "" {
		fmt.Fprintf(&b, "table %s: ", e.Table)
	}
	if e.ShardID != "" && e.Reason == "" {
		fmt.Fprintf(&b, "stream %s shard %s: ", e.StreamArn, e.ShardID)
	}
	switch {
	case e.Reason != "":
		b.WriteString(e.Reason)
	case e.After != "":
		fmt.Fprintf(&b, "the stream no longer holds the changes after sequence number %s", e.After)
	default:
		b.WriteString("the stream no longer holds the shard's changes")
	}
	if len(e.Shards) > 1 || len(e.Shards) == 1 && e.Shards[0] != e.ShardID {
		fmt.Fprintf(&b, " (shards %v)", e.Shards)
	}
	if !e.From.IsZero() {
		fmt.Fprintf(&b, "; changes from %s", e.From.UTC().Format(time.RFC3339))
		if !e.To.IsZero() {
			fmt.Fprintf(&b, " to %s", e.To.UTC().Format(time.RFC3339))
		}
		b.WriteString(" may be lost")
	}
	b.WriteString("; the copy in PostgreSQL may be missing changes to the table, and nothing was applied past the gap; " +
		"only a new export of the table can restore a complete copy")
	if e.Cause != nil {
		fmt.Fprintf(&b, ": %v", e.Cause)
	}
	return b.String()
}

// Unwrap returns [ErrGap] and the cause, so both errors.Is(err, ErrGap) and
// errors.As(err, &*types.TrimmedDataAccessException) match.
func (e *GapError) Unwrap() []error {
	if e.Cause == nil {
		return []error{ErrGap}
	}
	return []error{ErrGap, e.Cause}
}
