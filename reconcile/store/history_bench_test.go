package store_test

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/reconcile/store"
)

// BenchmarkAsOf measures one as-of query over a history of
// DDBSYNC_BENCH_KEYS keys (default 1,000,000) with 10 versions each, one an
// hour from T, items of about 300 bytes: the whole table as of the middle
// of the history, read through the as-of function. It logs the plan of the
// function's query and the history's size per version.
//
//	go test ./reconcile/store -run '^$' -bench BenchmarkAsOf -benchtime 3x -timeout 60m
func BenchmarkAsOf(b *testing.B) {
	keys := 1_000_000
	if s := os.Getenv("DDBSYNC_BENCH_KEYS"); s != "" {
		var err error
		keys, err = strconv.Atoi(s)
		require.NoError(b, err)
	}
	ctx := b.Context()
	pool := pgtest.New(b)
	ks, err := store.ParseKeySchema("id:S")
	require.NoError(b, err)
	l, err := store.NewLayout("AsOfBench", "", ks)
	require.NoError(b, err)
	T := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err = pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{l.Schema}.Sanitize())
	require.NoError(b, err)
	require.NoError(b, store.CreateLoadTable(ctx, pool, l, l.Ident()))
	require.NoError(b, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := store.Tables.RecordPublished(ctx, tx, store.Publication{Layout: l, ExportArn: "arn:bench", ExportTime: &T}); err != nil {
			return err
		}
		if err := store.Streams.Begin(ctx, tx, l.Table, "arn:stream", T); err != nil {
			return err
		}
		if err := store.Streams.SetWatermark(ctx, tx, l.Table, T.Add(10*time.Hour), ""); err != nil {
			return err
		}
		return store.StartHistory(ctx, tx, l, T, 0)
	}))
	start := time.Now()
	// Versions v = 0..9 of each key, each valid for an hour; the last open.
	_, err = pool.Exec(ctx, `INSERT INTO `+l.HistoryIdent().Sanitize()+` (id, valid_from, valid_to, operation, item, shard_id, sequence_number)
		SELECT 'key-' || lpad(k::text, 7, '0'), $1::timestamptz + v * interval '1 hour',
			CASE WHEN v < 9 THEN $1::timestamptz + (v + 1) * interval '1 hour' END,
			CASE WHEN v = 0 THEN 'export' ELSE 'modify' END,
			jsonb_build_object('id', jsonb_build_object('S', 'key-' || lpad(k::text, 7, '0')), 'versionNumber', jsonb_build_object('N', v::text),
				'address', jsonb_build_object('S', repeat('Flat 12 Pembury House Dalston Lane London E8 1LQ ', 4)),
				'balance', jsonb_build_object('N', (k * 7 % 1000)::text)),
			CASE WHEN v > 0 THEN 'shardId-000001' END, CASE WHEN v > 0 THEN (k::numeric * 100 + v) END
		FROM generate_series(1, $2::int) k, generate_series(0, 9) v`, T, keys)
	require.NoError(b, err)
	_, err = pool.Exec(ctx, `VACUUM ANALYZE `+l.HistoryIdent().Sanitize())
	require.NoError(b, err)
	var bytes int64
	require.NoError(b, pool.QueryRow(ctx, `SELECT pg_total_relation_size($1::regclass)`, l.HistoryIdent().Sanitize()).Scan(&bytes))
	b.Logf("history of %d keys × 10 versions written and indexed in %s; %d bytes, %.0f bytes a version",
		keys, time.Since(start).Round(time.Second), bytes, float64(bytes)/float64(keys*10))

	ts := T.Add(4*time.Hour + 30*time.Minute)
	rows, err := pool.Query(ctx, `EXPLAIN SELECT h.id, h.item FROM `+l.HistoryIdent().Sanitize()+` h
		WHERE tstzrange(h.valid_from, h.valid_to, '[)') @> $1::timestamptz AND h.item IS NOT NULL`, ts)
	require.NoError(b, err)
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(b, err)
	b.Logf("plan:\n%s", strings.Join(plan, "\n"))

	b.ResetTimer()
	for b.Loop() {
		var n int
		require.NoError(b, pool.QueryRow(ctx, `SELECT count(*), sum(length(item::text)) FROM `+l.AsOfIdent().Sanitize()+`($1)`, ts).Scan(&n, new(int64)))
		require.Equal(b, keys, n)
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/as-of")
	b.ReportMetric(float64(bytes)/float64(keys*10), "bytes/version")
}
