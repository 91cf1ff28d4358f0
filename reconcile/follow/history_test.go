package follow_test

import (
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/emulator"
	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/follow"
	"github.com/ddbsync/ddbsync/reconcile/load"
)

// state reads the emulator's items of ids: id → item in DynamoDB JSON.
func state(h *reconciletest.Harness, ids []string) map[string]string {
	h.T.Helper()
	out := map[string]string{}
	for _, id := range ids {
		if it := h.Get(id); it != nil {
			b, err := ddbjson.EncodeItem(it)
			require.NoError(h.T, err)
			out[id] = string(b)
		}
	}
	return out
}

// asOf reads dynamodb.tenure_information_as_of(ts): id → item.
func asOf(t *testing.T, h *reconciletest.Harness, ts time.Time) (map[string]string, error) {
	t.Helper()
	rows, err := h.Pool.Query(t.Context(), `SELECT id, item::text FROM dynamodb.tenure_information_as_of($1)`, ts)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, raw string
		require.NoError(t, rows.Scan(&id, &raw))
		it, err := ddbjson.DecodeItem([]byte(raw))
		require.NoError(t, err)
		b, err := ddbjson.EncodeItem(it)
		require.NoError(t, err)
		out[id] = string(b)
	}
	return out, rows.Err()
}

// TestHistory_AsOfIsTheTableAtEachInstant loads with history on, follows
// changes made at known instants (one before T, replayed from T − 5 min),
// and reads the table back as of each of them: as-of equals what DynamoDB
// held then, and refuses an instant before T or at or after W.
func TestHistory_AsOfIsTheTableAtEachInstant(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t, emulator.WithShards(2))
	h.Insert(12)
	h.Tick(10 * time.Minute)
	T := h.Now()
	h.Tick(-time.Minute)
	h.Update(h.IDs[0]) // before T: in the export, and replayed
	h.Tick(time.Minute)
	atT := state(h, h.IDs)
	_, err := load.Run(t.Context(), h.Pool, h.ExportAt(T), load.Config{Layout: reconciletest.TenureLayout(t, ""), History: true})
	require.NoError(t, err)

	type instant struct {
		at   time.Time
		want map[string]string
	}
	checks := []instant{{T, atT}}
	h.Tick(2 * time.Second)
	h.UpdateAll(h.IDs[1:5])
	checks = append(checks, instant{h.Now(), state(h, h.IDs)})
	h.Tick(2 * time.Second)
	h.Remove(h.IDs[5])
	h.Update(h.IDs[1])
	checks = append(checks, instant{h.Now(), state(h, h.IDs)})
	h.Tick(2 * time.Second)
	h.Put(h.Gen.ItemWithID(h.IDs[5]))
	h.Insert(1)
	checks = append(checks, instant{h.Now(), state(h, h.IDs)})
	h.Tick(5 * time.Second)

	res, err := h.Follow()
	require.NoError(t, err)
	h.RequireCopyEqualsTable()
	for _, c := range checks {
		for _, at := range []time.Time{c.at, c.at.Add(time.Second + 999*time.Millisecond)} {
			got, err := asOf(t, h, at)
			require.NoError(t, err)
			require.Equal(t, c.want, got, "as of %s", at)
		}
	}

	var pgErr *pgconn.PgError
	_, err = asOf(t, h, res.Watermark)
	require.True(t, errors.As(err, &pgErr), "as of W: %v", err)
	require.Contains(t, pgErr.Message, "is not yet proven: W is")
	_, err = asOf(t, h, T.Add(-time.Microsecond))
	require.True(t, errors.As(err, &pgErr), "before T: %v", err)
	require.Contains(t, pgErr.Message, "is before the history")

	// No version starts before T, and each key's versions tile time:
	// each one ends where the next begins, the last one is open.
	var bad int
	require.NoError(t, h.Pool.QueryRow(t.Context(), `SELECT count(*) FROM (
			SELECT valid_from, valid_to, lead(valid_from) OVER k AS next, row_number() OVER (PARTITION BY id ORDER BY valid_from DESC, sequence_number DESC NULLS LAST) AS last
			FROM dynamodb.tenure_information_history WINDOW k AS (PARTITION BY id ORDER BY valid_from, sequence_number NULLS FIRST)) v
		WHERE valid_from < $1 OR valid_to IS DISTINCT FROM next AND NOT (last = 1 AND valid_to IS NULL)`, T).Scan(&bad))
	require.Zero(t, bad)

	// A reload keeps the history up to the new T and starts again there.
	h.Tick(time.Minute)
	T2 := h.Now()
	_, err = load.Run(t.Context(), h.Pool, h.ExportAt(T2), load.Config{Layout: reconciletest.TenureLayout(t, "")})
	require.NoError(t, err)
	var open, closedBefore int
	require.NoError(t, h.Pool.QueryRow(t.Context(), `SELECT count(*) FILTER (WHERE valid_to IS NULL AND valid_from = $1),
			count(*) FILTER (WHERE valid_to <= $1)
		FROM dynamodb.tenure_information_history`, T2).Scan(&open, &closedBefore))
	require.Equal(t, h.RowCount(), open, "the reload's rows are the open versions, at the new T")
	require.Greater(t, closedBefore, h.RowCount(), "the previous copy's versions stay")
	_, err = asOf(t, h, T2.Add(-time.Second))
	require.ErrorContains(t, err, "is before the history")
	h.Tick(5 * time.Second)
	_, err = h.Follow()
	require.NoError(t, err)
	got, err := asOf(t, h, T2)
	require.NoError(t, err)
	require.Equal(t, state(h, h.IDs), got)
}

// TestHistory_FollowTurnsItOnOnlyOnAnUnchangedCopy: follow --history
// starts the history at T on a copy that is still its export, and refuses
// on one the stream has changed.
func TestHistory_FollowTurnsItOnOnlyOnAnUnchangedCopy(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t)
	h.Insert(5)
	h.Tick(time.Minute)
	T := h.Now()
	h.ExportAndLoad(T)
	h.Tick(time.Second)
	h.Update(h.IDs[0])
	h.Tick(5 * time.Second)
	cfg := h.FollowConfig()
	cfg.History = true
	_, err := follow.Run(t.Context(), h.Pool, cfg)
	require.NoError(t, err)
	got, err := asOf(t, h, T.Add(time.Second))
	require.NoError(t, err)
	require.Equal(t, state(h, h.IDs), got)

	h2 := reconciletest.NewHarness(t)
	h2.Insert(5)
	h2.Tick(time.Minute)
	h2.ExportAndLoad(h2.Now())
	h2.Tick(time.Second)
	h2.Update(h2.IDs[0])
	_, err = h2.Follow()
	require.NoError(t, err)
	cfg = h2.FollowConfig()
	cfg.History = true
	_, err = follow.Run(t.Context(), h2.Pool, cfg)
	require.ErrorIs(t, err, reconcile.ErrHistoryUnknown)
}
