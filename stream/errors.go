package stream

import (
	"errors"
	"fmt"
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

// GapError is a gap in a shard: DynamoDB Streams no longer holds the changes
// after sequence number After, so ddbsync cannot prove its copy complete. It
// wraps [ErrGap] and the AWS error that revealed the gap.
type GapError struct {
	StreamArn string
	ShardID   string
	// After is the last sequence number read or checkpointed on the shard;
	// the changes after it may be lost.
	After string
	// Cause is the AWS error (TrimmedDataAccessException or
	// ResourceNotFoundException).
	Cause error
}

// Error says what was lost and what to do.
func (e *GapError) Error() string {
	return fmt.Sprintf("stream %s shard %s: the stream no longer holds the changes after sequence number %s (%v), "+
		"so changes to the table since then may be missing from PostgreSQL; "+
		"take a new export of the table and `ddbsync load` it, then follow again",
		e.StreamArn, e.ShardID, e.After, e.Cause)
}

// Unwrap returns [ErrGap] and the cause, so both errors.Is(err, ErrGap) and
// errors.As(err, &*types.TrimmedDataAccessException) match.
func (e *GapError) Unwrap() []error { return []error{ErrGap, e.Cause} }
