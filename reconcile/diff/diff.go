package diff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/store"
	"github.com/ddbsync/ddbsync/snapshot"
)

// DefaultInFlightWindow is how far before the source's instant I a change makes a
// key "in flight" rather than inconsistent: an export's time is fuzzy by
// about a minute, and stream times are rounded down to the second.
const DefaultInFlightWindow = time.Minute

// FindingKind is how a key differs between the source and the copy; the
// findings table of [store.Comparison] holds the same kinds.
type FindingKind = store.FindingKind

// The kinds of finding.
const (
	KindMissing   = store.FindingMissing   // in the source, not in PostgreSQL
	KindExtra     = store.FindingExtra     // in PostgreSQL, not in the source
	KindDifferent = store.FindingDifferent // in both, with different images
)

// Finding is one key whose copy row does not match the source.
type Finding struct {
	Kind FindingKind `json:"kind"`
	// InFlight is a difference explained by a change at or after I − skew
	// (the copy row came from the stream then, or the stream removed the
	// key then): not an inconsistency.
	InFlight bool `json:"in_flight"`
	// Key is the key attributes in DynamoDB JSON.
	Key json.RawMessage `json:"key"`
	// Differences lists the differing attribute paths (kind different).
	Differences []AttrDiff `json:"differences,omitempty"`
	// Source is the source's image (kind missing); Copy the copy's (extra).
	Source json.RawMessage `json:"source,omitempty"`
	Copy   json.RawMessage `json:"copy,omitempty"`
	// Provenance is where the copy row came from (absent for missing).
	Provenance *FindingProvenance `json:"provenance,omitempty"`
	// Tombstone is the stream's removal of a missing key, if it recorded one.
	Tombstone *Tombstone `json:"tombstone,omitempty"`
	// Repaired is set when --repair wrote the source's image for this key.
	Repaired bool `json:"repaired,omitempty"`
	// RepairSkipped says why a repair beside a running follower left the
	// key alone ([RepairSkippedNewer]).
	RepairSkipped string `json:"repair_skipped,omitempty"`
}

// FindingProvenance is a copy row's provenance columns.
type FindingProvenance struct {
	Origin     string     `json:"origin"` // export, stream or scan
	OriginTime *time.Time `json:"origin_time,omitempty"`
	ShardID    string     `json:"shard_id,omitempty"`
	Sequence   string     `json:"sequence_number,omitempty"`
}

// Tombstone is a key the stream removed from the copy (ddbsync.tombstones).
type Tombstone struct {
	RemovedAt time.Time `json:"removed_at"`
	ShardID   string    `json:"shard_id"`
	Sequence  string    `json:"sequence_number"`
	TTL       bool      `json:"ttl"`
}

// Summary is what one diff compared and found.
type Summary struct {
	DiffID     int64  `json:"diff_id"`
	Table      string `json:"table"`
	PGTable    string `json:"pg_table"`
	SourceKind string `json:"source_kind"` // export or scan
	Source     string `json:"source"`
	// Instant is I: the export's time, or the scan's start.
	Instant time.Time `json:"instant"`
	// ScanEnd is when the scan's last segment ended (scans only).
	ScanEnd *time.Time `json:"scan_end,omitempty"`
	// Watermark is the copy's W when compared; nil when the copy was
	// compared with the very export it was loaded from.
	Watermark      *time.Time `json:"watermark,omitempty"`
	CopyExportTime time.Time  `json:"copy_export_time"`
	Skew           string     `json:"skew"`
	SourceItems    int64      `json:"source_items"`
	CopyRows       int64      `json:"copy_rows"`
	Missing        int64      `json:"missing"`
	Extra          int64      `json:"extra"`
	Different      int64      `json:"different"`
	InFlight       int64      `json:"in_flight"`
	// Repair is what --repair changed (nil without --repair).
	Repair   *RepairCounts `json:"repair,omitempty"`
	Duration string        `json:"duration"`
}

// RepairCounts is what a repair changed in the data table.
type RepairCounts struct {
	Inserted int64 `json:"inserted"` // missing rows added
	Updated  int64 `json:"updated"`  // different rows replaced
	Deleted  int64 `json:"deleted"`  // extra rows removed
	// Skipped are keys a repair from a scan left alone: the follower
	// changed their rows since the compare, and the stream's image is newer.
	Skipped int64 `json:"skipped,omitempty"`
}

// Inconsistencies is the number of findings that are not in flight.
func (s Summary) Inconsistencies() int64 { return s.Missing + s.Extra + s.Different }

// Report receives a diff's results, in order: Begin with the complete
// summary, Finding for each finding (inconsistencies first, then keys in
// flight, each group by kind and key), End.
type Report interface {
	Begin(Summary) error
	Finding(Finding) error
	End(Summary) error
}

// Config configures [Run]. Exactly one of Export and Scan is set.
type Config struct {
	// Table is the DynamoDB table; its copy must have been loaded.
	Table string
	// Export is a newer export of the table, opened with [snapshot.Open].
	Export *snapshot.Export
	// Scan reads the live table instead.
	Scan *ScanSource
	// InFlightWindow: see [DefaultInFlightWindow].
	InFlightWindow time.Duration
	// Repair writes the source's images for the findings that are not in
	// flight and records them in ddbsync.repairs. From an export: in one
	// transaction, holding the follow lock (no follower may run). From a
	// scan: beside the running follower, with a compare-and-set per key
	// (repair_live.go).
	Repair bool
	// Limit caps the findings passed to Report (0: all). Counts are exact
	// whatever the limit.
	Limit int
	// Report receives the findings; nil discards them.
	Report Report
	// Workers is the number of export data files read at once (default:
	// the twice the CPUs, at least 4).
	Workers int
	// WatermarkWait is how long a scan diff waits, after the scan, for a
	// running follower to carry W past the scan's end (default: no wait).
	WatermarkWait time.Duration
	// WatermarkPoll is how often W is read while waiting (default 1 s).
	WatermarkPoll time.Duration
	// Now is the wall clock that stamps a scan's instant (default time.Now).
	Now func() time.Time
	// ScanStats and ReadStats, when set, are updated as the source (a scan
	// or an export) is read.
	ScanStats *ScanStats
	ReadStats *reconcile.ReadStats
	// Logger receives lifecycle events (default: discard).
	Logger *slog.Logger
	// LockTimeout is how long to wait for another ddbsync process to let
	// go of the table (0: [reconcile.DefaultLockTimeout]; negative: do not wait).
	LockTimeout time.Duration

	// beforeLiveRepair, when set, runs between the compare and a repair
	// from a scan (tests: export_test.go).
	beforeLiveRepair func()
	// filterMaxBits caps the filter of the copy's digests (0: 64 MB);
	// tests make it tiny, so that it lets every line by and the images
	// that differ are read again (export_test.go).
	filterMaxBits uint
	// afterFilter, when set, runs between reading the copy's digests and
	// reading the export (tests: export_test.go).
	afterFilter func()
}

func (c *Config) defaults() error {
	if (c.Export == nil) == (c.Scan == nil) {
		return errors.New("diff: give exactly one source, an export or a scan")
	}
	if c.Scan != nil && c.Scan.Client == nil {
		return errors.New("diff: scan source without a DynamoDB client")
	}
	if c.InFlightWindow <= 0 {
		c.InFlightWindow = DefaultInFlightWindow
	}
	if c.Workers <= 0 {
		c.Workers = reconcile.DefaultWorkers()
	}
	if c.WatermarkPoll <= 0 {
		c.WatermarkPoll = time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.ScanStats == nil {
		c.ScanStats = &ScanStats{}
	}
	if c.ReadStats == nil {
		c.ReadStats = &reconcile.ReadStats{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Run compares a table's PostgreSQL copy with a source of truth, a newer
// export or a live Scan, at the source's instant I, and reports every key
// that differs.
//
// The source is copied into a scratch table as the digests of its items
// (an export verified exactly as a load verifies it, by
// [reconcile.CopyExportFile]; a scan's rows keep their images too), and
// PostgreSQL does the set work: a full outer join on the key columns
// comparing each source digest with the digest of the copy's lossless
// item ([store.Digest]). An export's rows whose digests the copy certainly
// lacks (a Bloom filter of the copy's stored digests, read first, of
// bounded size) keep their images as they are read; the images of the
// other keys that differ (the filter's false positives, rows changed in
// the copy since it was read) are read again from the export, in one pass
// over the files that hold them. Go holds one finding at a time, so
// memory does not grow with the table.
//
// Keys changed at or after I − InFlightWindow are in flight, not inconsistent: copy
// rows from the stream with such an origin_time, and missing rows whose key
// the stream removed then (ddbsync.tombstones). The copy must have caught
// up: its watermark W must be at or after I (for a scan, after the scan's
// end), unless the copy was loaded from the export at I itself; otherwise
// Run fails with [reconcile.ErrNotCaughtUp]. With Repair, the findings that
// are not in flight are fixed: from an export in one transaction while the
// table's follow and load locks are held; from a scan beside the running
// follower, which W must show has passed the scan's end plus the skew,
// each key with a compare-and-set (repair_live.go).
//
// The run and its counts are recorded in ddbsync.diff_runs. When there are
// inconsistencies Run returns the summary and an error matching
// [reconcile.ErrInconsistent]; other errors mean the diff itself failed.
func Run(ctx context.Context, pool *pgxpool.Pool, cfg Config) (Summary, error) {
	if err := cfg.defaults(); err != nil {
		return Summary{}, err
	}
	d := &differ{cfg: cfg, pool: pool, log: cfg.Logger.With(slog.String("table", cfg.Table))}
	return d.run(ctx)
}

// differ is one Run call.
type differ struct {
	cfg      Config
	pool     *pgxpool.Pool
	log      *slog.Logger
	table    reconcile.LoadedTable
	sum      Summary
	source   pgx.Identifier // scratch: the source's rows
	findings pgx.Identifier // scratch: the join's result
	lockConn *pgxpool.Conn
	// skipped are the keys (findings' key text) a live repair left alone.
	skipped map[string]bool
}

func (d *differ) run(ctx context.Context) (_ Summary, retErr error) {
	start := time.Now()
	var err error
	if d.table, err = reconcile.ReadLoadedTable(ctx, d.pool, d.cfg.Table); err != nil {
		return d.sum, fmt.Errorf("diffing %s: %w", d.cfg.Table, err)
	}
	l := d.table.Layout
	d.sum = Summary{Table: d.cfg.Table, PGTable: l.Ident().Sanitize(), CopyExportTime: d.table.ExportTime,
		Skew: d.cfg.InFlightWindow.String()}

	unlock, err := d.lock(ctx)
	if err != nil {
		return d.sum, fmt.Errorf("diffing %s: %w", d.cfg.Table, err)
	}
	defer unlock()

	if err := d.describeSource(); err != nil {
		return d.sum, fmt.Errorf("diffing %s: %w", d.cfg.Table, err)
	}
	if d.cfg.Export != nil {
		if err := d.checkCaughtUp(ctx, d.sum.Instant); err != nil {
			return d.sum, fmt.Errorf("diffing %s: %w", d.cfg.Table, err)
		}
	} else if err := d.checkFollowed(ctx); err != nil {
		return d.sum, fmt.Errorf("diffing %s: %w", d.cfg.Table, err)
	} else if err := d.checkFollowerRunning(ctx); err != nil {
		return d.sum, fmt.Errorf("diffing %s: %w", d.cfg.Table, err)
	}

	if err := d.begin(ctx); err != nil {
		return d.sum, fmt.Errorf("diffing %s: recording the run: %w", d.cfg.Table, err)
	}
	defer func() {
		d.dropScratch()
		if retErr != nil && !errors.Is(retErr, reconcile.ErrInconsistent) {
			d.recordFailure(retErr)
		}
	}()

	phase := time.Now()
	if err := d.fillSource(ctx); err != nil {
		return d.sum, fmt.Errorf("diffing %s: reading the source: %w", d.cfg.Table, err)
	}
	d.log.Info("source copied", slog.Int64("items", d.sum.SourceItems), slog.Duration("duration", time.Since(phase)))
	if d.cfg.Scan != nil {
		if err := d.waitScanCaughtUp(ctx); err != nil {
			return d.sum, fmt.Errorf("diffing %s: %w", d.cfg.Table, err)
		}
	}
	phase = time.Now()
	if err := d.compare(ctx); err != nil {
		return d.sum, fmt.Errorf("diffing %s: comparing: %w", d.cfg.Table, err)
	}
	d.log.Info("compared", slog.Int64("copy_rows", d.sum.CopyRows), slog.Duration("duration", time.Since(phase)))
	if d.cfg.Repair {
		repair := d.repair
		if d.liveRepair() {
			repair = d.repairLive
		}
		if err := repair(ctx); err != nil {
			return d.sum, fmt.Errorf("diffing %s: repairing: %w", d.cfg.Table, err)
		}
	}
	d.sum.Duration = time.Since(start).Round(time.Millisecond).String()
	if err := d.record(ctx); err != nil {
		return d.sum, fmt.Errorf("diffing %s: recording the run: %w", d.cfg.Table, err)
	}
	d.log.Info("diff finished", slog.Int64("diff_id", d.sum.DiffID), slog.Int64("missing", d.sum.Missing),
		slog.Int64("extra", d.sum.Extra), slog.Int64("different", d.sum.Different), slog.Int64("in_flight", d.sum.InFlight),
		slog.String("duration", d.sum.Duration))
	if err := d.report(ctx); err != nil {
		return d.sum, fmt.Errorf("diffing %s: writing the report: %w", d.cfg.Table, err)
	}
	if n := d.sum.Inconsistencies(); n > 0 {
		return d.sum, fmt.Errorf("table %s: %w: %d missing, %d extra, %d different (diff %d)",
			d.cfg.Table, reconcile.ErrInconsistent, d.sum.Missing, d.sum.Extra, d.sum.Different, d.sum.DiffID)
	}
	return d.sum, nil
}

// lock takes, on a connection held for the whole diff, the table's diff
// lock (one diff of a table at a time) and, for a repair, its load lock
// and, from an export, its follow lock, so no other writer touches the
// rows being repaired (a repair from a scan runs beside the follower:
// repair_live.go).
func (d *differ) lock(ctx context.Context) (func(), error) {
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("connecting: %w", err)
	}
	d.lockConn = conn
	kinds := []store.LockKind{store.LockDiff}
	switch {
	case d.liveRepair():
		kinds = append(kinds, store.LockLoad)
	case d.cfg.Repair:
		kinds = append(kinds, store.LockFollow, store.LockLoad)
	}
	locks := store.NewTableLocks(conn, d.cfg.Table, kinds...)
	if err := locks.Acquire(ctx, store.LockWait(d.cfg.LockTimeout)); err != nil {
		conn.Release()
		return nil, err
	}
	return func() {
		locks.Release(ctx)
		conn.Release()
	}, nil
}

// describeSource fills in the summary's source and, for an export, I.
func (d *differ) describeSource() error {
	if exp := d.cfg.Export; exp != nil {
		if n := exp.Summary.TableName(); n != "" && n != d.cfg.Table {
			return fmt.Errorf("the export %s is of table %s, not %s", exp.ID(), n, d.cfg.Table)
		}
		if exp.Summary.ExportTime == nil {
			return fmt.Errorf("the export %s records no exportTime, so there is no instant to compare at", exp.ID())
		}
		d.sum.SourceKind = string(reconcile.OriginExport)
		d.sum.Source = fmt.Sprintf("%s (%s)", exp.ID(), exp.Source())
		d.sum.Instant = exp.Summary.ExportTime.UTC()
		return nil
	}
	segments := d.cfg.Scan.Segments
	if segments <= 0 {
		segments = DefaultScanSegments
	}
	d.sum.SourceKind = string(reconcile.OriginScan)
	d.sum.Source = fmt.Sprintf("scan of %s (%d segments)", d.cfg.Table, segments)
	return nil
}

// begin records the run and creates the scratch table for the source.
func (d *differ) begin(ctx context.Context) error {
	// Scratch tables of diffs that died (the diff lock is ours, so no
	// other diff of this table is alive) go first.
	stale, err := store.DiffRuns.FailInterrupted(ctx, d.pool, d.cfg.Table)
	if err != nil {
		return err
	}
	for _, id := range stale {
		for _, t := range scratchTables(id) {
			if err := store.DropTableIfExists(ctx, d.pool, t); err != nil {
				return err
			}
		}
	}
	var instant *time.Time
	if !d.sum.Instant.IsZero() {
		instant = &d.sum.Instant
	}
	if d.sum.DiffID, err = store.DiffRuns.Begin(ctx, d.pool, store.NewDiff{Table: d.cfg.Table, SourceKind: d.sum.SourceKind,
		Source: d.sum.Source, Instant: instant, Skew: d.cfg.InFlightWindow}); err != nil {
		return err
	}
	names := scratchTables(d.sum.DiffID)
	d.source, d.findings = names[0], names[1]
	// Digests of an export's items, or a scan's images with theirs.
	return d.comparison().CreateSource(ctx, d.pool)
}

func scratchTables(id int64) [2]pgx.Identifier { return store.DiffScratch(id) }

func (d *differ) dropScratch() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, t := range []pgx.Identifier{d.source, d.findings} {
		if t != nil {
			if err := store.DropTableIfExists(ctx, d.pool, t); err != nil {
				d.log.Warn("dropping a scratch table", slog.String("pg_table", t.Sanitize()), slog.String("error", err.Error()))
			}
		}
	}
}

// fillSource copies the source into the scratch table.
func (d *differ) fillSource(ctx context.Context) error {
	l := d.table.Layout
	if exp := d.cfg.Export; exp != nil {
		d.log.Info("reading export", slog.String("export_arn", exp.ID()), slog.Int("files", len(exp.Files)),
			slog.Int64("items", exp.Summary.ItemCount))
		filter, err := d.copyDigestFilter(ctx)
		if err != nil {
			return err
		}
		if d.cfg.afterFilter != nil {
			d.cfg.afterFilter()
		}
		d.cfg.ReadStats.FilesTotal.Store(int64(len(exp.Files)))
		d.cfg.ReadStats.ItemsTotal.Store(exp.Summary.ItemCount)
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(d.cfg.Workers)
		for i, f := range exp.Files {
			// Each row says where its image is (file i, its line): the
			// images of the keys that differ that the filter let by are
			// read again from there.
			prov := reconcile.Provenance{Origin: reconcile.OriginExport, Time: d.sum.Instant, File: i}
			g.Go(func() error {
				enc := store.NewEncoder(l, store.DigestColumns)
				enc.KeepImagesNotIn(filter)
				tx, err := d.pool.Begin(gctx)
				if err != nil {
					return err
				}
				defer tx.Rollback(context.WithoutCancel(gctx))
				if _, _, err := reconcile.CopyExportFile(gctx, tx, exp, f, d.source, enc, prov, d.cfg.ReadStats); err != nil {
					return err
				}
				if err := tx.Commit(gctx); err != nil {
					return err
				}
				d.cfg.ReadStats.FilesDone.Add(1)
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		d.sum.SourceItems = exp.Summary.ItemCount
		return nil
	}
	d.sum.Instant = d.cfg.Now().UTC()
	d.log.Info("scanning", slog.Time("instant", d.sum.Instant), slog.String("source", d.sum.Source))
	n, err := scanInto(ctx, d.pool, d.cfg.Table, *d.cfg.Scan, d.source, l, reconcile.Provenance{Origin: reconcile.OriginScan, Time: d.sum.Instant}, d.cfg.ScanStats)
	if err != nil {
		return err
	}
	end := d.cfg.Now().UTC()
	d.sum.ScanEnd = &end
	d.sum.SourceItems = n
	return store.DiffRuns.SetScan(ctx, d.pool, d.sum.DiffID, d.sum.Instant, end)
}

// record writes the summary into the run's row.
func (d *differ) record(ctx context.Context) error {
	var repaired *int64
	if r := d.sum.Repair; r != nil {
		n := r.Inserted + r.Updated + r.Deleted
		repaired = &n
	}
	return store.DiffRuns.Finish(ctx, d.pool, d.sum.DiffID, store.DiffResult{Watermark: d.sum.Watermark,
		SourceItems: d.sum.SourceItems, CopyRows: d.sum.CopyRows, Missing: d.sum.Missing, Extra: d.sum.Extra,
		Different: d.sum.Different, InFlight: d.sum.InFlight, Repaired: repaired})
}

func (d *differ) recordFailure(cause error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := store.DiffRuns.Fail(ctx, d.pool, d.sum.DiffID, cause.Error()); err != nil {
		d.log.Warn("recording the failed diff", slog.String("error", err.Error()))
	}
}
