package diff

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/store"
)

// DefaultScanSegments is the number of parallel Scan segments of a scan
// source when none is given.
const DefaultScanSegments = 4

// ScanAPI is the DynamoDB call a scan source makes. *dynamodb.Client
// satisfies it.
type ScanAPI interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// ScanSource is a live parallel Scan of the table as a diff's source of
// truth: Segments workers, each reading one Segment of TotalSegments with
// strongly consistent reads and copying its pages straight into PostgreSQL.
type ScanSource struct {
	// Client makes the Scan calls. Required.
	Client ScanAPI
	// Segments is the number of parallel segments (default
	// [DefaultScanSegments]); each holds one Scan page (at most 1 MB) and
	// one database connection at a time.
	Segments int
	// MaxRCU caps the read capacity units consumed per second, summed over
	// all segments (0: no cap). Each page's cost is ConsumedCapacity
	// (ReturnConsumedCapacity TOTAL); when the server reports none, it is
	// estimated as one unit per 4 KB of item data.
	MaxRCU float64
	// PageLimit is Scan's Limit, items per call (0: DynamoDB's 1 MB pages).
	PageLimit int32
}

// ScanStats are a scan's running totals, safe to read while it runs.
type ScanStats struct {
	Items atomic.Int64
	Pages atomic.Int64
	// MilliRCU is the read capacity consumed, in thousandths of a unit.
	MilliRCU atomic.Int64
}

// scanInto copies every item of table into dst, each segment through its
// own COPY, all rows with provenance prov. It returns the items copied.
func scanInto(ctx context.Context, pool *pgxpool.Pool, table string, src ScanSource, dst pgx.Identifier, l reconcile.Layout,
	prov reconcile.Provenance, stats *ScanStats) (int64, error) {
	segments := src.Segments
	if segments <= 0 {
		segments = DefaultScanSegments
	}
	var limiter *rate.Limiter
	if src.MaxRCU > 0 {
		limiter = rate.NewLimiter(rate.Limit(src.MaxRCU), max(1, int(math.Ceil(src.MaxRCU))))
	}
	var total atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for seg := range segments {
		g.Go(func() error {
			in := &dynamodb.ScanInput{
				TableName:              aws.String(table),
				ConsistentRead:         aws.Bool(true),
				ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal,
			}
			if segments > 1 {
				in.Segment, in.TotalSegments = aws.Int32(int32(seg)), aws.Int32(int32(segments))
			}
			if src.PageLimit > 0 {
				in.Limit = aws.Int32(src.PageLimit)
			}
			items := &scanItems{ctx: gctx, api: src.Client, in: in, limiter: limiter, stats: stats}
			enc := store.NewEncoder(l, store.ImageColumns)
			rows := newScanCopy(items, enc, prov)
			n, err := pool.CopyFrom(gctx, dst, enc.Columns(), rows)
			if rerr := rows.Err(); rerr != nil {
				return fmt.Errorf("scanning %s segment %d of %d: %w", table, seg, segments, rerr)
			}
			if err != nil {
				return fmt.Errorf("scanning %s segment %d of %d: copying: %w", table, seg, segments, err)
			}
			total.Add(n)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	return total.Load(), nil
}

// scanItems are the items of one Scan segment, fetching the next page
// when the current one is used up: one page in memory at a time.
type scanItems struct {
	ctx     context.Context // the COPY's; a CopyFromSource has no other way to get it
	api     ScanAPI
	in      *dynamodb.ScanInput
	limiter *rate.Limiter
	stats   *ScanStats

	page     []ddbjson.Item
	next     int
	item     ddbjson.Item
	last     bool    // the page in hand is the segment's last
	debt     float64 // capacity consumed and not yet waited for
	measured bool    // the server reported the current page's capacity
	err      error
}

func (s *scanItems) Next() bool {
	for s.next >= len(s.page) {
		if s.last || s.err != nil {
			return false
		}
		if err := s.fetch(); err != nil {
			s.err = err
			return false
		}
	}
	s.item = s.page[s.next]
	s.page[s.next] = nil // let the page go as it is copied
	s.next++
	return true
}

func (s *scanItems) Item() ddbjson.Item { return s.item }

// newScanCopy copies a segment's items through enc, counting them, and the
// capacity of pages whose cost the server did not report.
func newScanCopy(s *scanItems, enc *store.Encoder, prov store.Provenance) *store.CopySource {
	src := store.NewCopySource(s, enc, prov)
	src.OnEncodeError = func(err error) error { return fmt.Errorf("item %d of a page: %w", s.next, err) }
	src.OnRow = func(vals []any) {
		if !s.measured {
			// One read unit per 4 KB, as strongly consistent reads cost.
			b, _ := vals[enc.ItemIndex()].([]byte)
			units := float64(len(b)) / 4096
			s.debt += units
			s.stats.MilliRCU.Add(int64(units * 1000))
		}
		s.stats.Items.Add(1)
	}
	return src
}

// fetch waits for the capacity the previous pages consumed, then reads
// the next page.
func (s *scanItems) fetch() error {
	if err := s.pay(); err != nil {
		return err
	}
	out, err := s.api.Scan(s.ctx, s.in)
	if err != nil {
		return err
	}
	s.page, s.next = out.Items, 0
	s.in.ExclusiveStartKey = out.LastEvaluatedKey
	s.last = len(out.LastEvaluatedKey) == 0
	s.measured = out.ConsumedCapacity != nil && out.ConsumedCapacity.CapacityUnits != nil
	if s.measured {
		s.debt += *out.ConsumedCapacity.CapacityUnits
		s.stats.MilliRCU.Add(int64(*out.ConsumedCapacity.CapacityUnits * 1000))
	}
	s.stats.Pages.Add(1)
	return nil
}

// pay waits until the limiter grants the whole units of capacity owed.
// The limiter's burst is one second's worth, so larger debts are paid in
// burst-sized instalments: the long-run rate never exceeds MaxRCU.
func (s *scanItems) pay() error {
	if s.limiter == nil {
		s.debt = 0
		return nil
	}
	owed := int(s.debt)
	s.debt -= float64(owed)
	for owed > 0 {
		n := min(owed, s.limiter.Burst())
		if err := s.limiter.WaitN(s.ctx, n); err != nil {
			return err
		}
		owed -= n
	}
	return nil
}

func (s *scanItems) Err() error { return s.err }
