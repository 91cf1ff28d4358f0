package stream_test

import (
	"fmt"
	"runtime"
	"testing"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/stream"
)

// tenurePages returns GetRecords response bodies of tenure-shaped records
// on a NEW_AND_OLD_IMAGES stream, paged as AWS pages them (at most 1000
// records and about 1 MB to a page): mostly modifications carrying both
// images, some inserts, a few removals.
func tenurePages(tb testing.TB, records int) (pages [][]byte, perPage []int) {
	g := tenure.NewGenerator(42)
	var items []ddbjson.Item
	var page [][]byte
	size := 0
	flush := func(last bool) {
		next := ""
		if !last {
			next = fmt.Sprintf("it-%d", len(pages)+1)
		}
		pages = append(pages, responseBody(next, page...))
		perPage = append(perPage, len(page))
		page, size = nil, 0
	}
	for i := range records {
		rec := wireRec{eventID: fmt.Sprintf("%032x", i), seq: fmt.Sprintf("4%020d", 1000+i),
			created: fmt.Sprintf("%.9E", 1.7e9+float64(i)/10)}
		switch k := i % 20; {
		case k < 5 || len(items) == 0:
			item := g.Item()
			items = append(items, item)
			rec.eventName, rec.img = "INSERT", item
		case k == 5 && len(items) > 1:
			rec.eventName, rec.old = "REMOVE", items[len(items)-1]
			items = items[:len(items)-1]
		default:
			j := i % len(items)
			rec.eventName, rec.old = "MODIFY", items[j]
			items[j] = g.Update(items[j])
			rec.img = items[j]
		}
		img := rec.img
		if img == nil {
			img = rec.old
		}
		rec.keys = ddbjson.Item{"id": img["id"].(*ddbtypes.AttributeValueMemberS)}
		raw := rec.appendJSON(tb, nil)
		if len(page) == 1000 || size+len(raw) > 1<<20 {
			flush(false)
		}
		page, size = append(page, raw), size+len(raw)+1
	}
	flush(true)
	return pages, perPage
}

// BenchmarkShardReader_TenurePages reads pages of tenure-shaped records
// through a real SDK client whose transport returns canned response bodies
// (no network, no emulator), decoding them the SDK's way ("sdk") and the
// reader's own ("direct"). An op is one page; the figures per change are
// what matters: changes/s, bytes and allocations, and the process's CPU
// time (GC included).
func BenchmarkShardReader_TenurePages(b *testing.B) {
	pages, perPage := tenurePages(b, 4000)
	var bytes int
	for _, p := range pages {
		bytes += len(p)
	}
	b.Logf("%d pages of %v records, %d bytes of JSON a record", len(pages), perPage, bytes/4000)
	for _, path := range []struct {
		name string
		api  func(*dynamodbstreams.Client) stream.API
	}{
		{"sdk", func(c *dynamodbstreams.Client) stream.API { return typedOnly{c} }},
		{"direct", func(c *dynamodbstreams.Client) stream.API { return c }},
	} {
		b.Run(path.name, func(b *testing.B) {
			api := path.api(cannedClient(&pagedShard{pages: pages}))
			var r *stream.ShardReader
			changes := 0
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			cpu := processCPU()
			b.ResetTimer()
			for range b.N {
				if r == nil {
					var err error
					if r, err = stream.NewShardReader(api, testArn, "shard-1", stream.TrimHorizon()); err != nil {
						b.Fatal(err)
					}
				}
				p, err := r.Next(b.Context())
				if err != nil {
					b.Fatal(err)
				}
				changes += len(p.Changes)
				if p.Finished {
					r = nil
				}
			}
			b.StopTimer()
			cpu = processCPU() - cpu
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(changes)/b.Elapsed().Seconds(), "changes/s")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(changes), "B/change")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(changes), "allocs/change")
			if cpu > 0 { // CPU time, GC included: steadier than changes/s on a busy machine
				b.ReportMetric(float64(cpu.Microseconds())/float64(changes), "cpu-µs/change")
			}
		})
	}
}
