package store

import (
	"context"
	"fmt"
	"strings"
)

// RepairCandidate is a finding of a [Comparison] that is not in flight,
// with what a compare-and-set repair of it needs ([CASRepair]).
type RepairCandidate struct {
	Kind FindingKind
	Key  []byte // the key attributes, DynamoDB JSON
	// Image is the source's item (nil for an extra row); Seen the copy's
	// row as the comparison saw it.
	Image []byte
	Seen  SeenRow
}

// EachRepairCandidate calls fn with each finding not in flight, in key
// order, as the comparison's snapshot saw the copy.
func (c Comparison) EachRepairCandidate(ctx context.Context, q Querier, fn func(RepairCandidate) error) error {
	rows, err := q.Query(ctx, fmt.Sprintf(`SELECT f.kind, f.key::text, s.item::text, f.copy_item::text, f.origin, f.origin_time,
			f.shard_id, f.sequence_number::text, f.tomb_sequence::text
		FROM %s f LEFT JOIN %s s ON %s AND f.kind <> 'extra'
		WHERE NOT f.in_flight ORDER BY %s`, c.Findings.Sanitize(), c.Source.Sanitize(), c.joinOn("s", "f"),
		"f."+strings.Join(c.Layout.QuotedKeyColumns(), ", f.")))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var r RepairCandidate
		var kind, key string
		var image, copyItem, origin *string
		if err := rows.Scan(&kind, &key, &image, &copyItem, &origin, &r.Seen.OriginTime, &r.Seen.ShardID, &r.Seen.Sequence,
			&r.Seen.TombSequence); err != nil {
			return err
		}
		r.Kind, r.Key = FindingKind(kind), []byte(key)
		if image != nil {
			r.Image = []byte(*image)
		}
		if copyItem != nil {
			r.Seen.Present, r.Seen.Item = true, []byte(*copyItem)
			if origin != nil {
				r.Seen.Origin = *origin
			}
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}
