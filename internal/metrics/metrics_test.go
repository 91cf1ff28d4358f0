package metrics

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/reconcile/follow"
)

func TestRegistry_VerifyMetricsAndReadiness(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	r := NewRegistry()
	r.now = func() time.Time { return now }
	verified := &follow.Stats{Verify: &follow.VerifyStats{}}
	verified.Verify.Checked.Store(120)
	verified.Verify.Mismatches.Store(1)
	verified.Verify.Unresolved.Store(1)
	verified.Verify.LastCheckNanos.Store(now.UnixNano())
	r.Follow("Quiet", &follow.Stats{})
	r.Follow("Verified", verified)

	rec := httptest.NewRecorder()
	r.Handler(time.Minute).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	require.Contains(t, body, `ddbsync_verify_checked_total{table="Verified"} 120`)
	require.Contains(t, body, `ddbsync_verify_mismatches_total{table="Verified"} 1`)
	require.Contains(t, body, `ddbsync_verify_last_check_timestamp_seconds{table="Verified"} `)
	require.NotContains(t, body, `ddbsync_verify_checked_total{table="Quiet"}`, "only tables that verify")

	err := r.Ready(time.Minute)
	require.ErrorContains(t, err, "verification found the copy differs from DynamoDB (see ddbsync.verifications): Verified (1 keys)")
	rec = httptest.NewRecorder()
	r.Handler(time.Minute).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Contains(t, rec.Body.String(), "Verified (1 keys)")

	// Repaired, or found matching since: no longer held against readiness
	// (the tables have no watermark here, which still is).
	verified.Verify.Unresolved.Store(0)
	err = r.Ready(time.Minute)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "verification")
}
