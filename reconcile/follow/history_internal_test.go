package follow

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/store"
	"github.com/ddbsync/ddbsync/stream"
)

// historyTable is a published copy of table "H" (key id:S) holding one
// item, "a" at version 0, exported at t, with history on from t, a stream
// and one shard to apply pages of.
func historyTable(t *testing.T, pool *pgxpool.Pool, at time.Time) reconcile.Layout {
	t.Helper()
	ctx := t.Context()
	ks, err := reconcile.ParseKeySchema("id:S")
	require.NoError(t, err)
	l, err := reconcile.NewLayout("H", "", ks)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{l.Schema}.Sanitize())
	require.NoError(t, err)
	require.NoError(t, store.CreateLoadTable(ctx, pool, l, l.Ident()))
	require.NoError(t, store.AddPrimaryKey(ctx, pool, l, l.Ident(), "h_pkey"))
	vals, err := store.NewEncoder(l, store.RowColumns).Encode(hItem("a", "0"), reconcile.Provenance{Origin: reconcile.OriginExport, Time: at})
	require.NoError(t, err)
	_, err = pool.CopyFrom(ctx, l.Ident(), l.Columns(), pgx.CopyFromRows([][]any{vals}))
	require.NoError(t, err)
	require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := store.Tables.RecordPublished(ctx, tx, store.Publication{Layout: l, ExportArn: "arn:test", ExportTime: &at, Items: 1}); err != nil {
			return err
		}
		if err := store.Streams.Begin(ctx, tx, "H", "arn:stream", at.Add(-DefaultReplayMargin)); err != nil {
			return err
		}
		if err := store.Shards.Add(ctx, tx, "H", "shard-1", ""); err != nil {
			return err
		}
		return store.StartHistory(ctx, tx, l, at, 0)
	}))
	return l
}

func hItem(id, v string) ddbjson.Item {
	return ddbjson.Item{"id": &types.AttributeValueMemberS{Value: id}, "v": &types.AttributeValueMemberN{Value: v}}
}

func hChange(ev stream.EventName, seq string, at time.Time, id, v string) stream.Change {
	c := stream.Change{ShardID: "shard-1", SequenceNumber: seq, EventName: ev, ApproximateCreationTime: at,
		Keys: ddbjson.Item{"id": &types.AttributeValueMemberS{Value: id}}}
	if ev != stream.EventRemove {
		c.NewImage = hItem(id, v)
	}
	return c
}

// version is one history row, as the tests compare them.
type version struct {
	ID       string
	From     time.Time
	To       *time.Time
	Op       string
	V        *string // the item's v, nil for a removal
	Sequence *string
}

func readHistory(t *testing.T, pool *pgxpool.Pool, l reconcile.Layout) []version {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT id, valid_from, valid_to, operation, item->'v'->>'N', sequence_number::text
		FROM `+l.HistoryIdent().Sanitize()+` ORDER BY id, valid_from, sequence_number NULLS FIRST, recorded_at`)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (version, error) {
		var v version
		err := r.Scan(&v.ID, &v.From, &v.To, &v.Op, &v.V, &v.Sequence)
		return v, err
	})
	require.NoError(t, err)
	for i := range out {
		out[i].From = out[i].From.UTC()
		if out[i].To != nil {
			u := out[i].To.UTC()
			out[i].To = &u
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// TestApply_HistoryRecordsEveryChangeOnce applies a page whose changes the
// apply coalesces (three to key a, two to key b, one replayed from before
// T), then applies the same page again, as a retry after an unacknowledged
// commit does: the history holds every change once, in sequence order,
// with half-open intervals that start no earlier than T, and the replay
// adds nothing.
func TestApply_HistoryRecordsEveryChangeOnce(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := pgtest.New(t)
	T := time.Date(2026, 11, 20, 10, 0, 0, 500_000_000, time.UTC) // an export's instant has sub-second precision
	l := historyTable(t, pool, T)
	a := newApplier(l)
	a.history = newHistoryRecorder(l, T)

	sec := T.Truncate(time.Second) // the stream's times are whole seconds
	u := pageUpdate{table: "H", shardID: "shard-1", position: "106", first: sec.Add(-time.Minute), last: sec.Add(2 * time.Second),
		changes: []stream.Change{
			hChange(stream.EventModify, "100", sec.Add(-time.Minute), "a", "0"), // before T: in the export too
			hChange(stream.EventModify, "101", sec, "a", "1"),                   // T's second, after T
			hChange(stream.EventInsert, "102", sec.Add(time.Second), "b", "1"),
			hChange(stream.EventModify, "103", sec.Add(time.Second), "a", "2"), // same second as the one before
			hChange(stream.EventRemove, "104", sec.Add(2*time.Second), "b", ""),
		}}
	u.changes[4].TTL = true
	applied, ttl, err := a.apply(ctx, pool, u)
	require.NoError(t, err)
	require.EqualValues(t, 5, applied)
	require.EqualValues(t, 1, ttl)

	want := []version{
		{ID: "a", From: T, To: ptr(T), Op: store.HistoryExport, V: ptr("0")},
		{ID: "a", From: T, To: ptr(T), Op: store.HistoryModify, V: ptr("0"), Sequence: ptr("100")},
		{ID: "a", From: T, To: ptr(sec.Add(time.Second)), Op: store.HistoryModify, V: ptr("1"), Sequence: ptr("101")},
		{ID: "a", From: sec.Add(time.Second), Op: store.HistoryModify, V: ptr("2"), Sequence: ptr("103")},
		{ID: "b", From: sec.Add(time.Second), To: ptr(sec.Add(2 * time.Second)), Op: store.HistoryInsert, V: ptr("1"), Sequence: ptr("102")},
		{ID: "b", From: sec.Add(2 * time.Second), Op: store.HistoryTTLRemove, Sequence: ptr("104")},
	}
	require.Equal(t, want, readHistory(t, pool, l))

	// The same page again: the checkpoint is already there, the page's
	// transaction rolls back, history included.
	applied, _, err = a.apply(ctx, pool, u)
	require.NoError(t, err)
	require.Zero(t, applied)
	require.Equal(t, want, readHistory(t, pool, l))

	// An older page (a checkpoint moved by someone else) is refused whole.
	old := u
	old.position = "105"
	_, _, err = a.apply(ctx, pool, old)
	require.ErrorIs(t, err, errCheckpointMoved)
	require.Equal(t, want, readHistory(t, pool, l))

	// A later page closes the open versions; the history's removal of b is
	// followed by its return.
	next := pageUpdate{table: "H", shardID: "shard-1", position: "110", last: sec.Add(5 * time.Second),
		changes: []stream.Change{hChange(stream.EventInsert, "110", sec.Add(5*time.Second), "b", "3")}}
	_, _, err = a.apply(ctx, pool, next)
	require.NoError(t, err)
	got := readHistory(t, pool, l)
	require.Len(t, got, 7)
	require.Equal(t, ptr(sec.Add(5*time.Second)), got[5].To, "the removal is closed by the key's return")
	require.Equal(t, version{ID: "b", From: sec.Add(5 * time.Second), Op: store.HistoryInsert, V: ptr("3"), Sequence: ptr("110")}, got[6])
}
