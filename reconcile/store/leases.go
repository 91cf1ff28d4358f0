package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Leases is ddbsync.leases and ddbsync.followers: the shards that the
// processes of a shared follow (`follow --shared`) read, who reads each,
// and the fencing token every page of changes is checked against. Expiry is
// judged on the database's clock, the one clock every process shares.
var Leases leasesAccessor

type leasesAccessor struct{}

// ErrLeaseLost is a page of changes refused because its reader no longer
// holds the shard's lease with the counter it took it with: another process
// took the shard over, and reads it from the checkpoint on.
var ErrLeaseLost = errors.New("the shard's lease was taken over by another follower")

// Lease is one shard held by owner; Counter is the fencing token.
type Lease struct {
	Shard   string
	Owner   string
	Counter int64
}

// readyShards selects the shards of table $1 that may be read now: not
// finished, not at a gap, and whose parent is finished or unknown (parents
// before children, whoever read the parent).
const readyShards = `SELECT s.table_name, s.shard_id FROM ddbsync.shards s
	LEFT JOIN ddbsync.shards p ON p.table_name = s.table_name AND p.shard_id = s.parent_shard_id
	WHERE s.table_name = $1 AND s.state IN ('pending', 'reading') AND (p.shard_id IS NULL OR p.state = 'finished')`

func interval(d time.Duration) string {
	return fmt.Sprintf("%d milliseconds", max(1, d.Milliseconds()))
}

// Join records owner as a live follower of table for d, and seeds every
// shard's proven_until with the published watermark, which every shard
// proves: shards read before the follow was shared then bound W where it is.
func (leasesAccessor) Join(ctx context.Context, q Querier, table, owner string, d time.Duration) error {
	if _, err := q.Exec(ctx, `UPDATE ddbsync.shards s SET proven_until = w.watermark FROM ddbsync.streams w
		WHERE w.table_name = $1 AND s.table_name = $1 AND w.watermark IS NOT NULL
		AND (s.proven_until IS NULL OR s.proven_until < w.watermark)`, table); err != nil {
		return fmt.Errorf("table %s: seeding the shards' proven times: %w", table, err)
	}
	_, err := Leases.Renew(ctx, q, table, owner, d)
	return err
}

// Renew extends owner's life as a follower of table, and each lease it
// still holds, by d from now, whether or not they had expired: a lease
// nobody took is still owner's, and its counter unchanged. It returns the
// leases owner holds; a shard missing from them was taken over.
func (leasesAccessor) Renew(ctx context.Context, q Querier, table, owner string, d time.Duration) ([]Lease, error) {
	if _, err := q.Exec(ctx, `INSERT INTO ddbsync.followers (table_name, owner, expires_at) VALUES ($1, $2, now() + $3::interval)
		ON CONFLICT (table_name, owner) DO UPDATE SET renewed_at = now(), expires_at = EXCLUDED.expires_at`,
		table, owner, interval(d)); err != nil {
		return nil, fmt.Errorf("table %s: renewing follower %s: %w", table, owner, err)
	}
	rows, err := q.Query(ctx, `UPDATE ddbsync.leases SET renewed_at = now(), expires_at = now() + $3::interval
		WHERE table_name = $1 AND owner = $2 RETURNING shard_id, owner, counter`, table, owner, interval(d))
	if err != nil {
		return nil, fmt.Errorf("table %s: renewing the leases of %s: %w", table, owner, err)
	}
	return collectLeases(rows)
}

func collectLeases(rows pgx.Rows) ([]Lease, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Lease, error) {
		var l Lease
		return l, r.Scan(&l.Shard, &l.Owner, &l.Counter)
	})
}

// Census is what a follower balances its share by.
type Census struct {
	Live  int            // live followers of the table, the asker included
	Ready int            // shards that may be read now
	Held  map[string]int // live leases of ready shards, by owner
}

// Count returns table's census.
func (leasesAccessor) Count(ctx context.Context, q Querier, table string) (Census, error) {
	c := Census{Held: map[string]int{}}
	if err := q.QueryRow(ctx, `SELECT (SELECT count(*) FROM ddbsync.followers WHERE table_name = $1 AND expires_at > now()),
		(SELECT count(*) FROM (`+readyShards+`) r)`, table).Scan(&c.Live, &c.Ready); err != nil {
		return c, fmt.Errorf("table %s: counting followers and shards: %w", table, err)
	}
	rows, err := q.Query(ctx, `SELECT l.owner, count(*) FROM ddbsync.leases l JOIN (`+readyShards+`) r USING (table_name, shard_id)
		WHERE l.expires_at > now() GROUP BY l.owner`, table)
	if err != nil {
		return c, fmt.Errorf("table %s: counting leases: %w", table, err)
	}
	defer rows.Close()
	for rows.Next() {
		var owner string
		var n int
		if err := rows.Scan(&owner, &n); err != nil {
			return c, err
		}
		c.Held[owner] = n
	}
	return c, rows.Err()
}

// Take leases up to n ready shards of table to owner for d: shards never
// leased, then shards whose lease expired (a dead or stalled peer's; the
// counter grows, which fences the former owner off). A lease whose row a
// page in flight holds is skipped, to be taken at a later call.
func (leasesAccessor) Take(ctx context.Context, q Querier, table, owner string, d time.Duration, n int) ([]Lease, error) {
	if n <= 0 {
		return nil, nil
	}
	rows, err := q.Query(ctx, `INSERT INTO ddbsync.leases (table_name, shard_id, owner, expires_at)
		SELECT r.table_name, r.shard_id, $2, now() + $3::interval FROM (`+readyShards+`) r
		WHERE NOT EXISTS (SELECT 1 FROM ddbsync.leases l WHERE l.table_name = r.table_name AND l.shard_id = r.shard_id)
		ORDER BY r.shard_id LIMIT $4
		ON CONFLICT DO NOTHING RETURNING shard_id, owner, counter`, table, owner, interval(d), n)
	if err != nil {
		return nil, fmt.Errorf("table %s: taking free shards: %w", table, err)
	}
	taken, err := collectLeases(rows)
	if err != nil || len(taken) >= n {
		return taken, err
	}
	rows, err = q.Query(ctx, `UPDATE ddbsync.leases l SET owner = $2, counter = l.counter + 1, taken_at = now(), renewed_at = now(),
			expires_at = now() + $3::interval
		FROM (SELECT x.shard_id FROM ddbsync.leases x JOIN (`+readyShards+`) r USING (table_name, shard_id)
			WHERE x.table_name = $1 AND x.expires_at < now() ORDER BY x.shard_id LIMIT $4 FOR UPDATE OF x SKIP LOCKED) c
		WHERE l.table_name = $1 AND l.shard_id = c.shard_id RETURNING l.shard_id, l.owner, l.counter`,
		table, owner, interval(d), n-len(taken))
	if err != nil {
		return taken, fmt.Errorf("table %s: taking expired leases: %w", table, err)
	}
	expired, err := collectLeases(rows)
	return append(taken, expired...), err
}

// Steal takes one live lease of a ready shard from peer to owner, for
// fairness: peer's page in flight, if any, commits first, and its next one
// is fenced off.
func (leasesAccessor) Steal(ctx context.Context, q Querier, table, owner, peer string, d time.Duration) ([]Lease, error) {
	rows, err := q.Query(ctx, `UPDATE ddbsync.leases l SET owner = $2, counter = l.counter + 1, taken_at = now(), renewed_at = now(),
			expires_at = now() + $3::interval
		FROM (SELECT x.shard_id FROM ddbsync.leases x JOIN (`+readyShards+`) r USING (table_name, shard_id)
			WHERE x.table_name = $1 AND x.owner = $4 ORDER BY x.shard_id DESC LIMIT 1 FOR UPDATE OF x SKIP LOCKED) c
		WHERE l.table_name = $1 AND l.shard_id = c.shard_id RETURNING l.shard_id, l.owner, l.counter`,
		table, owner, interval(d), peer)
	if err != nil {
		return nil, fmt.Errorf("table %s: taking a shard from %s: %w", table, peer, err)
	}
	return collectLeases(rows)
}

// Release lets go of owner's lease of shard (all its leases when shard is
// ""), so that a peer takes it at once rather than after it expires, and,
// with the last lease, of owner's follower row.
func (leasesAccessor) Release(ctx context.Context, q Querier, table, owner, shard string) error {
	_, err := q.Exec(ctx, `DELETE FROM ddbsync.leases WHERE table_name = $1 AND owner = $2 AND ($3 = '' OR shard_id = $3)`,
		table, owner, shard)
	if err == nil && shard == "" {
		_, err = q.Exec(ctx, `DELETE FROM ddbsync.followers WHERE table_name = $1 AND owner = $2`, table, owner)
	}
	if err != nil {
		return fmt.Errorf("table %s: releasing the leases of %s: %w", table, owner, err)
	}
	return nil
}

// Fence checks, in tx, that l still holds its shard, and keeps it so until
// tx ends: the lease row is locked FOR SHARE, so a peer taking the shard
// over waits for the page to commit, or skips the shard. The transaction
// ends by itself if it sits idle longer than idle (a stopped process must
// not hold the row, and so the shard, for ever). A reader cut off by a
// silent partition (no FIN, no RST) may leave the server mid-statement
// instead, in a COPY waiting for rows that never come, which neither the
// idle timeout nor a statement timeout ends: TCP keepalives probed from a
// third of idle on, and a user timeout of idle, make the server drop such a
// connection, and so roll the page back, within about idle of the last
// packet rather than after the system's keepalive (two hours on Linux). The
// settings are local to tx; on a Unix socket they do nothing. It returns
// [ErrLeaseLost] when the lease changed owner or counter.
func (leasesAccessor) Fence(ctx context.Context, tx pgx.Tx, table string, l Lease, idle time.Duration) error {
	ms := max(1, idle.Milliseconds())
	probeAfter := max(1, (ms/3+999)/1000) // keepalive settings are whole seconds
	probes := max(1, (ms+999)/1000)       // where TCP_USER_TIMEOUT is missing: about idle of probes a second apart
	var set string
	err := tx.QueryRow(ctx, `SELECT set_config('idle_in_transaction_session_timeout', $5, true)
			|| set_config('tcp_user_timeout', $5, true) || set_config('tcp_keepalives_idle', $6, true)
			|| set_config('tcp_keepalives_interval', '1', true) || set_config('tcp_keepalives_count', $7, true)
		FROM ddbsync.leases WHERE table_name = $1 AND shard_id = $2 AND owner = $3 AND counter = $4 FOR SHARE`,
		table, l.Shard, l.Owner, l.Counter, fmt.Sprint(ms), fmt.Sprint(probeAfter), fmt.Sprint(probes)).Scan(&set)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("shard %s (lease counter %d of %s): %w", l.Shard, l.Counter, l.Owner, ErrLeaseLost)
	}
	return err
}

// Prove publishes that every change of shard created before at is applied,
// while l holds the shard. It never moves proven_until back: each value
// published was true when it was, and stays so.
func (leasesAccessor) Prove(ctx context.Context, q Querier, table string, l Lease, at time.Time) error {
	_, err := q.Exec(ctx, `UPDATE ddbsync.shards s SET proven_until = greatest(s.proven_until, $5)
		FROM ddbsync.leases l WHERE s.table_name = $1 AND s.shard_id = $2 AND l.table_name = $1 AND l.shard_id = $2
		AND l.owner = $3 AND l.counter = $4`, table, l.Shard, l.Owner, l.Counter, at)
	return err
}

// PublishWatermark sets table's W from every shard's proven_until, as
// stream.Tracker's min-rule does for one process: W is the least
// proven_until of the shards that bound it, floored to the whole second;
// it never goes back. A shard bounds W unless it waits for an unfinished
// parent (the parent bounds it), or is finished with a child known (the
// children bound it). A bounding shard with nothing proven yet (never read,
// unleased) or at a gap holds W where it is. It returns W and the shard
// holding it, a zero time while W is unknown.
func (leasesAccessor) PublishWatermark(ctx context.Context, q Querier, table string) (time.Time, string, error) {
	var w *time.Time
	var shard *string
	err := q.QueryRow(ctx, `WITH b AS (
			SELECT s.shard_id, s.state, s.proven_until FROM ddbsync.shards s
			LEFT JOIN ddbsync.shards p ON p.table_name = s.table_name AND p.shard_id = s.parent_shard_id
			WHERE s.table_name = $1 AND CASE WHEN s.state = 'finished'
				THEN NOT EXISTS (SELECT 1 FROM ddbsync.shards c WHERE c.table_name = s.table_name AND c.parent_shard_id = s.shard_id)
				ELSE p.shard_id IS NULL OR p.state = 'finished' END
		), m AS (
			SELECT CASE WHEN bool_or(proven_until IS NULL OR state = 'gap') THEN NULL
				ELSE date_trunc('second', min(proven_until)) END AS at,
				(array_agg(shard_id ORDER BY proven_until NULLS FIRST, shard_id))[1] AS shard
			FROM b
		), u AS (
			UPDATE ddbsync.streams t SET watermark = m.at, watermark_shard = m.shard, updated_at = now() FROM m
			WHERE t.table_name = $1 AND m.at IS NOT NULL AND (t.watermark IS NULL OR m.at > t.watermark)
		)
		SELECT greatest(t.watermark, m.at), m.shard FROM ddbsync.streams t, m WHERE t.table_name = $1`, table).Scan(&w, &shard)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, "", nil
	}
	if err != nil {
		return time.Time{}, "", fmt.Errorf("table %s: publishing the watermark: %w", table, err)
	}
	var at time.Time
	var by string
	if w != nil {
		at = *w
	}
	if shard != nil {
		by = *shard
	}
	return at, by, nil
}

// FollowerStatus is one process of a shared follow, for status. The ages
// are on the database's clock, which judges the leases.
type FollowerStatus struct {
	Owner     string        `json:"owner"`
	StartedAt time.Time     `json:"started_at"`
	Renewed   string        `json:"renewed_ago"` // how long ago it last renewed
	Live      bool          `json:"live"`        // renewed within its lease duration
	Leases    []LeaseStatus `json:"leases"`
}

// LeaseStatus is one shard's lease, for status.
type LeaseStatus struct {
	Shard     string `json:"shard_id"`
	Counter   int64  `json:"counter"`
	Held      string `json:"held_for"`   // since this owner took it
	ExpiresIn string `json:"expires_in"` // negative: expired, to be taken over
}

// Followers lists table's shared follow processes and their leases.
func (leasesAccessor) Followers(ctx context.Context, q Querier, table string) ([]FollowerStatus, error) {
	rows, err := q.Query(ctx, `SELECT coalesce(f.owner, l.owner), coalesce(f.started_at, l.taken_at),
			coalesce(now() - f.renewed_at, now() - l.renewed_at), coalesce(f.expires_at > now(), false),
			l.shard_id, l.counter, now() - l.taken_at, l.expires_at - now()
		FROM ddbsync.followers f FULL JOIN ddbsync.leases l ON l.table_name = f.table_name AND l.owner = f.owner
		WHERE coalesce(f.table_name, l.table_name) = $1 ORDER BY 1, l.shard_id`, table)
	if err != nil {
		return nil, fmt.Errorf("table %s: listing followers: %w", table, err)
	}
	defer rows.Close()
	var out []FollowerStatus
	for rows.Next() {
		var fs FollowerStatus
		var renewed time.Duration
		var shard *string
		var counter *int64
		var held, expires *time.Duration
		if err := rows.Scan(&fs.Owner, &fs.StartedAt, &renewed, &fs.Live, &shard, &counter, &held, &expires); err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].Owner != fs.Owner {
			fs.Renewed = renewed.Round(time.Millisecond).String()
			out = append(out, fs)
		}
		if shard != nil {
			last := &out[len(out)-1]
			last.Leases = append(last.Leases, LeaseStatus{Shard: *shard, Counter: *counter,
				Held: held.Round(time.Millisecond).String(), ExpiresIn: expires.Round(time.Millisecond).String()})
		}
	}
	return out, rows.Err()
}
