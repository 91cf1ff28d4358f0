package follow_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/emulator"
	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/follow"
)

// verified is a loaded tenure table of 20 items, followed with
// verification paced by the test's ticks.
type verified struct {
	*reconciletest.Harness
	ticks    chan time.Time
	follower *reconciletest.Background
}

// startVerified loads 20 tenures, changes some through the stream, and
// starts following them with verification: 100 keys a minute of the
// emulator's clock, more than the table holds, so a round after a minute
// reads every key.
func startVerified(t *testing.T, on follow.MismatchAction) *verified {
	t.Helper()
	h := reconciletest.NewHarness(t, emulator.WithShards(2))
	h.Insert(20)
	h.Tick(time.Minute)
	h.ExportAndLoad(h.Now())
	h.Tick(time.Minute)
	h.UpdateAll(h.IDs[:5])
	v := &verified{Harness: h, ticks: make(chan time.Time)}
	cfg := h.FollowConfigOnEmulatorClock()
	cfg.UntilCaughtUp = false
	cfg.Stats.Verify = &follow.VerifyStats{}
	cfg.Verify = follow.VerifyConfig{KeysPerMinute: 100, Client: h.DDB, OnMismatch: on, Ticks: v.ticks}
	v.follower = h.FollowInBackground(cfg)
	// Started (W is published once verification runs), before the clock
	// moves: the first round has a minute's worth of keys to read.
	v.WaitWatermark(v.Now().Add(-30 * time.Second))
	v.caughtUp()
	return v
}

// caughtUp moves the clock on a minute and waits for W to follow: every
// change made and every key read so far is covered, window included.
func (v *verified) caughtUp() {
	v.T.Helper()
	v.Tick(time.Minute)
	v.WaitWatermark(v.Now().Add(-30 * time.Second))
}

// round has the verifier do one round, and waits for it to end: it
// compares the keys the previous round read (when W has passed them, as
// caughtUp makes sure), then reads every key again.
func (v *verified) round() {
	v.T.Helper()
	n := v.Stats.Verify.Rounds.Load()
	v.ticks <- v.Now()
	require.Eventually(v.T, func() bool { return v.Stats.Verify.Rounds.Load() > n }, 30*time.Second, time.Millisecond)
}

func (v *verified) sql(sql string, args ...any) {
	v.T.Helper()
	_, err := v.Pool.Exec(v.T.Context(), sql, args...)
	require.NoError(v.T, err)
}

// verifications lists the recorded mismatches: key id → kind and action.
func (v *verified) verifications() map[string][2]string {
	v.T.Helper()
	rows, err := v.Pool.Query(v.T.Context(), `SELECT key->'id'->>'S', kind, action FROM ddbsync.verifications
		WHERE table_name = $1 ORDER BY verification_id`, tenure.TableName)
	require.NoError(v.T, err)
	defer rows.Close()
	out := map[string][2]string{}
	for rows.Next() {
		var id, kind, action string
		require.NoError(v.T, rows.Scan(&id, &kind, &action))
		out[id] = [2]string{kind, action}
	}
	require.NoError(v.T, rows.Err())
	return out
}

const rentSQL = `UPDATE dynamodb.tenure_information SET item = jsonb_set(item, '{charges,M,rent,N}', '"1.01"') WHERE id = $1`

func TestVerify_FindsARowChangedInPostgreSQL(t *testing.T) {
	t.Parallel()
	v := startVerified(t, follow.OnMismatchLog)
	v.round()
	v.caughtUp()
	v.round()
	require.EqualValues(t, 20, v.Stats.Verify.Checked.Load(), "every key, all matching")
	require.Zero(t, v.Stats.Verify.Mismatches.Load())

	changed := v.IDs[12]
	v.sql(rentSQL, changed) // behind ddbsync's back
	v.caughtUp()
	v.round()
	require.EqualValues(t, 1, v.Stats.Verify.Mismatches.Load())
	require.EqualValues(t, 1, v.Stats.Verify.Unresolved.Load())
	require.Equal(t, map[string][2]string{changed: {"different", "logged"}}, v.verifications())
	var ddbRent, copyRent string
	require.NoError(t, v.Pool.QueryRow(t.Context(), `SELECT dynamodb_item->'charges'->'M'->'rent'->>'N', copy_item->'charges'->'M'->'rent'->>'N'
		FROM ddbsync.verifications`).Scan(&ddbRent, &copyRent))
	require.Equal(t, "1.01", copyRent, "both images are kept")
	require.NotEqual(t, copyRent, ddbRent)

	st, err := reconcile.Status(t.Context(), v.Pool, tenure.TableName, v.Now())
	require.NoError(t, err)
	require.NotNil(t, st[0].Verify)
	require.EqualValues(t, 40, st[0].Verify.KeysChecked)
	require.EqualValues(t, 1, st[0].Verify.Mismatches)
	require.NotNil(t, st[0].Verify.LastCheckAt)

	// Read again (first, as a mismatched key), still wrong: the same
	// mismatch, recorded and counted once.
	v.caughtUp()
	v.round()
	require.EqualValues(t, 1, v.Stats.Verify.Mismatches.Load())
	var rows int
	require.NoError(t, v.Pool.QueryRow(t.Context(), `SELECT count(*) FROM ddbsync.verifications`).Scan(&rows))
	require.Equal(t, 1, rows)

	// Fixed by hand: the mismatched key is checked again, and matches.
	v.sql(`UPDATE dynamodb.tenure_information SET item = $2 WHERE id = $1`, changed, itemJSON(t, v.Get(changed)))
	v.caughtUp()
	v.round()
	require.Zero(t, v.Stats.Verify.Unresolved.Load())
	require.NoError(t, v.follower.Stop())
}

func TestVerify_FindsChangesLostOnTheWay(t *testing.T) {
	t.Parallel()
	v := startVerified(t, follow.OnMismatchLog)
	updated, removed, gone := v.IDs[3], v.IDs[14], v.IDs[7]
	// Changes whose stream records are lost: an update, a removal.
	item := v.Gen.Update(v.Get(updated))
	_, err := v.Emu.WriteUnstreamed(tenure.TableName, nil, item)
	require.NoError(t, err)
	_, err = v.Emu.WriteUnstreamed(tenure.TableName, key(removed), nil)
	require.NoError(t, err)
	// And a row of a key the stream just changed, gone from the copy.
	v.Update(gone)
	v.caughtUp()
	v.sql(`DELETE FROM dynamodb.tenure_information WHERE id = $1`, gone)

	v.round()
	v.caughtUp()
	v.round()
	require.Equal(t, map[string][2]string{
		updated: {"different", "logged"},
		removed: {"extra", "logged"},
		gone:    {"missing", "logged"},
	}, v.verifications())
	require.EqualValues(t, 3, v.Stats.Verify.Unresolved.Load())
	require.NoError(t, v.follower.Stop())
}

func TestVerify_SkipsKeysChangedAfterTheRead(t *testing.T) {
	t.Parallel()
	v := startVerified(t, follow.OnMismatchLog)
	v.round() // reads every key
	// Changed after the read, at the read's time (the clock has not
	// moved): the copy gets a newer image than the read saw.
	v.UpdateAll(v.IDs[8:10])
	v.caughtUp()
	v.round()
	require.EqualValues(t, 2, v.Stats.Verify.InFlight.Load())
	require.EqualValues(t, 18, v.Stats.Verify.Checked.Load())
	require.Zero(t, v.Stats.Verify.Mismatches.Load())
	require.NoError(t, v.follower.Stop())
}

func TestVerify_RepairLeavesTheCopyEqualToTheTable(t *testing.T) {
	t.Parallel()
	v := startVerified(t, follow.OnMismatchRepair)
	changed, updated, removed, gone := v.IDs[12], v.IDs[3], v.IDs[14], v.IDs[7]
	v.sql(rentSQL, changed)
	_, err := v.Emu.WriteUnstreamed(tenure.TableName, nil, v.Gen.Update(v.Get(updated)))
	require.NoError(t, err)
	_, err = v.Emu.WriteUnstreamed(tenure.TableName, key(removed), nil)
	require.NoError(t, err)
	v.Update(gone)
	v.caughtUp()
	v.sql(`DELETE FROM dynamodb.tenure_information WHERE id = $1`, gone)

	v.round() // reads
	// The table goes on changing between the read and the compare: newer
	// images the repair must leave to the stream.
	v.UpdateAll(v.IDs[15:18])
	v.Insert(2)
	v.caughtUp()
	v.round() // compares and repairs
	require.Equal(t, map[string][2]string{
		changed: {"different", "repaired"},
		updated: {"different", "repaired"},
		removed: {"extra", "repaired"},
		gone:    {"missing", "repaired"},
	}, v.verifications())
	require.EqualValues(t, 4, v.Stats.Verify.Repaired.Load())
	require.Zero(t, v.Stats.Verify.Unresolved.Load())
	var n int
	require.NoError(t, v.Pool.QueryRow(t.Context(), `SELECT count(*) FROM ddbsync.repairs r
		JOIN ddbsync.verifications v USING (verification_id) WHERE v.action = 'repaired'`).Scan(&n))
	require.Equal(t, 4, n, "each repair recorded with its verification")
	var origin string
	require.NoError(t, v.Pool.QueryRow(t.Context(), `SELECT origin FROM dynamodb.tenure_information WHERE id = $1`, changed).Scan(&origin))
	require.Equal(t, "verify", origin)

	v.UpdateAll([]string{changed, gone}) // the stream overwrites repairs
	v.caughtUp()
	v.round()
	v.caughtUp()
	v.round()
	require.EqualValues(t, 4, v.Stats.Verify.Mismatches.Load(), "nothing more")
	require.NoError(t, v.follower.Stop())
	v.RequireCopyEqualsTable()
}

func TestVerify_StopEndsTheFollow(t *testing.T) {
	t.Parallel()
	v := startVerified(t, follow.OnMismatchStop)
	v.sql(rentSQL, v.IDs[2])
	v.round()
	v.caughtUp()
	v.ticks <- v.Now() // the follow ends in this round
	err := v.follower.Wait(t, 30*time.Second)
	require.ErrorIs(t, err, reconcile.ErrInconsistent)
	require.ErrorContains(t, err, "ddbsync.verifications")
	require.ErrorContains(t, err, v.IDs[2])
	require.Equal(t, map[string][2]string{v.IDs[2]: {"different", "stopped"}}, v.verifications())
}

func key(id string) ddbjson.Item {
	return ddbjson.Item{"id": &types.AttributeValueMemberS{Value: id}}
}

func itemJSON(t *testing.T, it ddbjson.Item) string {
	t.Helper()
	b, err := ddbjson.EncodeItem(it)
	require.NoError(t, err)
	return string(b)
}

func TestVerify_UntilCaughtUpEndsAsWithout(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t)
	h.Insert(10)
	h.Tick(time.Minute)
	h.ExportAndLoad(h.Now())
	h.UpdateAll(h.IDs[:3])
	h.Tick(time.Minute)
	cfg := h.FollowConfig()
	cfg.Verify = follow.VerifyConfig{KeysPerMinute: 60, Client: h.DDB, OnMismatch: follow.OnMismatchStop}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	res, err := follow.Run(ctx, h.Pool, cfg)
	require.NoError(t, err)
	require.EqualValues(t, 13, res.Applied, "the inserts (within the replay margin) and the updates")
	require.NotNil(t, cfg.Stats.Verify, "a verifying follow has verify stats")
	h.RequireCopyEqualsTable()
}
