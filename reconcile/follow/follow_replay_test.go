package follow_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/emulator"
	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile/follow"
)

// A follower stopped while the commit of a shard's last page is on its way
// returns at once (pgx gives up on the connection), but the server still
// commits the page. The next follower may read the checkpoints before that
// commit lands, and so read and apply the same page again. The rows come out
// the same; the page's changes must be counted once. The test holds the first
// commit at the server, with a deferred trigger that waits for an advisory
// lock the test owns and ignores the client's cancel request, until the
// second follower is blocked behind it.
func TestFollow_LastPageCommittedLateIsCountedOnce(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t, emulator.WithShards(1))
	h.Insert(10)
	h.ExportAndLoad(h.Now())
	h.Tick(time.Second)
	_, err := h.Follow()
	require.NoError(t, err)
	shards, err := h.Emu.OpenShards(tenure.TableName)
	require.NoError(t, err)
	parent := shards[0]
	h.UpdateAll(h.IDs[:5])
	_, err = h.Emu.RolloverShards(tenure.TableName)
	require.NoError(t, err)

	ctx := t.Context()
	const holdKey = 160016 // the advisory lock hold_finish() waits for
	_, err = h.Pool.Exec(ctx, `
		CREATE FUNCTION hold_finish() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			LOOP
				BEGIN
					PERFORM pg_advisory_xact_lock(160016);
					RETURN NULL;
				EXCEPTION WHEN query_canceled THEN
					-- The client gave up and asked to cancel: the commit
					-- goes on, as one already past its commit record does.
				END;
			END LOOP;
		END $$;
		CREATE CONSTRAINT TRIGGER hold_finish AFTER UPDATE ON ddbsync.shards
			DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
			WHEN (NEW.state = 'finished' AND OLD.state <> 'finished') EXECUTE FUNCTION hold_finish()`)
	require.NoError(t, err)
	hold, err := h.Pool.Acquire(ctx)
	require.NoError(t, err)
	defer hold.Release()
	_, err = hold.Exec(ctx, `SELECT pg_advisory_lock($1)`, holdKey)
	require.NoError(t, err)
	released := false
	defer func() {
		if !released {
			_, _ = hold.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, holdKey)
		}
	}()
	waiting := func(event string) func() bool {
		return func() bool {
			var n int
			err := h.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = $1`, event).Scan(&n)
			return err == nil && n > 0
		}
	}

	// The first follower reads the parent's last page and commits it: the
	// commit waits at the server. Stop the follower there.
	ctxA, cancelA := context.WithCancel(ctx)
	defer cancelA()
	doneA := make(chan error, 1)
	go func() {
		_, err := follow.Run(ctxA, h.Pool, h.FollowConfig())
		doneA <- err
	}()
	require.Eventually(t, waiting("advisory"), 30*time.Second, time.Millisecond, "the last page's commit never reached the server")
	cancelA()
	require.NoError(t, <-doneA)

	// The second follower finds the parent unfinished, reads its last page
	// again and waits behind the first commit, which then lands.
	doneB := make(chan error, 1)
	go func() {
		_, err := h.Follow()
		doneB <- err
	}()
	require.Eventually(t, waiting("transactionid"), 30*time.Second, time.Millisecond, "the second follower never met the first commit")
	_, err = hold.Exec(ctx, `SELECT pg_advisory_unlock($1)`, holdKey)
	require.NoError(t, err)
	released = true
	require.NoError(t, <-doneB)

	h.RequireCopyEqualsTable()
	var state string
	var applied int64
	require.NoError(t, h.Pool.QueryRow(ctx, `SELECT state, changes_applied FROM ddbsync.shards WHERE table_name = $1 AND shard_id = $2`,
		tenure.TableName, parent).Scan(&state, &applied))
	require.Equal(t, "finished", state)
	require.Equal(t, int64(15), applied, "the parent holds 10 inserts and 5 updates since the replay start, each applied once")
}
