package follow

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Verification (`follow --verify`): while it follows, a follower reads a
// few keys at a time from DynamoDB with strongly consistent reads and,
// once W shows every change that read could have seen is applied, compares
// them with the copy. It is the watermark's promise checked from the other
// side: a change lost on its way (or a row changed behind ddbsync's back)
// shows as a mismatch. verify_run.go says how.

// BatchGetAPI is the DynamoDB call verification makes. *dynamodb.Client
// satisfies it.
type BatchGetAPI interface {
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// MismatchAction is what a follower does about a mismatch, besides
// recording it (ddbsync.verifications), counting it and logging it.
type MismatchAction string

// The mismatch actions.
const (
	// OnMismatchLog only records, counts and logs it (the default).
	OnMismatchLog MismatchAction = "log"
	// OnMismatchStop ends the follow with an error matching
	// [reconcile.ErrInconsistent].
	OnMismatchStop MismatchAction = "stop"
	// OnMismatchRepair writes DynamoDB's image with a compare-and-set on
	// the row as compared, and records the repair (ddbsync.repairs).
	OnMismatchRepair MismatchAction = "repair"
)

// ParseMismatchAction parses log, stop or repair.
func ParseMismatchAction(s string) (MismatchAction, error) {
	switch a := MismatchAction(s); a {
	case OnMismatchLog, OnMismatchStop, OnMismatchRepair:
		return a, nil
	}
	return "", fmt.Errorf("%q: want log, stop or repair", s)
}

// Verification's settings, and what they are for.
const (
	// RecommendedVerifyRate is the rate to turn verification on at. At 60
	// keys a minute, half of them random rows of the copy, a copy with
	// 0.1% of its rows wrong shows a mismatch within the hour with odds of
	// 1 − 0.999^1800 ≈ 83%, and within a day almost surely; keys of recent
	// stream changes are checked besides. With items up to 4 KB it reads
	// one unit of capacity a second.
	RecommendedVerifyRate = 60.0
	// RecommendedVerifyRCU caps the read capacity verification may use,
	// per second: 5 covers 60 keys a minute of items up to 20 KB.
	RecommendedVerifyRCU = 5.0
	// DefaultVerifyWindow is the in-flight window: a key whose row changed
	// at or after the read minus this is skipped, and a comparison waits
	// for W to pass the read's end plus this. It covers the stream's
	// second-rounded times and the skew between this host's clock and
	// DynamoDB's.
	DefaultVerifyWindow = 10 * time.Second
	// verifyMaxBatch is BatchGetItem's limit, and the most keys a round
	// reads.
	verifyMaxBatch = 100
	// verifyMaxPending bounds the keys read and waiting for W.
	verifyMaxPending = 1000
	// verifyRecentKeys is how many keys of recent stream changes are kept
	// to sample from.
	verifyRecentKeys = 1024
	// verifyRecheck is the most mismatched keys re-read in a round, until
	// they match; verifyMaxUnresolved the most kept to re-read.
	verifyRecheck       = 25
	verifyMaxUnresolved = 10000
	// verifyFlushEvery is how often the totals of rounds that found no
	// mismatch are written to ddbsync.verify_totals (a round that found
	// one writes them at once, with the mismatch).
	verifyFlushEvery = 10 * time.Second
)

// VerifyConfig configures verification (see [Config].Verify). The zero
// value is off.
type VerifyConfig struct {
	// KeysPerMinute is how many keys are read and compared a minute, on
	// [Config].Now's clock (0: verification off). Half come from the
	// copy at random, half from the keys of recent stream changes, so
	// extra and missing rows are both found; mismatched keys are re-read
	// first, until they match.
	KeysPerMinute float64
	// Client reads the items (BatchGetItem, ConsistentRead). Required
	// when on.
	Client BatchGetAPI
	// MaxRCU caps the read capacity consumed per second (0: no cap), as
	// ConsumedCapacity reports it (one unit per 4 KB of each item when the
	// server reports none).
	MaxRCU float64
	// Window is the in-flight window (default [DefaultVerifyWindow]).
	Window time.Duration
	// OnMismatch is what to do about a mismatch (default [OnMismatchLog]).
	OnMismatch MismatchAction
	// Ticks, when set, paces verification: a round on each tick (each
	// compares the reads W now covers, then reads the keys the rate has
	// earned since the last round). Default: a tick every second.
	Ticks <-chan time.Time
}

func (c VerifyConfig) on() bool { return c.KeysPerMinute > 0 }

func (c *VerifyConfig) defaults() error {
	if !c.on() {
		if c.KeysPerMinute < 0 {
			return errors.New("follow: verification rate must not be negative")
		}
		return nil
	}
	if c.Client == nil {
		return errors.New("follow: verification without a DynamoDB client")
	}
	if c.MaxRCU < 0 {
		return errors.New("follow: verification RCU cap must not be negative")
	}
	if c.Window <= 0 {
		c.Window = DefaultVerifyWindow
	}
	if c.OnMismatch == "" {
		c.OnMismatch = OnMismatchLog
	}
	if _, err := ParseMismatchAction(string(c.OnMismatch)); err != nil {
		return fmt.Errorf("follow: on mismatch %w", err)
	}
	return nil
}

// VerifyStats are verification's running totals ([Stats].Verify), safe to
// read while it runs.
type VerifyStats struct {
	Rounds     atomic.Int64 // rounds done (one a tick)
	Read       atomic.Int64 // keys read from DynamoDB
	Checked    atomic.Int64 // keys compared (not in flight)
	InFlight   atomic.Int64 // keys read, then skipped: their row changed at or after the read minus the window
	Mismatches atomic.Int64
	Repaired   atomic.Int64 // mismatches repaired (OnMismatchRepair)
	Superseded atomic.Int64 // mismatches left alone: the stream changed the row since the compare
	ReadErrors atomic.Int64 // rounds whose read or comparison failed (retried later)
	// Unresolved is how many mismatched keys are neither repaired nor
	// found matching since.
	Unresolved atomic.Int64
	MilliRCU   atomic.Int64 // read capacity consumed, in thousandths
	// LastCheckNanos is when keys were last compared, in Unix nanoseconds
	// (0: never); see [VerifyStats.LastCheck].
	LastCheckNanos atomic.Int64
}

// LastCheck is when keys were last compared (zero: never).
func (s *VerifyStats) LastCheck() time.Time {
	n := s.LastCheckNanos.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
