package follow_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/emulator"
	"github.com/ddbsync/ddbsync/internal/metrics"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile/follow"
)

// Beyond assumption E (at most k−1 spurious empty pages in a row), a shard
// with records waiting looks caught up and W passes changes the copy does
// not hold yet: the promise "exact as of W" is broken without any error.
// Here GetRecords answers every call with an empty page while a key
// changes. Only the verification, which reads the key from DynamoDB itself,
// can tell: it records the mismatch, counts it in the metrics and makes the
// process unready; once the stream delivers again, the key matches.
func TestVerify_CatchesAWatermarkPastUnappliedChangesBeyondBoundE(t *testing.T) {
	t.Parallel()
	v := startVerified(t, follow.OnMismatchLog)
	reg := metrics.NewRegistry()
	reg.Follow(tenure.TableName, v.Stats)

	v.Emu.FailNext("GetRecords", emulator.FaultEmptyPage, 1_000_000)
	changed := v.IDs[9]
	v.Update(changed)
	changedAt := v.Now()
	v.round() // reads the new image from DynamoDB
	v.caughtUp()
	require.True(t, v.Stats.Watermark().After(changedAt), "W passed the change, which was never applied")
	v.round() // compares it with the copy, which still has the old one
	require.Equal(t, map[string][2]string{changed: {"different", "logged"}}, v.verifications())
	require.EqualValues(t, 1, v.Stats.Verify.Unresolved.Load())

	rec := httptest.NewRecorder()
	reg.Handler(time.Minute).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Contains(t, rec.Body.String(), `ddbsync_verify_mismatches_total{table="`+tenure.TableName+`"} 1`)
	require.ErrorContains(t, reg.Ready(time.Minute), "verification found the copy differs from DynamoDB")

	// The stream delivers again: the change is applied, and the key, checked
	// again, matches.
	v.Emu.ClearFaults()
	v.caughtUp()
	v.round()
	require.Zero(t, v.Stats.Verify.Unresolved.Load())
	require.NotContains(t, reg.Ready(time.Minute).Error(), "verification")
	require.NoError(t, v.follower.Stop())
	v.RequireCopyEqualsTable()
}
