package scenario

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/reconcile/heal"
)

// The heal kind: the follower stays away past the stream's retention, the
// follow refuses, and `heal` fills the gap with incremental exports
// instead of a new full export.

// healBucket is where the heal kind's incremental exports go.
const healBucket = "heal-exports"

// prepareHeal turns point-in-time recovery on before the first write, so
// that it reaches back to every gap, makes a bucket for the exports, and
// lets ten minutes pass before the workload starts, so that no instant the
// copy may start from predates it.
func (e *env) prepareHeal() {
	e.t.Helper()
	_, err := e.ddb.UpdateContinuousBackups(e.t.Context(), &dynamodb.UpdateContinuousBackupsInput{
		TableName:                        aws.String(tableName),
		PointInTimeRecoverySpecification: &types.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: aws.Bool(true)},
	})
	e.must(err, "enabling point-in-time recovery")
	e.must(e.emu.CreateBucket(healBucket), "creating the exports' bucket")
	e.advance(10 * time.Minute)
}

// runHeal follows, stays away for plan.Away (past the retention) while
// writes go on, and follows again: the follow must refuse, applying
// nothing. `heal` must then leave the copy exactly the table as of its last
// export's end, and a follow must bring it to the present.
func (e *env) runHeal() {
	e.t.Helper()
	e.clearFaults()
	if _, err := e.follow("follow before going away"); err != nil {
		e.followErr(err, "follow before going away")
	}
	e.checkWatermark("before going away")
	for i := range 4 {
		e.advance(e.plan.Away / 4)
		e.writes(e.r.IntN(12))
		if i == 1 && e.r.IntN(2) == 0 {
			e.shardEvent(e.r.IntN(2) == 0)
		}
	}
	before := e.pgItems()
	_, err := e.follow("follow after being away")
	if !isGap(err) {
		e.fail("away %s past the retention: the follow must refuse with a gap; got %v", e.plan.Away, err)
	}
	e.requireUnchanged(before)
	e.totals.Refusals.Add(1)

	res, err := heal.Run(e.t.Context(), e.pool, heal.Config{
		Table: tableName, API: e.tables, S3: e.emu.S3(), Bucket: healBucket, Prefix: "heal",
		Poll: time.Millisecond, Workers: 1 + e.r.IntN(3),
		Sleep: func(ctx context.Context, d time.Duration) error {
			e.advance(d)
			return ctx.Err()
		},
	})
	if err != nil {
		e.fail("heal after being away %s failed: %v", e.plan.Away, err)
	}
	e.logf("healed [%s, %s) with %d exports: %d changes", res.From.Format("15:04:05"), res.To.Format("15:04:05"),
		len(res.Exports), res.Changes)
	if want := int(e.plan.Away/(24*time.Hour)) + 1; len(res.Windows) < want {
		e.fail("heal applied %d exports for a gap of more than %s", len(res.Windows), e.plan.Away)
	}
	got := e.pgItems()
	for k := range e.m.keys {
		if want := e.m.stateBefore(k, res.To); got[k] != want {
			e.fail("after heal up to %s, key %s is %q, want %q", res.To, k, got[k], want)
		}
		delete(got, k)
	}
	for k := range got {
		e.fail("after heal, key %s is in the copy but was never written", k)
	}
	e.totals.Heals.Add(1)
	// The copy is now as of the last export's end: following starts over
	// from there, as after a load.
	e.lastW, e.exportTime = time.Time{}, res.To
	e.writes(e.r.IntN(10))
	e.finish()
}

// stateBefore is the key's state as an incremental export ending at t sees
// it: the last write before t ("" for absent).
func (m *model) stateBefore(key string, t time.Time) string {
	enc := ""
	for _, v := range m.keys[key] {
		if v.at.Before(t) {
			enc = v.enc
		}
	}
	return enc
}
