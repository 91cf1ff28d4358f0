package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Backoff is capped exponential backoff with full jitter
// (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/):
// before retry n (from 0) wait a uniformly random time in
// [0, min(Cap, Base·2ⁿ)].
type Backoff struct {
	Base time.Duration
	Cap  time.Duration
}

// Ceiling returns the longest wait before retry attempt (from 0):
// min(Cap, Base·2^attempt), without overflow.
func (b Backoff) Ceiling(attempt int) time.Duration {
	d := b.Base
	for i := 0; i < attempt && d < b.Cap; i++ {
		d *= 2
	}
	return min(d, b.Cap)
}

// Delay returns the wait before retry attempt: rnd(Ceiling(attempt)), where
// rnd returns a uniformly random duration in [0, max].
func (b Backoff) Delay(attempt int, rnd func(max time.Duration) time.Duration) time.Duration {
	return rnd(b.Ceiling(attempt))
}

func (b Backoff) validate() error {
	if b.Base <= 0 || b.Cap < b.Base {
		return fmt.Errorf("backoff base %v and cap %v: want 0 < base <= cap", b.Base, b.Cap)
	}
	return nil
}

// RetryCause is why the package retried a call or renewed an iterator.
type RetryCause int

// The retry causes. Each is counted separately ([ShardReader.Retries]).
const (
	// CauseThrottle: LimitExceededException or
	// ProvisionedThroughputExceededException; retried with backoff forever.
	CauseThrottle RetryCause = iota
	// CauseServer: InternalServerError or another 5xx; retried with backoff
	// forever.
	CauseServer
	// CauseNetwork: the request could not be sent or its response not read;
	// retried with backoff forever.
	CauseNetwork
	// CauseExpiredIterator: ExpiredIteratorException; the iterator is renewed
	// from the last sequence number read.
	CauseExpiredIterator
	// CauseIteratorAge: the iterator was renewed before use because it neared
	// the 15-minute expiry.
	CauseIteratorAge
	// CauseTrimHorizon: TrimmedDataAccessException while reading from
	// TRIM_HORIZON with nothing read yet (the horizon moved under the
	// iterator); the reader starts again from a fresh TRIM_HORIZON.
	CauseTrimHorizon
	numCauses
)

// String returns the cause as a snake_case metric label.
func (c RetryCause) String() string {
	switch c {
	case CauseThrottle:
		return "throttle"
	case CauseServer:
		return "server_error"
	case CauseNetwork:
		return "network"
	case CauseExpiredIterator:
		return "expired_iterator"
	case CauseIteratorAge:
		return "iterator_age"
	case CauseTrimHorizon:
		return "trim_horizon"
	}
	return fmt.Sprintf("RetryCause(%d)", int(c))
}

// RetryEvent describes one retry, for [WithRetryHook].
type RetryEvent struct {
	Cause RetryCause
	// Op is the API operation: "DescribeStream", "GetShardIterator" or
	// "GetRecords".
	Op      string
	ShardID string
	// Attempt counts consecutive retries of this operation, from 0.
	Attempt int
	// Delay is the wait before the retry.
	Delay time.Duration
	// Err is the error retried; nil for CauseIteratorAge.
	Err error
}

// errorKind classifies an AWS error for the retry and gap rules.
type errorKind int

const (
	kindOther errorKind = iota
	kindThrottle
	kindServer
	kindNetwork
	kindExpired
	kindTrimmed
	kindNotFound
)

// isThrottleCode reports whether an error code means "slow down". Streams
// models only LimitExceededException; the others come from DynamoDB and
// emulators on the same protocol.
func isThrottleCode(code string) bool {
	switch code {
	case "LimitExceededException", "ProvisionedThroughputExceededException",
		"ThrottlingException", "Throttling", "RequestLimitExceeded":
		return true
	}
	return false
}

// classify decides how to react to err from an API call. It checks the
// modelled exception types first, then error codes (emulators may send codes
// the SDK does not model), then HTTP status and connection failures; never
// message text.
func classify(err error) errorKind {
	switch {
	case errors.As(err, new(*types.ExpiredIteratorException)):
		return kindExpired
	case errors.As(err, new(*types.TrimmedDataAccessException)):
		return kindTrimmed
	case errors.As(err, new(*types.ResourceNotFoundException)):
		return kindNotFound
	case errors.As(err, new(*types.LimitExceededException)):
		return kindThrottle
	case errors.As(err, new(*types.InternalServerError)):
		return kindServer
	}
	if ae, ok := errors.AsType[smithy.APIError](err); ok {
		switch code := ae.ErrorCode(); {
		case isThrottleCode(code):
			return kindThrottle
		case code == "ExpiredIteratorException":
			return kindExpired
		case code == "TrimmedDataAccessException":
			return kindTrimmed
		case code == "ResourceNotFoundException":
			return kindNotFound
		case ae.ErrorFault() == smithy.FaultServer:
			return kindServer
		}
	}
	// The SDK's *awshttp.ResponseError matches as *smithyhttp.ResponseError.
	if re, ok := errors.AsType[*smithyhttp.ResponseError](err); ok && re.HTTPStatusCode() >= 500 {
		return kindServer
	}
	if _, ok := errors.AsType[*smithyhttp.RequestSendError](err); ok {
		return kindNetwork
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return kindNetwork
	}
	// A connection lost while the response was read (the SDK wraps it in a
	// deserialization error).
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return kindNetwork
	}
	return kindOther
}

// transientCause maps a retryable kind to its cause.
func transientCause(k errorKind) (RetryCause, bool) {
	switch k {
	case kindThrottle:
		return CauseThrottle, true
	case kindServer:
		return CauseServer, true
	case kindNetwork:
		return CauseNetwork, true
	}
	return 0, false
}

// sleep waits d or until ctx is done, returning ctx's error then.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retrier counts, reports and waits out one retry.
type retrier struct {
	cfg       *config
	counts    *[numCauses]atomic.Int64 // nil: not counted
	streamArn string
}

// wait records ev and sleeps ev.Delay, returning early with ctx's error.
func (r retrier) wait(ctx context.Context, ev RetryEvent) error {
	if r.counts != nil {
		r.counts[ev.Cause].Add(1)
	}
	if r.cfg.hook != nil {
		r.cfg.hook(ev)
	}
	r.cfg.logger.LogAttrs(ctx, slog.LevelDebug, "retrying stream call",
		slog.String(logStream, r.streamArn), slog.String(logShardID, ev.ShardID),
		slog.String(logOp, ev.Op), slog.String(logCause, ev.Cause.String()),
		slog.Int(logAttempt, ev.Attempt), slog.Duration(logDelay, ev.Delay), slog.Any(logError, ev.Err))
	return sleep(ctx, ev.Delay)
}

// backoffEvent builds the event for a transient error on attempt.
func (r retrier) backoffEvent(op, shardID string, cause RetryCause, attempt int, err error) RetryEvent {
	return RetryEvent{Cause: cause, Op: op, ShardID: shardID, Attempt: attempt,
		Delay: r.cfg.backoff.Delay(attempt, r.cfg.jitter), Err: err}
}
