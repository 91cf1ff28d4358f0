package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// DigestSet is a set of item digests ([Digest]) that may answer that it
// holds a digest it does not (a Bloom filter), but never the reverse: a
// digest it says it lacks is certainly not in it.
type DigestSet interface {
	MayContain(digest [16]byte) bool
}

// EachCopyDigest calls fn with the digest ([ColItemDigest]) of each row of
// the copy of l, in one sequential read, and returns how many it read.
func EachCopyDigest(ctx context.Context, q Querier, l Layout, fn func(digest [16]byte)) (n int64, err error) {
	rows, err := q.Query(ctx, fmt.Sprintf("SELECT %s FROM %s", storedDigestSQL(), l.Ident().Sanitize()))
	if err != nil {
		return 0, fmt.Errorf("reading the copy's digests: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var d pgtype.UUID
		if err := rows.Scan(&d); err != nil {
			return n, fmt.Errorf("reading the copy's digests: %w", err)
		}
		n++
		fn(d.Bytes)
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("reading the copy's digests: %w", err)
	}
	return n, nil
}

// storedDigestSQL is a copy's row's digest: the stored one, or for a row
// written before the copy stored digests (migration 00013 added the column
// to such copies, empty), the digest computed as the triggers would have.
func storedDigestSQL() string {
	return "coalesce(" + pgx.Identifier{ColItemDigest}.Sanitize() + ", " + DigestSQL(ColItem) + ")"
}

// EstimateRows is the planner's estimate of the rows of the copy of l, 0
// when it has none yet (a copy never analyzed): unlike [ItemCount], it
// never reads the table.
func EstimateRows(ctx context.Context, q Querier, l Layout) (int64, error) {
	var n float64
	if err := q.QueryRow(ctx, `SELECT coalesce(max(reltuples), 0) FROM pg_class WHERE oid = to_regclass($1)`,
		l.Ident().Sanitize()).Scan(&n); err != nil {
		return 0, fmt.Errorf("estimating the copy's rows: %w", err)
	}
	return max(int64(n), 0), nil
}
