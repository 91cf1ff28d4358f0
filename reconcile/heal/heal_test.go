package heal_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/heal"
	"github.com/ddbsync/ddbsync/snapshot"
	"github.com/ddbsync/ddbsync/stream"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// pitrHarness is a tenure table with point-in-time recovery on from the
// start and a bucket for its exports.
func pitrHarness(t *testing.T) *reconciletest.Harness {
	t.Helper()
	h := reconciletest.NewHarness(t)
	enablePITR(t, h)
	require.NoError(t, h.Emu.CreateBucket("exports"))
	h.Tick(time.Minute)
	return h
}

func enablePITR(t *testing.T, h *reconciletest.Harness) {
	t.Helper()
	_, err := h.DDB.UpdateContinuousBackups(t.Context(), &dynamodb.UpdateContinuousBackupsInput{
		TableName:                        aws.String(tenure.TableName),
		PointInTimeRecoverySpecification: &types.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: aws.Bool(true)},
	})
	require.NoError(t, err)
}

// healConfig heals the tenure table from the emulator; waiting moves the
// emulator's clock instead of the wall clock's.
func healConfig(h *reconciletest.Harness) heal.Config {
	return heal.Config{
		Table: tenure.TableName, API: h.DDB, S3: h.Emu.S3(), Bucket: "exports", Prefix: "heal",
		Poll: time.Millisecond, Workers: 2,
		Sleep: func(ctx context.Context, d time.Duration) error {
			h.Tick(d)
			return ctx.Err()
		},
	}
}

// churn writes to the table for d of fake time, in steps: updates, deletes,
// re-inserts and new items, then time passing.
func churn(h *reconciletest.Harness, d time.Duration, steps int) {
	for i := range steps {
		n := len(h.IDs)
		h.UpdateAll(h.IDs[(i*7)%n : (i*7)%n+3])
		h.Remove(h.IDs[(i*11+5)%n])
		h.Put(h.Gen.ItemWithID(h.IDs[(i*13+1)%n]))
		h.Insert(2)
		h.Tick(d / time.Duration(steps))
	}
}

func TestHeal_AfterTheFollowerWasAwayLongerThanTheRetention(t *testing.T) {
	t.Parallel()
	h := pitrHarness(t)
	h.Insert(40)
	h.Tick(time.Minute)
	h.ExportAndLoad(h.Now())
	churn(h, 10*time.Minute, 3)
	_, err := h.Follow()
	require.NoError(t, err)
	// Away for 30 hours while writes go on: the stream no longer has them.
	churn(h, 30*time.Hour, 6)
	_, err = h.Follow()
	require.ErrorIs(t, err, stream.ErrGap)

	res, err := heal.Run(t.Context(), h.Pool, healConfig(h))
	require.NoError(t, err)
	require.Len(t, res.Windows, 2, "30 hours take two exports of at most 24 hours")
	require.True(t, res.Windows[0].To.Equal(res.Windows[1].From))
	require.True(t, res.AsOf.Equal(res.To))
	h.RequireCopyEqualsTable()

	// Ready to follow: from the last export's end minus 5 minutes.
	churn(h, 5*time.Minute, 2)
	_, err = h.Follow()
	require.NoError(t, err)
	h.RequireCopyEqualsTable()
	var start time.Time
	require.NoError(t, h.Pool.QueryRow(t.Context(), `SELECT start_time FROM ddbsync.streams`).Scan(&start))
	require.True(t, start.Equal(res.To.Add(-5*time.Minute)), "follow starts at %s", start)
}

func TestHeal_AnExportTooOldToFollow(t *testing.T) {
	t.Parallel()
	h := pitrHarness(t)
	h.Insert(30)
	h.Tick(time.Minute)
	at := h.Now()
	h.ExportAndLoad(at)
	churn(h, 26*time.Hour, 5)
	_, err := h.Follow()
	require.ErrorIs(t, err, stream.ErrGap)

	res, err := heal.Run(t.Context(), h.Pool, healConfig(h))
	require.NoError(t, err)
	require.True(t, res.From.Equal(at), "a copy loaded from a full export is healed from its instant, %s", res.From)
	require.Len(t, res.Windows, 2)
	h.RequireCopyEqualsTable()
	_, err = h.Follow()
	require.NoError(t, err)
	h.RequireCopyEqualsTable()
}

func TestHeal_AReplacedStream(t *testing.T) {
	t.Parallel()
	h := pitrHarness(t)
	h.Insert(30)
	h.Tick(time.Minute)
	h.ExportAndLoad(h.Now())
	_, err := h.Follow()
	require.NoError(t, err)
	churn(h, 2*time.Minute, 2)
	require.NoError(t, h.Emu.DisableStream(tenure.TableName))
	churn(h, 2*time.Minute, 2) // in no stream
	_, err = h.Emu.EnableStream(tenure.TableName, string(types.StreamViewTypeNewAndOldImages))
	require.NoError(t, err)
	churn(h, 2*time.Minute, 2)
	_, err = h.Follow()
	require.ErrorIs(t, err, reconcile.ErrStreamChanged)

	// Less than 15 minutes of it are restorable past the copy yet: heal
	// waits (on the emulator's clock) for an export to be possible.
	cfg := healConfig(h)
	var waited time.Duration
	cfg.Sleep = func(ctx context.Context, d time.Duration) error {
		waited += d
		h.Tick(d)
		return ctx.Err()
	}
	res, err := heal.Run(t.Context(), h.Pool, cfg)
	require.NoError(t, err)
	require.Len(t, res.Windows, 1)
	require.Positive(t, waited)
	require.Equal(t, snapshot.MinIncrementalWindow, res.Windows[0].To.Sub(res.Windows[0].From))
	churn(h, time.Minute, 1)
	_, err = h.Follow()
	require.NoError(t, err)
	h.RequireCopyEqualsTable()
}

func TestHeal_RefusesWithoutPITR(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t)
	require.NoError(t, h.Emu.CreateBucket("exports"))
	h.Insert(10)
	h.Tick(time.Minute)
	h.ExportAndLoad(h.Now())
	h.Tick(time.Hour)
	_, err := heal.Run(t.Context(), h.Pool, healConfig(h))
	require.ErrorIs(t, err, snapshot.ErrPITRDisabled)
}

func TestHeal_RefusesAGapOlderThanPITR(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t)
	require.NoError(t, h.Emu.CreateBucket("exports"))
	h.Insert(10)
	h.Tick(time.Minute)
	at := h.Now()
	h.ExportAndLoad(at)
	h.Tick(time.Hour)
	enablePITR(t, h) // after the copy's instant: the changes in between are restorable by nothing
	h.Tick(time.Hour)
	before := h.RowCount()
	_, err := heal.Run(t.Context(), h.Pool, healConfig(h))
	var gap *reconcile.PITRGapError
	require.ErrorAs(t, err, &gap)
	require.ErrorIs(t, err, reconcile.ErrBeyondPITR)
	require.True(t, gap.From.Equal(at))
	require.Equal(t, before, h.RowCount())
}

func TestHeal_RefusesATableNotLoaded(t *testing.T) {
	t.Parallel()
	h := pitrHarness(t)
	_, err := heal.Run(t.Context(), h.Pool, healConfig(h))
	require.ErrorIs(t, err, reconcile.ErrNotLoaded)
}

func TestSync_KeepsTheCopyCurrentRoundAfterRound(t *testing.T) {
	t.Parallel()
	h := pitrHarness(t)
	h.Insert(30)
	h.Tick(time.Minute)
	h.ExportAndLoad(h.Now())
	cfg := heal.SyncConfig{Config: healConfig(h), Every: time.Hour, Rounds: 4}
	// Between rounds, an hour of writes passes on the emulator's clock.
	cfg.Sleep = func(ctx context.Context, d time.Duration) error {
		churn(h, d, 2)
		return ctx.Err()
	}
	cfg.Stats = &heal.Stats{}
	var rounds []heal.Result
	cfg.OnRound = func(r heal.Result) {
		rounds = append(rounds, r)
		h.RequireCopyEqualsTable()
	}
	churn(h, time.Hour, 2)
	require.NoError(t, heal.Sync(t.Context(), h.Pool, cfg))
	require.Len(t, rounds, 4)
	for i, r := range rounds {
		require.Len(t, r.Windows, 1)
		if i > 0 {
			require.True(t, r.From.Equal(rounds[i-1].To), "round %d starts where the last ended: no overlap, no gap", i)
		}
	}
	var w time.Time
	require.NoError(t, h.Pool.QueryRow(t.Context(), `SELECT watermark FROM ddbsync.streams WHERE stream_arn = ''`).Scan(&w))
	require.True(t, w.Equal(rounds[3].To))
	require.True(t, rounds[3].To.Equal(cfg.Stats.Watermark()))
	require.EqualValues(t, 4, cfg.Stats.Rounds.Load())
}
