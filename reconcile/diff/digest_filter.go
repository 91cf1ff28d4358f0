package diff

import (
	"context"
	"log/slog"
	"math"
	"time"

	"github.com/bits-and-blooms/bloom/v3"

	"github.com/ddbsync/ddbsync/reconcile/store"
)

// The copy's digests are held in a Bloom filter while the export is read:
// an export line whose digest it certainly lacks differs from the copy (a
// digest is md5 of the whole item, key included, so a line whose digest
// the copy has is a row the copy holds as it is), and its source row keeps
// its image, which then need not be read again. About 16 bits a row give
// 11 hash functions and one false positive in about 2,000 lines; the cap
// keeps memory bounded whatever the table's size (at 64 MB, 32 million
// rows get their 16 bits; a bigger copy a fuller filter, whose false
// positives are read again, as before).
const (
	filterBitsPerRow = 16
	// defaultFilterMaxBits is 64 MB of filter.
	defaultFilterMaxBits = 64 << 20 * 8
)

// digestFilter is a Bloom filter of item digests: a [store.DigestSet].
// It is filled by one goroutine; once filled, MayContain is safe for
// concurrent use (it only reads).
type digestFilter struct{ f *bloom.BloomFilter }

// newDigestFilter returns an empty filter for rows digests, of at most
// maxBits bits.
func newDigestFilter(rows int64, maxBits uint) *digestFilter {
	rows = max(rows, 1)
	bits := max(min(uint(rows)*filterBitsPerRow, maxBits), 1)
	// k = (bits per row) · ln 2 minimizes the false positives.
	k := uint(math.Round(float64(bits) / float64(rows) * math.Ln2))
	return &digestFilter{f: bloom.New(bits, min(max(k, 1), 16))}
}

func (f *digestFilter) add(digest [16]byte) { f.f.Add(digest[:]) }

// MayContain says whether digest may have been added: false is certain.
func (f *digestFilter) MayContain(digest [16]byte) bool { return f.f.Test(digest[:]) }

// copyDigestFilter reads the copy's stored digests into a filter.
func (d *differ) copyDigestFilter(ctx context.Context) (*digestFilter, error) {
	start := time.Now()
	l := d.table.Layout
	// Sized for the copy's rows, or the export's items if more: the
	// planner's estimate may be stale or absent, and counting would cost
	// another read of the copy.
	rows, err := store.EstimateRows(ctx, d.pool, l)
	if err != nil {
		return nil, err
	}
	maxBits := d.cfg.filterMaxBits
	if maxBits == 0 {
		maxBits = defaultFilterMaxBits
	}
	f := newDigestFilter(max(rows, d.cfg.Export.Summary.ItemCount), maxBits)
	n, err := store.EachCopyDigest(ctx, d.pool, l, f.add)
	if err != nil {
		return nil, err
	}
	d.log.Info("copy digests read", slog.Int64("rows", n), slog.Uint64("filter_bytes", uint64(f.f.Cap()/8)),
		slog.Duration("duration", time.Since(start)))
	return f, nil
}
