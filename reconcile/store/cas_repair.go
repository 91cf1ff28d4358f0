package store

import (
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// SeenRow is a data table row as a comparison saw it: the version a
// compare-and-set repair must still find. Present false is a key without a
// row; its tombstone, as seen, is then part of the version.
type SeenRow struct {
	Present    bool
	Item       []byte // the lossless item, as jsonb text
	Origin     string
	OriginTime *time.Time
	ShardID    *string
	Sequence   *string // numeric, as text
	// TombSequence is the sequence number of the key's tombstone as seen
	// (nil: none), whether or not the row is present.
	TombSequence *string
}

// CASRepair is one compare-and-set repair of a key: write Image (or, for
// an extra row, delete the row) only if the row is still as Seen. A repair
// comes from a diff (DiffID) or a verification (VerificationID): exactly
// one is set.
type CASRepair struct {
	Table string // the DynamoDB table (its tombstones, the repair's record)
	Key   map[string]types.AttributeValue
	Kind  FindingKind
	Seen  SeenRow
	// Image is the source's item, nil for an extra row; Prov its provenance.
	Image map[string]types.AttributeValue
	Prov  Provenance

	DiffID         int64
	VerificationID int64
	// History records the repair as a version in the table's history
	// ([StartHistory]): set it when the table has history on.
	History bool
}

// QueueCASRepair queues on b one statement that repairs w's key if its row
// is still the version w.Seen describes, and records the repair in
// ddbsync.repairs (images before and after); it affects one row when it
// did both, none when the row had changed. The version is the row's item
// and provenance (origin, origin_time, shard_id, sequence_number): a
// stream change applied since the comparison always brings a sequence
// number of its own. A missing row must still be missing, and its key's
// tombstone as it was: a stream removal since then leaves the row
// missing, yet newer than the source.
//
// Run it in a transaction holding the table's apply lock exclusive
// ([LockApplyExclusive]), so no page of stream changes is half applied.
// The caller must have allowed w.Prov.Origin ([AllowOrigin]).
func (l Layout) QueueCASRepair(b *pgx.Batch, w CASRepair) error {
	if (w.DiffID == 0) == (w.VerificationID == 0) {
		return fmt.Errorf("repairing a key: give a diff or a verification, not %d and %d", w.DiffID, w.VerificationID)
	}
	key, err := l.Key.KeyOf(w.Key)
	if err != nil {
		return err
	}
	keyJSON, err := ddbjson.EncodeItem(key)
	if err != nil {
		return err
	}
	keyVals := make([]any, len(l.KeyColumns))
	if err := l.KeyValues(key, keyVals); err != nil {
		return err
	}
	var p casParams
	var stmt string
	var after []byte
	switch w.Kind {
	case FindingMissing, FindingDifferent:
		if w.Image == nil {
			return fmt.Errorf("repairing key %s (%s): no image to write", keyJSON, w.Kind)
		}
		vals, err := NewEncoder(l, RowColumns).Encode(w.Image, w.Prov)
		if err != nil {
			return fmt.Errorf("repairing key %s: %w", keyJSON, err)
		}
		n := len(l.KeyColumns)
		after = vals[n].([]byte)
		if w.Kind == FindingMissing {
			if w.Seen.Present {
				return fmt.Errorf("repairing key %s: a missing row seen present", keyJSON)
			}
			sel := make([]string, 0, len(vals))
			for i, v := range vals {
				sel = append(sel, p.add(v, l.columnType(i)))
			}
			stmt = fmt.Sprintf(`INSERT INTO %s (%s) SELECT %s
				WHERE NOT EXISTS (SELECT 1 FROM ddbsync.tombstones t WHERE t.table_name = %s AND t.key = %s
					AND t.sequence_number IS DISTINCT FROM %s)
				ON CONFLICT (%s) DO NOTHING RETURNING 1`,
				l.Ident().Sanitize(), strings.Join(quoteAll(l.Columns()), ", "), strings.Join(sel, ", "),
				p.add(w.Table, "text"), p.add(keyJSON, "jsonb"), p.add(w.Seen.TombSequence, "text::numeric"),
				strings.Join(l.QuotedKeyColumns(), ", "))
			break
		}
		var set []string
		cols := quoteAll(l.Columns())
		for i := n; i < len(vals); i++ {
			set = append(set, cols[i]+" = "+p.add(vals[i], l.columnType(i)))
		}
		set = append(set, pgx.Identifier{ColSyncedAt}.Sanitize()+" = now()")
		stmt = fmt.Sprintf("UPDATE %s SET %s WHERE %s RETURNING 1", l.Ident().Sanitize(), strings.Join(set, ", "),
			l.seenWhere(&p, keyVals, w.Seen))
	case FindingExtra:
		stmt = fmt.Sprintf("DELETE FROM %s WHERE %s RETURNING 1", l.Ident().Sanitize(), l.seenWhere(&p, keyVals, w.Seen))
	default:
		return fmt.Errorf("repairing key %s: unknown kind %q", keyJSON, w.Kind)
	}
	if w.Kind != FindingMissing && !w.Seen.Present {
		return fmt.Errorf("repairing key %s (%s): no row seen", keyJSON, w.Kind)
	}
	var before []byte
	if w.Seen.Present {
		before = w.Seen.Item
	}
	var diffID, verID any
	if w.DiffID != 0 {
		diffID = w.DiffID
	} else {
		verID = w.VerificationID
	}
	var hist string
	if w.History {
		hist = l.historyRepairCTEs(&p, w.Table, keyVals, after, "w")
	}
	sql := fmt.Sprintf(`WITH w AS (%s)%s
		INSERT INTO ddbsync.repairs (diff_id, verification_id, table_name, key, kind, before, after)
		SELECT %s, %s, %s, %s, %s, %s, %s FROM w`, stmt, hist,
		p.add(diffID, "bigint"), p.add(verID, "bigint"), p.add(w.Table, "text"), p.add(keyJSON, "jsonb"),
		p.add(string(w.Kind), "text"), p.add(nullBytes(before), "jsonb"), p.add(nullBytes(after), "jsonb"))
	b.Queue(sql, p.args...)
	return nil
}

// seenWhere is the condition that the row at key is still seen's version.
func (l Layout) seenWhere(p *casParams, keyVals []any, seen SeenRow) string {
	var conds []string
	for i, c := range l.QuotedKeyColumns() {
		conds = append(conds, c+" = "+p.add(keyVals[i], l.columnType(i)))
	}
	conds = append(conds,
		"item = "+p.add(nullBytes(seen.Item), "jsonb"),
		"origin = "+p.add(seen.Origin, "text"),
		"origin_time IS NOT DISTINCT FROM "+p.add(seen.OriginTime, "timestamptz"),
		"shard_id IS NOT DISTINCT FROM "+p.add(seen.ShardID, "text"),
		"sequence_number IS NOT DISTINCT FROM "+p.add(seen.Sequence, "text::numeric"))
	return strings.Join(conds, " AND ")
}

// columnType is the SQL type of the i-th of [Layout.Columns], for a
// parameter's cast.
func (l Layout) columnType(i int) string {
	if i < len(l.KeyColumns) {
		return pgType(ddbjson.ScalarType(l.Key.Attributes()[i].Type))
	}
	switch l.Columns()[i] {
	case ColItem, ColDoc:
		return "jsonb"
	case ColOriginTime:
		return "timestamptz"
	case ColSequence:
		return "numeric"
	case ColItemDigest:
		return "uuid"
	}
	return "text"
}

// casParams numbers a statement's parameters, each with its cast.
type casParams struct{ args []any }

func (p *casParams) add(v any, typ string) string {
	p.args = append(p.args, v)
	return fmt.Sprintf("$%d::%s", len(p.args), typ)
}

func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}
