package follow_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/bench/perfkit"
	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/emulator"
	"github.com/ddbsync/ddbsync/internal/reconciletest"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile/follow"
	"github.com/ddbsync/ddbsync/stream"
)

func envInt(b *testing.B, name string, def int) int {
	if s := os.Getenv(name); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(b, err)
		return n
	}
	return def
}

// smallItem is a ~300-byte item, for change volumes whose full tenure
// images would not fit the emulator's memory.
func smallItem(id string, version int) ddbjson.Item {
	return ddbjson.Item{
		"id":            &types.AttributeValueMemberS{Value: id},
		"versionNumber": &types.AttributeValueMemberN{Value: strconv.Itoa(version)},
		"status":        &types.AttributeValueMemberS{Value: "active"},
		"balance":       &types.AttributeValueMemberN{Value: fmt.Sprintf("%d.%02d", version*7%1000, version%100)},
		"paymentRef":    &types.AttributeValueMemberS{Value: fmt.Sprintf("%010d", version*7919)},
		"address":       &types.AttributeValueMemberS{Value: "Flat 12 Pembury House Dalston Lane London E8 1LQ"},
		"flags":         &types.AttributeValueMemberM{Value: ddbjson.Item{"tenanted": &types.AttributeValueMemberBOOL{Value: true}}},
	}
}

// benchItem is the item of a key's version the benchmarks write:
// [smallItem], or with DDBSYNC_BENCH_ITEM=tenure a tenure-shaped one.
func benchItem() func(id string, version int) ddbjson.Item {
	if os.Getenv("DDBSYNC_BENCH_ITEM") != "tenure" {
		return smallItem
	}
	gen := tenure.NewGenerator(1)
	var mu sync.Mutex
	return func(id string, version int) ddbjson.Item {
		mu.Lock()
		defer mu.Unlock()
		it := gen.ItemWithID(id)
		it["versionNumber"] = &types.AttributeValueMemberN{Value: strconv.Itoa(version)}
		return it
	}
}

// writeChanges writes n changes over keys keys with BatchWriteItem, from a
// few writers at once.
func writeChanges(b *testing.B, ddb *dynamodb.Client, n, keys int, item func(id string, version int) ddbjson.Item) {
	const writers = 4
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			var reqs []types.WriteRequest
			flush := func() {
				if len(reqs) == 0 {
					return
				}
				_, err := ddb.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{
					RequestItems: map[string][]types.WriteRequest{tenure.TableName: reqs}})
				require.NoError(b, err)
				reqs = reqs[:0]
			}
			for i := w; i < n; i += writers {
				id := fmt.Sprintf("key-%07d", i%keys)
				reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item(id, i/keys+1)}})
				// One batch must not hold the same key twice.
				if len(reqs) == 25 || (i+writers)%keys < writers {
					flush()
				}
			}
			flush()
		})
	}
	wg.Wait()
}

// BenchmarkFollowApply measures how fast follow applies changes from the
// emulator into PostgreSQL: DDBSYNC_BENCH_CHANGES changes (default
// 1,000,000) over 4 shards, DDBSYNC_BENCH_KEYS keys (default 250,000),
// items of ~300 bytes (DDBSYNC_BENCH_ITEM=tenure for tenure-shaped ones),
// and beside it the limit: the same rows, encoded in advance, as a
// set-based upsert (perfkit.UpsertRows: COPY into a temporary table,
// INSERT … ON CONFLICT DO UPDATE, page by page). It reports the rates'
// ratio (apply/upsert-rate: 1.0 is as fast as the limit) and where the CPU
// went: this process (the follower and the in-process emulator serving it)
// and the PostgreSQL server, for the apply and for the limit.
// DDBSYNC_BENCH_PROFILE=FILE writes a CPU profile of the apply alone (use
// it instead of -cpuprofile, which also profiles writing the changes).
//
//	go test ./reconcile/follow -run '^$' -bench 'BenchmarkFollowApply$' -benchtime 1x -timeout 30m
func BenchmarkFollowApply(b *testing.B) {
	changes := envInt(b, "DDBSYNC_BENCH_CHANGES", 1_000_000)
	keys := envInt(b, "DDBSYNC_BENCH_KEYS", 250_000)
	item := benchItem()
	// The emulator keeps the latest versions only: every version of a
	// million tenure changes would not fit this machine's memory.
	h := reconciletest.NewHarness(b, emulator.WithShards(4), emulator.WithLatestVersionsOnly())
	h.ExportAndLoad(h.Now())
	h.Tick(time.Second)
	start := time.Now()
	writeChanges(b, h.DDB, changes, keys, item)
	b.Logf("wrote %d changes in %s", changes, time.Since(start).Round(time.Millisecond))
	runtime.GC()

	if path := os.Getenv("DDBSYNC_BENCH_PROFILE"); path != "" {
		f, err := os.Create(path)
		require.NoError(b, err)
		require.NoError(b, pprof.StartCPUProfile(f))
		defer func() { pprof.StopCPUProfile(); require.NoError(b, f.Close()) }()
	}
	b.ReportAllocs()
	cpuBefore, err := perfkit.ReadCPU(b.Context(), h.Pool)
	require.NoError(b, err)
	b.ResetTimer()
	for b.Loop() {
		cfg := h.FollowConfig()
		// The harness's readers, whose caught-up rule runs on the wall
		// clock (cfg.Now is the emulator's, which stands still: a span
		// measured on it never passes, and the follow would never end),
		// polling less often.
		cfg.ReaderOptions = append(cfg.ReaderOptions, stream.WithPollInterval(10*time.Millisecond), stream.WithCaughtUpRule(3, 30*time.Millisecond))
		res, err := follow.Run(b.Context(), h.Pool, cfg)
		require.NoError(b, err)
		require.EqualValues(b, changes, res.Applied)
	}
	b.StopTimer()
	pprof.StopCPUProfile()
	applying := b.Elapsed() / time.Duration(b.N)
	cpuAfter, err := perfkit.ReadCPU(b.Context(), h.Pool)
	require.NoError(b, err)
	applyCPU := cpuAfter.Sub(cpuBefore)
	b.ReportMetric(float64(changes)/applying.Seconds(), "changes/s")
	var rows int
	require.NoError(b, h.Pool.QueryRow(b.Context(), `SELECT count(*) FROM dynamodb.tenure_information`).Scan(&rows))
	require.Equal(b, min(changes, keys), rows)

	// The limit, in the same run: the same rows written by a set-based
	// upsert, pages of 1,000 (GetRecords' most) four at a time (the
	// shards), into the table emptied again, without a stream to read,
	// tombstones or checkpoints. The rows are encoded now, not before the
	// apply, whose process they would have made larger.
	limitRows, err := perfkit.PrepareUpsert(reconciletest.TenureLayout(b, ""), changes, func(i int) ddbjson.Item {
		return item(fmt.Sprintf("key-%07d", i%keys), i/keys+1)
	})
	require.NoError(b, err)
	_, err = h.Pool.Exec(b.Context(), `TRUNCATE dynamodb.tenure_information`)
	require.NoError(b, err)
	cpuBefore, err = perfkit.ReadCPU(b.Context(), h.Pool)
	require.NoError(b, err)
	start = time.Now()
	require.NoError(b, limitRows.Upsert(b.Context(), h.Pool, min(1000, keys), 4)) // a page must not hold a key twice
	limit := time.Since(start)
	cpuAfter, err = perfkit.ReadCPU(b.Context(), h.Pool)
	require.NoError(b, err)
	limitCPU := cpuAfter.Sub(cpuBefore)
	b.ReportMetric(limit.Seconds()/applying.Seconds(), "apply/upsert-rate")
	b.ReportMetric(float64(changes)/limit.Seconds(), "upsert-changes/s")
	b.ReportMetric(applyCPU.Process.Seconds(), "apply-process-cpu-s")
	b.ReportMetric(limitCPU.Process.Seconds(), "upsert-process-cpu-s")
	if applyCPU.ServerKnown && limitCPU.ServerKnown {
		b.ReportMetric(applyCPU.Server.Seconds(), "apply-server-cpu-s")
		b.ReportMetric(limitCPU.Server.Seconds(), "upsert-server-cpu-s")
	}
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[int(p*float64(len(s)-1))]
}

// describeTimes counts DescribeStream calls, for the benchmark's rate.
type describeTimes struct {
	stream.API
	mu sync.Mutex
	at []time.Time
}

func (d *describeTimes) DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error) {
	d.mu.Lock()
	d.at = append(d.at, time.Now())
	d.mu.Unlock()
	return d.API.DescribeStream(ctx, in, opts...)
}

// maxPerSecond is the most calls made in any one second.
func (d *describeTimes) maxPerSecond() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	most := 0
	for i, j := 0, 0; j < len(d.at); j++ {
		for d.at[j].Sub(d.at[i]) >= time.Second {
			i++
		}
		most = max(most, j-i+1)
	}
	return most
}

// BenchmarkFollowLag measures end-to-end lag and the watermark's age: a
// writer makes DDBSYNC_BENCH_RATE writes/s (default 2,000; 0 for a quiet
// table) of tenure items for DDBSYNC_BENCH_SECONDS (default 20) while follow
// runs with ddbsync's defaults (poll interval, caught-up rule, margins,
// listing pace, DescribeStream limiter, discover interval). Every 50th write
// is timed from its PutItem returning to its version being visible in
// PostgreSQL (lag), and every 10 ms the published watermark's age, now − W,
// is sampled (w-age; W promises every change created before it is applied,
// so its age is how stale that promise is). The emulator's clock follows the
// wall clock here; its GetRecords answers in well under a millisecond, where
// AWS takes some (each adds (k−1)× to W's age on a quiet table).
//
//	go test ./reconcile/follow -run '^$' -bench BenchmarkFollowLag -benchtime 1x
//	DDBSYNC_BENCH_RATE=0 go test ./reconcile/follow -run '^$' -bench BenchmarkFollowLag -benchtime 1x
func BenchmarkFollowLag(b *testing.B) {
	rate := envInt(b, "DDBSYNC_BENCH_RATE", 2000)
	seconds := envInt(b, "DDBSYNC_BENCH_SECONDS", 20)
	for b.Loop() {
		h := reconciletest.NewHarness(b, emulator.WithShards(4), emulator.WithStartTime(time.Now()))
		h.Insert(1000)
		h.ExportAndLoad(h.Now())
		ctx, cancel := context.WithCancel(b.Context())
		h.Emu.Clock().Tick()          // the emulator's clock follows real time,
		h.Emu.Clock().Set(time.Now()) // and shows it
		api := &describeTimes{API: h.Emu.Streams()}
		cfg := h.FollowConfig()
		cfg.Streams = api
		cfg.UntilCaughtUp = false
		cfg.Now = time.Now
		cfg.DiscoverInterval = follow.DefaultDiscoverInterval
		cfg.DescribeLimiter = nil // the process-wide one
		cfg.ReaderOptions = nil   // the defaults, on cfg.Now
		followDone := make(chan error, 1)
		go func() { _, err := follow.Run(ctx, h.Pool, cfg); followDone <- err }()

		// W's age, sampled from the first W published after the follow
		// has caught up with the writes made before it started.
		var ages []time.Duration
		stopAges := make(chan struct{})
		var sampling sync.WaitGroup
		sampling.Go(func() {
			tk := time.NewTicker(10 * time.Millisecond)
			defer tk.Stop()
			from := time.Now().Add(2 * time.Second)
			for {
				select {
				case <-stopAges:
					return
				case now := <-tk.C:
					if w := h.Stats.Watermark(); !w.IsZero() && now.After(from) {
						ages = append(ages, now.Sub(w))
					}
				}
			}
		})

		var mu sync.Mutex
		var lags []time.Duration
		var probes sync.WaitGroup
		begin := time.Now()
		if rate == 0 {
			time.Sleep(time.Duration(seconds) * time.Second)
		}
		// Writers each take a quarter of the keys (and of the rate), so
		// each key's versions are written in order.
		const writers = 4
		var genMu sync.Mutex
		total := rate * seconds
		var writing sync.WaitGroup
		for w := range writers {
			writing.Go(func() {
				interval := writers * time.Second / time.Duration(max(rate, 1))
				next := time.Now()
				for i := w; i < total; i += writers {
					if d := time.Until(next); d > 0 {
						time.Sleep(d)
					}
					next = next.Add(interval)
					id := h.IDs[i%len(h.IDs)]
					version := 1000 + i
					genMu.Lock()
					it := h.Gen.ItemWithID(id)
					genMu.Unlock()
					it["versionNumber"] = &types.AttributeValueMemberN{Value: strconv.Itoa(version)}
					if _, err := h.DDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tenure.TableName), Item: it}); err != nil {
						b.Error(err)
						return
					}
					if i%50 != 0 {
						continue
					}
					written := time.Now()
					probes.Go(func() {
						for ctx.Err() == nil {
							var v int
							err := h.Pool.QueryRow(ctx, `SELECT (item->'versionNumber'->>'N')::int FROM dynamodb.tenure_information WHERE id = $1`, id).Scan(&v)
							if err == nil && v >= version {
								mu.Lock()
								lags = append(lags, time.Since(written))
								mu.Unlock()
								return
							}
							time.Sleep(5 * time.Millisecond)
						}
					})
				}
			})
		}
		writing.Wait()
		elapsed := time.Since(begin)
		close(stopAges)
		sampling.Wait()
		done := make(chan struct{})
		go func() { probes.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			b.Fatal("some writes never became visible")
		}
		cancel()
		require.NoError(b, <-followDone)
		require.NotEmpty(b, ages, "no watermark was published")
		if rate > 0 {
			b.ReportMetric(float64(percentile(lags, 0.5).Milliseconds()), "p50-lag-ms")
			b.ReportMetric(float64(percentile(lags, 0.99).Milliseconds()), "p99-lag-ms")
			b.ReportMetric(float64(percentile(lags, 1).Milliseconds()), "max-lag-ms")
		}
		b.ReportMetric(float64(percentile(ages, 0.5).Milliseconds()), "p50-w-age-ms")
		b.ReportMetric(float64(percentile(ages, 0.99).Milliseconds()), "p99-w-age-ms")
		b.ReportMetric(float64(percentile(ages, 1).Milliseconds()), "max-w-age-ms")
		b.ReportMetric(float64(total)/elapsed.Seconds(), "writes/s")
		api.mu.Lock()
		b.ReportMetric(float64(len(api.at))/elapsed.Seconds(), "describes/s")
		api.mu.Unlock()
		b.ReportMetric(float64(api.maxPerSecond()), "max-describes-in-1s")
	}
}
