package follow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/reconcile/follow"
)

// A stop requested while the follower is still starting (reading the
// table, taking its lock, describing the stream) is a clean stop too, as
// for SIGINT at any moment: found by the scenario harness (seeds 2 and 11),
// where Follow returned "context canceled".
func TestFollow_CancelWhileStartingIsACleanStop(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t)
	h.Insert(3)
	h.ExportAndLoad(h.Now())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := follow.Run(ctx, h.Pool, h.FollowConfig())
	require.NoError(t, err)
}
