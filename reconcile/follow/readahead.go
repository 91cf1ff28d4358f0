package follow

import (
	"context"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/ddbsync/ddbsync/stream"
)

// Reading ahead. A shard's pages are read by one goroutine and applied by
// another, so that fetching and decoding the next page overlaps writing
// this one: a follower that did one after the other left PostgreSQL idle
// while it read, and the stream idle while it wrote. What is read ahead
// waits in memory, so it is bounded twice: per shard (shardReadAhead
// pages, which is also the most one transaction takes) and across the
// follower's shards (readAheadPages), since a table may have many shards
// busy at once. A GetRecords page holds at most 1 MB of records.
//
// A shard that is behind fills its transactions: after a page with
// changes, the applier waits up to batchWait for the pages that follow it
// (the reader asks for the next one at once after a page with records),
// until shardReadAhead pages, an empty page (the shard's end, for now) or
// a finished one. Taking only the pages already read made transactions of
// a page or two (150–250 tenure records with both images), three times as
// many commits as pages of 1,000 rows, each with its round trips and WAL
// flush: the apply took 18% longer with PostgreSQL on a core of its own.
const (
	shardReadAhead = 4
	readAheadPages = 16
	batchWait      = 50 * time.Millisecond
)

// readAhead is a follower's budget of pages read and not yet applied.
type readAhead struct {
	pages *semaphore.Weighted
	wait  time.Duration // batchWait
}

func newReadAhead() *readAhead {
	return &readAhead{pages: semaphore.NewWeighted(readAheadPages), wait: batchWait}
}

// shardPages is one shard's pages, read ahead of their application.
type shardPages struct {
	budget *readAhead
	cancel context.CancelFunc
	pages  chan stream.Page
	err    error         // why reading stopped; set before pages is closed
	wait   time.Duration // for the pages after one with changes
}

// start reads pages with next until it fails, ctx is done, or a page
// finishes the shard, keeping them for [shardPages.take]. Call
// [shardPages.stop] when done with them.
func (b *readAhead) start(ctx context.Context, next func(context.Context) (stream.Page, error)) *shardPages {
	ctx, cancel := context.WithCancel(ctx)
	s := &shardPages{budget: b, cancel: cancel, pages: make(chan stream.Page, shardReadAhead), wait: b.wait}
	go func() {
		defer close(s.pages)
		for {
			p, err := next(ctx)
			if err != nil {
				s.err = err
				return
			}
			if err := b.pages.Acquire(ctx, 1); err != nil {
				s.err = err
				return
			}
			select {
			case s.pages <- p:
			case <-ctx.Done():
				b.pages.Release(1)
				s.err = ctx.Err()
				return
			}
			if p.Finished {
				return
			}
		}
	}()
	return s
}

// take waits for the next page and returns it with the pages after it,
// up to shardReadAhead pages in all: those read already, and while the
// last page taken has changes, those read within the batch's wait (see
// above); a finished or an empty page ends the batch. err, when set, is
// why reading stopped after the pages returned (there may be none). Hand
// the pages back with [shardPages.done] once applied.
func (s *shardPages) take() (batch []stream.Page, err error) {
	p, ok := <-s.pages
	if !ok {
		return nil, s.err
	}
	batch = append(batch, p)
	var waited <-chan time.Time
	for !p.Finished && len(p.Changes) > 0 && len(batch) < shardReadAhead {
		select {
		case p, ok = <-s.pages:
		default:
			if waited == nil {
				t := time.NewTimer(s.wait)
				defer t.Stop()
				waited = t.C
			}
			select {
			case p, ok = <-s.pages:
			case <-waited:
				return batch, nil
			}
		}
		if !ok {
			return batch, s.err
		}
		batch = append(batch, p)
	}
	return batch, nil
}

// done gives back the budget of pages taken.
func (s *shardPages) done(batch []stream.Page) {
	s.budget.pages.Release(int64(len(batch)))
}

// stop ends reading and gives back the budget of the pages never taken.
func (s *shardPages) stop() {
	s.cancel()
	for range s.pages {
		s.budget.pages.Release(1)
	}
}
