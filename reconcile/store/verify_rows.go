package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// What `follow --verify` reads of the data table: keys to check, and the
// rows at given keys.

// SampleKeys returns the keys of up to n rows of the data table, picked at
// random. It reads a block sample (TABLESAMPLE SYSTEM) about ten times the
// size asked for, from the planner's row estimate or rowsHint, whichever
// is larger (and at least a row a page), so it costs a few pages whatever
// the table's size; rows come in clumps of a block, which the random
// order then thins out. A table of a few thousand rows is read whole.
func (l Layout) SampleKeys(ctx context.Context, q Querier, n int, rowsHint int64) ([]map[string]types.AttributeValue, error) {
	if n <= 0 {
		return nil, nil
	}
	var est float64
	// At least a row a page: a table never analyzed has no reltuples.
	if err := q.QueryRow(ctx, `SELECT greatest(reltuples, $2::float8, pg_relation_size(oid) / 8192.0) FROM pg_class
		WHERE oid = $1::regclass`,
		l.Ident().Sanitize(), float64(rowsHint)).Scan(&est); err != nil {
		return nil, err
	}
	pct := 100.0
	if want := 10 * float64(n); est > 0 && want < est && est > 5000 {
		pct = max(100*want/est, 0.0001)
	}
	args := []any{pct, n}
	var pairs []string
	for _, a := range l.Key.Attributes() {
		args = append(args, a.Name)
		pairs = append(pairs, fmt.Sprintf("$%d::text, item -> $%[1]d::text", len(args)))
	}
	rows, err := q.Query(ctx, fmt.Sprintf(`SELECT jsonb_build_object(%s)::text FROM %s TABLESAMPLE SYSTEM ($1)
		ORDER BY random() LIMIT $2`, strings.Join(pairs, ", "), l.Ident().Sanitize()), args...)
	if err != nil {
		return nil, err
	}
	raws, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	out := make([]map[string]types.AttributeValue, 0, len(raws))
	for _, raw := range raws {
		k, err := ddbjson.DecodeItem([]byte(raw))
		if err != nil {
			return nil, fmt.Errorf("decoding a sampled key %s: %w", raw, err)
		}
		out = append(out, k)
	}
	return out, nil
}

// KeyRow is the data table's row at one key, as [Layout.ReadKeys] saw it.
type KeyRow struct {
	Seen SeenRow
	// Same says the row's item equals the image given for the key (a key
	// with neither a row nor an image is the same too).
	Same bool
	// RemovedAt is when the stream last removed the key (nil: never).
	RemovedAt *time.Time
}

// ReadKeys reads the rows at keys, and their keys' tombstones, in one
// snapshot, and compares each row's item with images[i] (nil: the key has
// no item) as jsonb, exactly as a diff compares. table is the DynamoDB
// table.
func (l Layout) ReadKeys(ctx context.Context, pool *pgxpool.Pool, table string, keys, images []map[string]types.AttributeValue) ([]KeyRow, error) {
	if len(keys) != len(images) {
		return nil, fmt.Errorf("reading rows: %d keys, %d images", len(keys), len(images))
	}
	var conds []string
	for i, c := range l.QuotedKeyColumns() {
		conds = append(conds, fmt.Sprintf("c.%s = $%d::%s", c, i+4, l.columnType(i)))
	}
	sql := fmt.Sprintf(`SELECT c.item::text, c.item = $1::jsonb, c.origin, c.origin_time, c.shard_id, c.sequence_number::text,
			t.removed_at, t.sequence_number::text
		FROM (SELECT 1) one
		LEFT JOIN %s c ON %s
		LEFT JOIN ddbsync.tombstones t ON t.table_name = $2 AND t.key = $3::jsonb`, l.Ident().Sanitize(), strings.Join(conds, " AND "))
	b := &pgx.Batch{}
	for i, k := range keys {
		key, err := l.Key.KeyOf(k)
		if err != nil {
			return nil, err
		}
		keyJSON, err := ddbjson.EncodeItem(key)
		if err != nil {
			return nil, err
		}
		var image any
		if images[i] != nil {
			if image, err = ddbjson.AppendItem(nil, images[i]); err != nil {
				return nil, err
			}
		}
		args := append([]any{image, table, keyJSON}, make([]any, len(l.KeyColumns))...)
		if err := l.KeyValues(key, args[3:]); err != nil {
			return nil, err
		}
		b.Queue(sql, args...)
	}
	out := make([]KeyRow, len(keys))
	err := pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		res := tx.SendBatch(ctx, b)
		defer res.Close()
		for i := range keys {
			var item, origin *string
			var same *bool
			r := &out[i]
			if err := res.QueryRow().Scan(&item, &same, &origin, &r.Seen.OriginTime, &r.Seen.ShardID, &r.Seen.Sequence,
				&r.RemovedAt, &r.Seen.TombSequence); err != nil {
				return err
			}
			if item != nil {
				r.Seen.Present, r.Seen.Item, r.Seen.Origin = true, []byte(*item), *origin
			}
			r.Same = (item == nil && images[i] == nil) || (same != nil && *same)
		}
		return res.Close()
	})
	return out, err
}
