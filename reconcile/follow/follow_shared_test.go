package follow_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/emulator"
	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/follow"
	"github.com/ddbsync/ddbsync/reconcile/store"
)

// sharedLease is the lease of the shared follows of these tests: short, so
// that a takeover takes about a second.
const sharedLease = 600 * time.Millisecond

// sharedConfig is a shared follow named owner, running until stopped.
func sharedConfig(h *reconciletest.Harness, owner string) follow.Config {
	// On one clock: the tests move the emulator's, and wait for W to pass
	// the writes before comparing the copy (see FollowConfigOnEmulatorClock).
	cfg := h.FollowConfigOnEmulatorClock()
	cfg.UntilCaughtUp = false
	cfg.Shared, cfg.Owner, cfg.LeaseDuration = true, owner, sharedLease
	return cfg
}

// leasesByOwner counts the live leases of unfinished shards by owner.
func leasesByOwner(t *testing.T, pool *pgxpool.Pool) map[string]int {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT l.owner, count(*) FROM ddbsync.leases l JOIN ddbsync.shards s USING (table_name, shard_id)
		WHERE l.table_name = $1 AND l.expires_at > now() AND s.state IN ('pending', 'reading') GROUP BY l.owner`, tenure.TableName)
	require.NoError(t, err)
	out := map[string]int{}
	for rows.Next() {
		var o string
		var n int
		require.NoError(t, rows.Scan(&o, &n))
		out[o] = n
	}
	require.NoError(t, rows.Err())
	return out
}

// publishedW is the table's W in ddbsync.streams (zero: none).
func publishedW(t *testing.T, pool *pgxpool.Pool) time.Time {
	t.Helper()
	var w *time.Time
	err := pool.QueryRow(t.Context(), `SELECT watermark FROM ddbsync.streams WHERE table_name = $1`, tenure.TableName).Scan(&w)
	if !errors.Is(err, pgx.ErrNoRows) {
		require.NoError(t, err)
	}
	if w == nil {
		return time.Time{}
	}
	return *w
}

// waitW waits until the published W is at or after at.
func waitW(t *testing.T, pool *pgxpool.Pool, at time.Time) {
	t.Helper()
	require.Eventually(t, func() bool { return !publishedW(t, pool).Before(at) }, 90*time.Second, 5*time.Millisecond,
		"the shared follow's watermark did not reach %s", at)
}

// requireAppliedOnce asserts every change was applied exactly once:
// the shards' changes_applied add up to the changes made after S.
func requireAppliedOnce(t *testing.T, pool *pgxpool.Pool, changes int) {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT coalesce(sum(changes_applied), 0) FROM ddbsync.shards WHERE table_name = $1`,
		tenure.TableName).Scan(&n))
	require.Equal(t, changes, n, "changes applied, all shards together (fewer: lost; more: applied twice)")
}

func TestFollowShared_ShareShardsFairlyAndCopyExactly(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t, emulator.WithShards(8))
	h.Insert(40)
	h.Tick(time.Minute)
	h.ExportAndLoad(h.Now())
	h.Tick(time.Minute)
	h.Insert(60)
	h.UpdateAll(h.IDs[:30])
	last := h.Now()
	h.Tick(time.Minute)

	owners := []string{"a", "b", "c"}
	for _, o := range owners {
		h.FollowInBackground(sharedConfig(h, o))
	}
	require.Eventually(t, func() bool {
		by := leasesByOwner(t, h.Pool)
		total := 0
		for _, o := range owners {
			if by[o] < 2 || by[o] > 3 {
				return false
			}
			total += by[o]
		}
		return total == 8
	}, 60*time.Second, 10*time.Millisecond, "8 shards over 3 followers: 3, 3 and 2")
	st, err := reconcile.Status(t.Context(), h.Pool, tenure.TableName, h.Now())
	require.NoError(t, err)
	require.Len(t, st[0].Followers, 3, "status shows each process")
	shown := 0
	for _, f := range st[0].Followers {
		require.True(t, f.Live, f.Owner)
		shown += len(f.Leases)
	}
	require.GreaterOrEqual(t, shown, 8, "and its leases")
	waitW(t, h.Pool, last.Add(time.Second))
	h.RequireCopyEqualsTable()
	requireAppliedOnce(t, h.Pool, 130)
}

func TestFollowShared_ExcludesAFollowAlone(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t, emulator.WithShards(2))
	h.Insert(5)
	h.Tick(time.Minute)
	h.ExportAndLoad(h.Now())
	h.FollowInBackground(sharedConfig(h, "a"))
	require.Eventually(t, func() bool { return leasesByOwner(t, h.Pool)["a"] == 2 }, 60*time.Second, 10*time.Millisecond)
	cfg := h.FollowConfig()
	cfg.LockTimeout = -1
	_, err := follow.Run(t.Context(), h.Pool, cfg)
	require.ErrorContains(t, err, "another ddbsync follow of this table")

}

func TestFollowShared_ReadsParentsBeforeChildrenAcrossOwners(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t, emulator.WithShards(2))
	h.Insert(30)
	h.Tick(time.Minute)
	h.ExportAndLoad(h.Now())
	h.Tick(time.Second)
	// Each key is updated in a parent, then again in a child: a child
	// applied before its parent would leave the parent's older image last.
	h.UpdateAll(h.IDs)
	_, err := h.Emu.RolloverShards(tenure.TableName)
	require.NoError(t, err)
	h.Tick(time.Second)
	h.UpdateAll(h.IDs)
	_, err = h.Emu.RolloverShards(tenure.TableName)
	require.NoError(t, err)
	h.Tick(time.Second)
	h.UpdateAll(h.IDs[:10])
	last := h.Now()
	h.Tick(time.Minute)

	h.FollowInBackground(sharedConfig(h, "a"))
	h.FollowInBackground(sharedConfig(h, "b"))
	waitW(t, h.Pool, last.Add(time.Second))
	h.RequireCopyEqualsTable()
	requireAppliedOnce(t, h.Pool, 100)
	// No child's lease was taken before its parent had finished, whoever read it.
	var early int
	require.NoError(t, h.Pool.QueryRow(t.Context(), `SELECT count(*) FROM ddbsync.shards c JOIN ddbsync.shards p
		ON p.table_name = c.table_name AND p.shard_id = c.parent_shard_id
		WHERE c.table_name = $1 AND c.first_record_time IS NOT NULL AND p.state <> 'finished'`, tenure.TableName).Scan(&early))
	require.Zero(t, early)
}

// cuttable is a TCP path to the database that the test can cut (every
// connection closed, new ones refused: a network partition) and restore.
type cuttable struct {
	t       *testing.T
	network string
	target  string
	ln      net.Listener
	addr    string
	mu      sync.Mutex
	conns   []net.Conn
	open    bool
}

func newCuttable(t *testing.T, cc *pgconn.Config) *cuttable {
	c := &cuttable{t: t, network: "tcp", target: net.JoinHostPort(cc.Host, fmt.Sprint(cc.Port)), open: true}
	if strings.HasPrefix(cc.Host, "/") { // a Unix socket's directory
		c.network, c.target = "unix", filepath.Join(cc.Host, fmt.Sprintf(".s.PGSQL.%d", cc.Port))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	c.ln, c.addr = ln, ln.Addr().String()
	go c.serve(ln)
	t.Cleanup(func() { c.cut(); _ = ln.Close() })
	return c
}

func (c *cuttable) serve(ln net.Listener) {
	for {
		in, err := ln.Accept()
		if err != nil {
			return
		}
		c.mu.Lock()
		if !c.open {
			c.mu.Unlock()
			_ = in.Close()
			continue
		}
		out, err := net.Dial(c.network, c.target)
		if err != nil {
			c.mu.Unlock()
			_ = in.Close()
			continue
		}
		c.conns = append(c.conns, in, out)
		c.mu.Unlock()
		go func() { _, _ = io.Copy(out, in); _ = out.Close() }()
		go func() { _, _ = io.Copy(in, out); _ = in.Close() }()
	}
}

func (c *cuttable) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.open = false
	for _, conn := range c.conns {
		_ = conn.Close()
	}
	c.conns = nil
}

func (c *cuttable) restore() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.open = true
}

func TestFollowShared_TakesOverFromACutOffPeerAndFencesIt(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t, emulator.WithShards(4))
	h.Insert(20)
	h.Tick(time.Minute)
	h.ExportAndLoad(h.Now())
	h.Tick(time.Second)
	h.Insert(20)
	h.Tick(time.Second)

	pc := h.Pool.Config().Copy()
	path := newCuttable(t, &pc.ConnConfig.Config)
	host, port, err := net.SplitHostPort(path.addr)
	require.NoError(t, err)
	portN, err := strconv.Atoi(port)
	require.NoError(t, err)
	// Every way pgconn may connect goes through the path: a URL without
	// sslmode (prefer) yields a fallback without TLS to the server itself,
	// which a refused or failed TLS attempt through the path falls back to,
	// and a would then never be cut off at all.
	pc.ConnConfig.Host, pc.ConnConfig.Port = host, uint16(portN)
	for _, fb := range pc.ConnConfig.Fallbacks {
		fb.Host, fb.Port = host, uint16(portN)
	}
	poolA, err := pgxpool.NewWithConfig(t.Context(), pc)
	require.NoError(t, err)
	t.Cleanup(poolA.Close)
	cfgA := sharedConfig(h, "a")
	ctxA, stopA := context.WithCancel(context.Background())
	doneA := make(chan error, 1)
	go func() { _, err := follow.Run(ctxA, poolA, cfgA); doneA <- err }()
	t.Cleanup(func() { stopA(); <-doneA })
	h.FollowInBackground(sharedConfig(h, "b"))
	require.Eventually(t, func() bool { by := leasesByOwner(t, h.Pool); return by["a"] == 2 && by["b"] == 2 },
		60*time.Second, 10*time.Millisecond, "4 shards over 2 followers: %v", func() any {
			select {
			case err := <-doneA:
				return err
			default:
				return leasesByOwner(t, h.Pool)
			}
		}())

	// a is cut off from the database, mid-flow: b takes its shards over
	// once their leases expire, and a's pages in flight are fenced off.
	path.cut()
	cutAt := time.Now()
	pingCtx, cancelPing := context.WithTimeout(t.Context(), 10*time.Second)
	require.Error(t, poolA.Ping(pingCtx), "a has no way to the database but the path")
	cancelPing()
	h.Insert(20)
	require.Eventually(t, func() bool { return leasesByOwner(t, h.Pool)["b"] == 4 }, 60*time.Second, 5*time.Millisecond,
		"b took a's shards over")
	t.Logf("takeover %s after the cut (lease %s)", time.Since(cutAt).Round(time.Millisecond), sharedLease)
	var maxCounter int
	require.NoError(t, h.Pool.QueryRow(t.Context(), `SELECT max(counter) FROM ddbsync.leases WHERE table_name = $1`,
		tenure.TableName).Scan(&maxCounter))
	require.GreaterOrEqual(t, maxCounter, 2, "a taken-over lease has a new fencing token")

	// a comes back: it finds its leases gone, stops reading them, and
	// takes a fair share again from b.
	path.restore()
	h.Insert(20)
	h.UpdateAll(h.IDs[:20])
	last := h.Now()
	h.Tick(time.Minute)
	require.Eventually(t, func() bool { by := leasesByOwner(t, h.Pool); return by["a"] == 2 && by["b"] == 2 },
		60*time.Second, 10*time.Millisecond, "a is back and shares again")
	waitW(t, h.Pool, last.Add(time.Second))
	h.RequireCopyEqualsTable()
	requireAppliedOnce(t, h.Pool, 100)
	stopA()
	require.NoError(t, <-doneA, "a went on after the cut, and stopped cleanly")
	doneA <- nil
}

func TestFollowShared_FenceRejectsAStaleOwnersPage(t *testing.T) {
	t.Parallel()
	h := reconciletest.NewHarness(t)
	h.ExportAndLoad(h.Now())
	ctx, pool, table := t.Context(), h.Pool, tenure.TableName
	start := h.Now().Add(-5 * time.Minute)
	require.NoError(t, store.Streams.Begin(ctx, pool, table, "arn:stream", start))
	require.NoError(t, store.Shards.Add(ctx, pool, table, "shard-1", ""))
	const d = 200 * time.Millisecond
	require.NoError(t, store.Leases.Join(ctx, pool, table, "a", d))
	require.NoError(t, store.Leases.Join(ctx, pool, table, "b", d))
	taken, err := store.Leases.Take(ctx, pool, table, "a", d, 1)
	require.NoError(t, err)
	require.Equal(t, []store.Lease{{Shard: "shard-1", Owner: "a", Counter: 1}}, taken)
	leaseA := taken[0]

	// a's page is in flight when its lease expires: b cannot take the
	// shard over until the page is committed.
	txA, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer txA.Rollback(context.WithoutCancel(ctx))
	require.NoError(t, store.Leases.Fence(ctx, txA, table, leaseA, time.Minute))
	require.Eventually(t, func() bool {
		var expired bool
		require.NoError(t, pool.QueryRow(ctx, `SELECT expires_at < now() FROM ddbsync.leases WHERE table_name = $1`, table).Scan(&expired))
		return expired
	}, 10*time.Second, 10*time.Millisecond)
	taken, err = store.Leases.Take(ctx, pool, table, "b", d, 1)
	require.NoError(t, err)
	require.Empty(t, taken, "a lease whose page is in flight is skipped")
	b := &pgx.Batch{}
	store.Shards.QueueAdvance(b, store.Advance{Table: table, ShardID: "shard-1", Position: "100", Changes: 1})
	require.NoError(t, txA.SendBatch(ctx, b).Close())
	require.NoError(t, txA.Commit(ctx))

	// Then b takes it, with a new counter, and finds a's checkpoint.
	taken, err = store.Leases.Take(ctx, pool, table, "b", time.Minute, 1)
	require.NoError(t, err)
	require.Equal(t, []store.Lease{{Shard: "shard-1", Owner: "b", Counter: 2}}, taken)
	leaseB := taken[0]
	at, err := store.Shards.AtPosition(ctx, pool, table, "shard-1", "100")
	require.NoError(t, err)
	require.True(t, at)

	// a's next page is refused, and b's goes through.
	txStale, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer txStale.Rollback(context.WithoutCancel(ctx))
	require.ErrorIs(t, store.Leases.Fence(ctx, txStale, table, leaseA, time.Minute), store.ErrLeaseLost)
	txB, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer txB.Rollback(context.WithoutCancel(ctx))
	require.NoError(t, store.Leases.Fence(ctx, txB, table, leaseB, time.Minute))
	require.NoError(t, txB.Commit(ctx))

	// Only the holder's proven time counts, and W is their minimum; a
	// pending shard nobody read holds W where it is.
	require.NoError(t, store.Leases.Prove(ctx, pool, table, leaseA, start.Add(time.Hour)))
	w, _, err := store.Leases.PublishWatermark(ctx, pool, table)
	require.NoError(t, err)
	require.True(t, w.IsZero(), "a stale owner's proof is ignored")
	require.NoError(t, store.Leases.Prove(ctx, pool, table, leaseB, start.Add(90*time.Second+300*time.Millisecond)))
	w, by, err := store.Leases.PublishWatermark(ctx, pool, table)
	require.NoError(t, err)
	require.Equal(t, start.Add(90*time.Second).UTC(), w.UTC(), "floored to the second")
	require.Equal(t, "shard-1", by)
	require.NoError(t, store.Shards.Add(ctx, pool, table, "shard-2", ""))
	require.NoError(t, store.Leases.Prove(ctx, pool, table, leaseB, start.Add(time.Hour)))
	w, by, err = store.Leases.PublishWatermark(ctx, pool, table)
	require.NoError(t, err)
	require.Equal(t, start.Add(90*time.Second).UTC(), w.UTC(), "an unread shard holds W")
	require.Equal(t, "shard-2", by)
}
