package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// Page is what one [ShardReader.Next] call read: one GetRecords response,
// decoded and filtered.
type Page struct {
	// Changes are the page's records in shard order, minus those dropped by
	// [WithSkipBefore] and any redelivered record.
	Changes []Change
	// Skipped counts the records dropped by [WithSkipBefore].
	Skipped int
	// Finished is true when the shard is closed and read to its end
	// (GetRecords returned no NextShardIterator). Its children may now be
	// read. Further calls return the same empty, finished page.
	Finished bool
	// CaughtUp is true when the shard is open and passed the caught-up
	// rule ([WithCaughtUpRule]): k consecutive empty pages over some
	// seconds. A single empty page proves nothing. The rule assumes that
	// GetRecords never gives k spurious empty pages in a row; no Streams
	// response says that an open shard was read to its end.
	CaughtUp bool
	// CaughtUpAt, set when CaughtUp, is the wall time the first of the last
	// k empty pages was asked for, minus the propagation margin: every change
	// of the shard created before it has been read, provided the shard was
	// still open then, which only a listing shows ([Tracker]).
	CaughtUpAt time.Time
	// Position is where a new reader would resume once this page is
	// applied: after the last record read (applied or skipped), or the
	// reader's start if none was. Checkpoint it with the page's changes.
	Position Position
	// FirstRecordTime is the creation time of the first record this reader
	// read (applied or skipped); zero until it reads one. From TRIM_HORIZON
	// it is the oldest record the shard still holds: coverage of the start
	// instant S is proven when FirstRecordTime <= S, or when the shard's
	// parent was read to its end.
	FirstRecordTime time.Time
	// OldestRecordTime is the earliest creation time among all records the
	// reader read (creation times are approximate and may repeat or, across
	// a second boundary, go back slightly).
	OldestRecordTime time.Time
	// State is the shard's contribution to the watermark once this page is
	// applied; pass it to [Tracker.Read].
	State ShardState

	body bodyRef // the response the changes' strings are slices of
}

// Release lets the reader reuse the page's memory for a later page. The
// strings of the page's Changes (images, keys, sequence numbers, event ids)
// are slices of the GetRecords response they came in, which is not copied:
// call Release once the changes are applied and nothing keeps any of those
// strings (copy what must outlive the page). A page never released is
// garbage-collected as any other; releasing a page (or a copy of it) more
// than once does nothing more.
func (p Page) Release() { p.body.release() }

// ShardReader reads one shard of a stream, page by page, from a start
// [Position]. It renews iterators (expired, or older than
// [WithIteratorMaxAge]) from the last record it returned, retries throttling,
// server and network errors with backoff until ctx is done, sleeps
// [WithPollInterval] after an empty page of an open shard, and reports a
// [*GapError] when the shard no longer holds the records after its position.
//
// A ShardReader is not safe for concurrent use, except [ShardReader.Retries].
// AWS allows at most two readers per shard; use one.
type ShardReader struct {
	api       API
	streamArn string
	shardID   string
	start     Position
	cfg       config
	retry     retrier
	counts    [numCauses]atomic.Int64

	iterator   *string
	iteratorAt time.Time
	lastSeq    string    // last record read, "" until one is
	lastTime   time.Time // its creation time
	firstTime  time.Time
	oldestTime time.Time
	latestTime time.Time   // the latest creation time read
	empties    []time.Time // when each page of the current run of empty pages was asked for
	pollFirst  bool        // the last page was empty: wait before the next call
	finished   bool
	// rewind, when set, is the gap to report unless reading again from
	// TRIM_HORIZON proves the trimmed records all preceded the skip cutoff
	// (see [ShardReader.canRewind]).
	rewind *GapError
}

// NewShardReader returns a reader of shard shardID of stream streamArn,
// starting at start. It makes no call; the first [ShardReader.Next] does.
func NewShardReader(api API, streamArn, shardID string, start Position, opts ...Option) (*ShardReader, error) {
	switch {
	case api == nil:
		return nil, errors.New("new shard reader: nil API")
	case streamArn == "" || shardID == "":
		return nil, fmt.Errorf("new shard reader: stream %q, shard %q: want both", streamArn, shardID)
	}
	if err := start.Validate(); err != nil {
		return nil, fmt.Errorf("new reader of shard %s: %w", shardID, err)
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, fmt.Errorf("new reader of shard %s: %w", shardID, err)
	}
	r := &ShardReader{api: api, streamArn: streamArn, shardID: shardID, start: start, cfg: cfg}
	r.retry = retrier{cfg: &r.cfg, counts: &r.counts, streamArn: streamArn}
	return r, nil
}

// ShardID returns the id of the shard read.
func (r *ShardReader) ShardID() string { return r.shardID }

// Position returns where reading would resume: after the last record read,
// or the start position if none was.
func (r *ShardReader) Position() Position {
	if r.lastSeq != "" {
		return AfterSequenceNumber(r.lastSeq)
	}
	return r.start
}

// Retries returns how many retries and iterator renewals the reader made,
// by cause. It is safe for concurrent use.
func (r *ShardReader) Retries() map[RetryCause]int64 {
	out := make(map[RetryCause]int64, numCauses)
	for c := range numCauses {
		if n := r.counts[c].Load(); n > 0 {
			out[c] = n
		}
	}
	return out
}

// Next reads the next page of the shard. It blocks while it waits out an
// empty page's poll interval or a backoff, until ctx is done.
//
// Errors: a [*GapError] (wrapping [ErrGap]) when the records after the
// reader's position are gone (TrimmedDataAccessException, or
// ResourceNotFoundException once past a record), except where
// [WithSkipBefore] proves them unneeded; an error wrapping [ErrShardGone] when the shard
// does not exist and nothing was read from it; an error wrapping
// [ErrBadRecord] for a record it cannot decode (calling Next again reads the
// same page); ctx's error. After an error the reader's position is unchanged.
func (r *ShardReader) Next(ctx context.Context) (Page, error) {
	if r.finished {
		return r.page(nil, 0), nil
	}
	if r.pollFirst {
		if err := sleep(ctx, r.cfg.pollInterval); err != nil {
			return Page{}, r.errorf("waiting to poll: %w", err)
		}
	}
	out, askedAt, err := r.getRecords(ctx)
	if err != nil {
		return Page{}, err
	}
	now := r.cfg.now()
	changes, skipped, err := r.accept(out.Records)
	if len(changes) == 0 {
		// Nothing outlives the response: the reader keeps copies of the
		// iterator and the last sequence number.
		out.body.release()
		out.body = bodyRef{}
	}
	if gap, ok := errors.AsType[*GapError](err); ok {
		return Page{}, gap
	}
	if err != nil {
		return Page{}, r.errorf("%w", err)
	}
	if out.NextShardIterator == nil && r.rewind != nil {
		// The shard ended with no record to date what was trimmed.
		return Page{}, r.rewind
	}
	r.iterator, r.iteratorAt = out.NextShardIterator, now
	switch {
	case out.NextShardIterator == nil:
		r.finished, r.pollFirst, r.empties = true, false, nil
		r.cfg.logger.LogAttrs(ctx, slog.LevelInfo, "shard finished",
			slog.String(logStream, r.streamArn), slog.String(logShardID, r.shardID), slog.String(logSeq, r.lastSeq))
	case len(out.Records) > 0:
		r.pollFirst, r.empties = false, r.empties[:0]
	default:
		// The time the call was sent, not answered: the page proves (at
		// best) that the shard's end was reached at some instant after it.
		r.pollFirst = true
		r.empties = append(r.empties, askedAt)
	}
	p := r.page(changes, skipped)
	p.body = out.body
	return p, nil
}

// accept filters records and advances the read position past them. It
// changes nothing if it fails.
func (r *ShardReader) accept(records []Change) ([]Change, int, error) {
	changes := make([]Change, 0, len(records))
	after := r.Position().SequenceNumber
	lastSeq, lastTime, first, oldest, latest := r.lastSeq, r.lastTime, r.firstTime, r.oldestTime, r.latestTime
	skipped := 0
	rewind := r.rewind
	for _, c := range records {
		if after != "" && CompareSequenceNumbers(c.SequenceNumber, after) <= 0 {
			rewind = nil // the horizon is not past the position: nothing lost
			continue     // delivered before: at-least-once
		}
		if rewind != nil {
			if !c.ApproximateCreationTime.Before(r.cfg.skipBefore) {
				return nil, 0, rewind
			}
			rewind = nil // every trimmed record preceded this one, and the cutoff
		}
		after, lastSeq, lastTime = c.SequenceNumber, c.SequenceNumber, c.ApproximateCreationTime
		if first.IsZero() {
			first = lastTime
		}
		if oldest.IsZero() || lastTime.Before(oldest) {
			oldest = lastTime
		}
		if lastTime.After(latest) {
			latest = lastTime
		}
		if !r.cfg.skipBefore.IsZero() && lastTime.Before(r.cfg.skipBefore) {
			skipped++
			continue
		}
		changes = append(changes, c)
	}
	if lastSeq != r.lastSeq {
		// A copy: the record's own string is a slice of its page's body,
		// which the reader would otherwise keep alive, a megabyte a shard,
		// for as long as the shard stays quiet.
		lastSeq = strings.Clone(lastSeq)
	}
	r.lastSeq, r.lastTime, r.firstTime, r.oldestTime, r.latestTime = lastSeq, lastTime, first, oldest, latest
	r.rewind = rewind
	return changes, skipped, nil
}

// page assembles the page for changes, applying the caught-up rule to the
// run of empty pages.
func (r *ShardReader) page(changes []Change, skipped int) Page {
	p := Page{
		Changes:          changes,
		Skipped:          skipped,
		Finished:         r.finished,
		Position:         r.Position(),
		FirstRecordTime:  r.firstTime,
		OldestRecordTime: r.oldestTime,
		State:            ShardState{ShardID: r.shardID, Margin: r.cfg.propagationMargin, Tolerance: r.cfg.timeTolerance},
	}
	if i := caughtUpIndex(r.empties, r.cfg.caughtUpPages, r.cfg.caughtUpSpan); i >= 0 {
		p.CaughtUp, p.CaughtUpAt = true, r.empties[i].Add(-r.cfg.propagationMargin)
		// Later runs only need the empty pages from i on.
		r.empties = append(r.empties[:0], r.empties[i:]...)
	}
	switch {
	case r.finished:
		p.State.Progress = ProgressFinished
	case p.CaughtUp:
		// The tracker keeps the records' bound from the earlier pages.
		p.State.Progress, p.State.Time = ProgressCaughtUp, p.CaughtUpAt
	case !r.latestTime.IsZero():
		p.State.Progress, p.State.Time = ProgressReading, r.latestTime
	}
	return p
}

// caughtUpIndex applies the caught-up rule to the wall times of a run of
// consecutive empty pages: it returns the index of the latest page that is
// followed, counting itself, by at least pages empty pages, the last at least
// span after it; -1 if none is. Sliding the start of the window forward lets
// the caught-up time advance while a shard stays idle.
func caughtUpIndex(empties []time.Time, pages int, span time.Duration) int {
	if len(empties) < pages {
		return -1
	}
	last := empties[len(empties)-1]
	for i := len(empties) - pages; i >= 0; i-- {
		if last.Sub(empties[i]) >= span {
			return i
		}
	}
	return -1
}

// freshStart reports whether the reader starts at TRIM_HORIZON and has read
// nothing, the one case where a trimmed horizon loses nothing of ours.
func (r *ShardReader) freshStart() bool {
	return (r.lastSeq == "" && r.start.Kind == PositionTrimHorizon) || r.rewind != nil
}

// canRewind reports whether records trimmed after the reader's position may
// all precede the [WithSkipBefore] cutoff: the last record read does. Reading
// from TRIM_HORIZON, which the start rule does, the first records are about
// 24 hours old and may be trimmed while the reader skips through them; that
// loses nothing the follower needs. The reader then reads from TRIM_HORIZON
// again, and the first record there proves it: the lost records came before
// it, so if it is before the cutoff, so are they; if not, it is a gap.
func (r *ShardReader) canRewind() bool {
	return !r.cfg.skipBefore.IsZero() && !r.lastTime.IsZero() && r.lastTime.Before(r.cfg.skipBefore)
}

// trimmed reacts to a TrimmedDataAccessException: nil to restart from
// TRIM_HORIZON, or the gap.
func (r *ShardReader) trimmed(err error) error {
	switch {
	case r.freshStart():
		return nil
	case r.canRewind():
		r.rewind = r.gap(err)
		return nil
	}
	return r.gap(err)
}

// getRecords makes one successful GetRecords call, renewing the iterator and
// retrying as the rules say, and returns it with the wall time it was sent.
// A shard whose new iterator is nil is finished: it returns an output with
// no records and no next iterator.
func (r *ShardReader) getRecords(ctx context.Context) (*recordPage, time.Time, error) {
	for attempt := 0; ; attempt++ {
		if r.iterator != nil && r.cfg.now().Sub(r.iteratorAt) >= r.cfg.iteratorMaxAge {
			r.iterator = nil
			if err := r.retry.wait(ctx, RetryEvent{Cause: CauseIteratorAge, Op: "GetShardIterator", ShardID: r.shardID}); err != nil {
				return nil, time.Time{}, r.errorf("renewing iterator: %w", err)
			}
		}
		if r.iterator == nil {
			if err := r.renew(ctx); err != nil {
				return nil, time.Time{}, err
			}
			if r.iterator == nil {
				return &recordPage{}, r.cfg.now(), nil
			}
		}
		askedAt := r.cfg.now()
		out, err := fetchRecords(ctx, r.api, r.shardID, &dynamodbstreams.GetRecordsInput{ShardIterator: r.iterator, Limit: aws.Int32(r.cfg.limit)})
		if err == nil {
			return out, askedAt, nil
		}
		if ctx.Err() != nil {
			return nil, time.Time{}, r.errorf("GetRecords: %w", ctx.Err())
		}
		ev := RetryEvent{Op: "GetRecords", ShardID: r.shardID, Attempt: attempt, Err: err}
		switch kind := classify(err); kind {
		case kindExpired, kindTrimmed:
			if kind == kindTrimmed {
				if err := r.trimmed(err); err != nil {
					return nil, time.Time{}, err
				}
			}
			ev.Cause = CauseExpiredIterator
			if kind == kindTrimmed {
				ev.Cause = CauseTrimHorizon
			}
			if attempt > 0 { // renewing at once did not help: slow down
				ev.Delay = r.cfg.backoff.Delay(attempt, r.cfg.jitter)
			}
			r.iterator = nil
		case kindNotFound:
			return nil, time.Time{}, r.gone(err)
		default:
			cause, ok := transientCause(kind)
			if !ok {
				return nil, time.Time{}, r.errorf("GetRecords: %w", err)
			}
			ev = r.retry.backoffEvent("GetRecords", r.shardID, cause, attempt, err)
		}
		if err := r.retry.wait(ctx, ev); err != nil {
			return nil, time.Time{}, r.errorf("retrying GetRecords: %w", err)
		}
	}
}

// renew gets a new iterator at the reader's position. It leaves r.iterator
// nil if AWS returns none (the shard is closed and read to its end).
func (r *ShardReader) renew(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		pos := r.Position()
		if r.rewind != nil {
			pos = TrimHorizon()
		}
		in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(r.streamArn), ShardId: aws.String(r.shardID)}
		if pos.Kind == PositionAfterSequenceNumber {
			in.ShardIteratorType = types.ShardIteratorTypeAfterSequenceNumber
			in.SequenceNumber = aws.String(pos.SequenceNumber)
		} else {
			in.ShardIteratorType = types.ShardIteratorTypeTrimHorizon
		}
		out, err := r.api.GetShardIterator(ctx, in)
		if err == nil {
			r.iterator, r.iteratorAt = out.ShardIterator, r.cfg.now()
			return nil
		}
		if ctx.Err() != nil {
			return r.errorf("GetShardIterator %s: %w", pos, ctx.Err())
		}
		var ev RetryEvent
		switch kind := classify(err); kind {
		case kindTrimmed:
			if err := r.trimmed(err); err != nil {
				return err
			}
			ev = r.retry.backoffEvent("GetShardIterator", r.shardID, CauseTrimHorizon, attempt, err)
		case kindNotFound:
			return r.gone(err)
		default:
			cause, ok := transientCause(kind)
			if !ok {
				return r.errorf("GetShardIterator %s: %w", pos, err)
			}
			ev = r.retry.backoffEvent("GetShardIterator", r.shardID, cause, attempt, err)
		}
		if err := r.retry.wait(ctx, ev); err != nil {
			return r.errorf("retrying GetShardIterator: %w", err)
		}
	}
}

// gap is the error for records lost after the reader's position.
func (r *ShardReader) gap(cause error) *GapError {
	return &GapError{StreamArn: r.streamArn, ShardID: r.shardID, After: r.Position().SequenceNumber, Cause: cause}
}

// gone is the error for a shard AWS does not know: a gap if the reader was
// past a record, else [ErrShardGone] for the caller to judge.
func (r *ShardReader) gone(cause error) error {
	if r.Position().Kind == PositionAfterSequenceNumber {
		return r.gap(cause)
	}
	return r.errorf("%w: %w; if the shard held changes after the follower's start instant, they are lost, "+
		"and only a new export of the table can restore a complete copy", ErrShardGone, cause)
}

func (r *ShardReader) errorf(format string, args ...any) error {
	return fmt.Errorf("reading shard %s of stream %s: "+format, append([]any{r.shardID, r.streamArn}, args...)...)
}
