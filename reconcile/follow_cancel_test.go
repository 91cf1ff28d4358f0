package reconcile_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/reconcile"
)

// A stop requested while the follower is still starting (reading the
// table, taking its lock, describing the stream) is a clean stop too, as
// for SIGINT at any moment: found by the scenario harness (seeds 2 and 11),
// where Follow returned "context canceled".
func TestFollow_CancelWhileStartingIsACleanStop(t *testing.T) {
	t.Parallel()
	h := newFollowHarness(t)
	h.insert(3)
	h.exportAndLoad(h.now())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := reconcile.Follow(ctx, h.pool, h.followConfig())
	require.NoError(t, err)
}
