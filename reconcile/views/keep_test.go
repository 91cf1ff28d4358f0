package views_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile/store"
	"github.com/ddbsync/ddbsync/reconcile/views"
)

// TestRefresh_AFollowThatAddsAnAttribute: the stream brings a new
// attribute and a wider type (endOfTenureDate, a date, becomes a
// timestamp); the follower's refresh appends the column and widens the
// other, and the view reads every row.
func TestRefresh_AFollowThatAddsAnAttribute(t *testing.T) {
	h := reconciletest.NewHarness(t)
	h.Insert(20)
	h.Tick(time.Second)
	h.ExportAndLoad(h.Now())
	cfg := views.Config{Table: tenure.TableName, Sample: -1}
	_, err := views.Run(t.Context(), h.Pool, cfg)
	require.NoError(t, err)
	var typ string
	require.NoError(t, h.Pool.QueryRow(t.Context(), `SELECT format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = 'analytics.tenure_information'::regclass AND attname = 'end_of_tenure_date'`).Scan(&typ))
	require.Equal(t, "date", typ)

	since, err := store.DatabaseNow(t.Context(), h.Pool)
	require.NoError(t, err)
	next, wrote, err := views.Refresh(t.Context(), h.Pool, cfg, since)
	require.NoError(t, err)
	require.False(t, wrote, "nothing written since: nothing to do")
	require.False(t, next.IsZero())

	h.Tick(time.Second)
	item := h.Gen.Item()
	item["riskFlag"] = &types.AttributeValueMemberBOOL{Value: true}
	h.Put(item)
	for _, id := range h.IDs[:5] {
		cur := h.Get(id)
		cur["endOfTenureDate"] = &types.AttributeValueMemberS{Value: "2025-03-04T10:00:00.0000000Z"}
		h.Put(cur)
	}
	h.Tick(time.Second)
	_, err = h.Follow()
	require.NoError(t, err)

	_, wrote, err = views.Refresh(t.Context(), h.Pool, cfg, since)
	require.NoError(t, err)
	require.True(t, wrote)
	var flagged, rows, ended int
	require.NoError(t, h.Pool.QueryRow(t.Context(), `SELECT count(*) FILTER (WHERE risk_flag), count(*),
		count(*) FILTER (WHERE end_of_tenure_date = '2025-03-04T10:00:00Z') FROM analytics.tenure_information`).Scan(&flagged, &rows, &ended))
	require.Equal(t, 1, flagged)
	require.Equal(t, 21, rows)
	require.Equal(t, 5, ended)
	require.NoError(t, h.Pool.QueryRow(t.Context(), `SELECT format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = 'analytics.tenure_information'::regclass AND attname = 'end_of_tenure_date'`).Scan(&typ))
	require.Equal(t, "timestamp with time zone", typ, "date widened to timestamptz")
}
