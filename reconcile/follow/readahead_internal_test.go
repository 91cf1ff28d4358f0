package follow

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/stream"
)

// pagesFrom starts reading ahead from next, a page at a time as the test
// hands them over, with the given batch wait.
func pagesFrom(t *testing.T, wait time.Duration) (*shardPages, chan<- stream.Page) {
	t.Helper()
	feed := make(chan stream.Page)
	b := newReadAhead()
	b.wait = wait
	s := b.start(t.Context(), func(ctx context.Context) (stream.Page, error) {
		select {
		case p, ok := <-feed:
			if !ok {
				return stream.Page{}, errors.New("the test's pages are all read")
			}
			return p, nil
		case <-ctx.Done():
			return stream.Page{}, ctx.Err()
		}
	})
	t.Cleanup(s.stop)
	return s, feed
}

func withChanges(n int) stream.Page { return stream.Page{Changes: make([]stream.Change, n)} }

// A page with changes waits for the pages after it, which come while take
// waits, until shardReadAhead pages, an empty page or a finished one.
func TestTake_FillsTheBatchWhileTheShardIsBehind(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pages []stream.Page
		want  int // pages in the batch
	}{
		{"up to the most", []stream.Page{withChanges(3), withChanges(3), withChanges(3), withChanges(3), withChanges(3)}, shardReadAhead},
		{"up to an empty page", []stream.Page{withChanges(3), withChanges(3), {}, withChanges(3)}, 3},
		{"up to a finished page", []stream.Page{withChanges(3), {Changes: make([]stream.Change, 2), Finished: true}}, 2},
		{"an empty page alone", []stream.Page{{}, withChanges(3)}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, feed := pagesFrom(t, time.Hour) // the wait never ends the batch here
			got := make(chan int, 1)
			go func() {
				batch, err := s.take()
				if err != nil {
					t.Error(err)
				}
				got <- len(batch)
			}()
			for _, p := range tc.pages[:tc.want] {
				feed <- p
			}
			require.Equal(t, tc.want, <-got)
		})
	}
}

// With nothing more read within the wait, the batch is what was taken.
func TestTake_EndsTheBatchAfterTheWait(t *testing.T) {
	s, feed := pagesFrom(t, time.Millisecond)
	feed <- withChanges(3)
	batch, err := s.take()
	require.NoError(t, err)
	require.Len(t, batch, 1)
}
