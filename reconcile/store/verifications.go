package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// Verifications is ddbsync.verifications, every mismatch `follow --verify`
// found, and ddbsync.verify_totals, a table's running totals.
var Verifications verificationsAccessor

type verificationsAccessor struct{}

// VerifyAction is what became of a mismatch (ddbsync.verifications.action).
type VerifyAction string

// The verify actions.
const (
	VerifyLogged     VerifyAction = "logged"     // recorded and logged only
	VerifyStopped    VerifyAction = "stopped"    // the follow stopped on it
	VerifyRepaired   VerifyAction = "repaired"   // DynamoDB's image was written
	VerifySuperseded VerifyAction = "superseded" // not repaired: the stream changed the row since the compare
)

// Verification is one mismatch.
type Verification struct {
	Table string
	Key   []byte // the key attributes, DynamoDB JSON
	Kind  FindingKind
	// DynamoDBItem is what the read returned (nil: no item); Seen the
	// copy's row as compared.
	DynamoDBItem []byte
	Seen         SeenRow
	// ReadFrom and ReadTo bound the read; Watermark is W when compared.
	ReadFrom, ReadTo, Watermark time.Time
	Window                      time.Duration
	Action                      VerifyAction
}

// Record inserts v and returns its id.
func (verificationsAccessor) Record(ctx context.Context, q Querier, v Verification) (int64, error) {
	var copyItem any
	var origin *string
	if v.Seen.Present {
		copyItem, origin = v.Seen.Item, &v.Seen.Origin
	}
	var id int64
	err := q.QueryRow(ctx, `INSERT INTO ddbsync.verifications (table_name, key, kind, dynamodb_item, copy_item, copy_origin,
			copy_origin_time, copy_shard_id, copy_sequence_number, read_from, read_to, watermark, in_flight_window, action)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text::numeric, $10, $11, $12, $13, $14) RETURNING verification_id`,
		v.Table, v.Key, string(v.Kind), nullBytes(v.DynamoDBItem), copyItem, origin, v.Seen.OriginTime, v.Seen.ShardID,
		v.Seen.Sequence, v.ReadFrom, v.ReadTo, v.Watermark, v.Window, string(v.Action)).Scan(&id)
	return id, err
}

// SetAction records what became of mismatch id.
func (verificationsAccessor) SetAction(ctx context.Context, q Querier, id int64, a VerifyAction) error {
	_, err := q.Exec(ctx, `UPDATE ddbsync.verifications SET action = $2 WHERE verification_id = $1`, id, string(a))
	return err
}

// VerifyCounts are what one round of checks adds to a table's totals.
type VerifyCounts struct {
	Checked, InFlight, Mismatches, Repaired int64
}

// AddTotals adds c to table's totals, as of at.
func (verificationsAccessor) AddTotals(ctx context.Context, q Querier, table string, c VerifyCounts, at time.Time) error {
	var lastMismatch *time.Time
	if c.Mismatches > 0 {
		lastMismatch = &at
	}
	_, err := q.Exec(ctx, `INSERT INTO ddbsync.verify_totals AS v (table_name, keys_checked, in_flight, mismatches, repaired,
			last_check_at, last_mismatch_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (table_name) DO UPDATE SET keys_checked = v.keys_checked + EXCLUDED.keys_checked,
			in_flight = v.in_flight + EXCLUDED.in_flight, mismatches = v.mismatches + EXCLUDED.mismatches,
			repaired = v.repaired + EXCLUDED.repaired,
			last_check_at = greatest(v.last_check_at, EXCLUDED.last_check_at),
			last_mismatch_at = coalesce(EXCLUDED.last_mismatch_at, v.last_mismatch_at)`,
		table, c.Checked, c.InFlight, c.Mismatches, c.Repaired, at, lastMismatch)
	return err
}

// VerifyStatus is a table's verification totals, from
// ddbsync.verify_totals.
type VerifyStatus struct {
	KeysChecked    int64      `json:"keys_checked"`
	InFlight       int64      `json:"in_flight"`
	Mismatches     int64      `json:"mismatches"`
	Repaired       int64      `json:"repaired"`
	LastCheckAt    *time.Time `json:"last_check_at,omitempty"`
	LastMismatchAt *time.Time `json:"last_mismatch_at,omitempty"`
}

// Totals returns table's totals, nil if it was never verified.
func (verificationsAccessor) Totals(ctx context.Context, q Querier, table string) (*VerifyStatus, error) {
	var v VerifyStatus
	err := q.QueryRow(ctx, `SELECT keys_checked, in_flight, mismatches, repaired, last_check_at, last_mismatch_at
		FROM ddbsync.verify_totals WHERE table_name = $1`, table).
		Scan(&v.KeysChecked, &v.InFlight, &v.Mismatches, &v.Repaired, &v.LastCheckAt, &v.LastMismatchAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &v, nil
}
