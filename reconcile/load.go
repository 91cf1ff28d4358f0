package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/reconcile/store"
	"github.com/ddbsync/ddbsync/snapshot"
)

// bookkeepingSchema holds ddbsync's own tables and unpublished load tables.
const bookkeepingSchema = store.BookkeepingSchema

// DefaultWorkers is how many data files a load or diff copies at once:
// twice the CPUs, at least 4. Each file's decoding runs in ddbsync while
// PostgreSQL parses and stores the previous rows of another, so more
// streams than cores keep both busy (4 streams load 1,000,000 tenures in
// 91 s on 2 cores, 2 streams in 142 s; bench/load.sh).
func DefaultWorkers() int { return max(4, 2*runtime.NumCPU()) }

// LoadConfig configures [Load].
type LoadConfig struct {
	// Layout is the data table to publish.
	Layout Layout
	// Workers is the number of data files copied at once (default: the
	// twice the CPUs, at least 4).
	Workers int
	// Stats, when set, is updated as the load goes, for progress displays.
	Stats *LoadStats
	// Logger receives lifecycle events (default: discard).
	Logger *slog.Logger
	// LockTimeout is how long to wait for another ddbsync process to let
	// go of the table (0: [DefaultLockTimeout]; negative: do not wait).
	LockTimeout time.Duration
	// Force reloads the export the table's published copy already holds,
	// which [Load] otherwise skips; like any reload it resets following.
	Force bool
	// MoveSchema lets the load publish into Layout.Schema when the table's
	// copy is in another schema: the copy is moved there, with what was
	// built on it, in the publishing transaction. Without it [Load] returns
	// [ErrSchemaMoved].
	MoveSchema bool
}

// ReadStats are the running totals of reading an export, by a load or a
// diff, safe to read while it runs.
type ReadStats struct {
	FilesTotal atomic.Int64
	FilesDone  atomic.Int64
	ItemsTotal atomic.Int64
	ItemsDone  atomic.Int64
	BytesTotal atomic.Int64 // unknown until the end: manifests give no sizes
	BytesDone  atomic.Int64 // compressed bytes read
}

// LoadStats are a load's running totals, safe to read while it runs.
type LoadStats struct {
	ReadStats
	// FilesResumed counts the data files an interrupted run had loaded.
	FilesResumed atomic.Int64
}

// LoadResult describes a finished load.
type LoadResult struct {
	LoadID       int64
	Table        pgx.Identifier
	ExportArn    string
	ExportTime   time.Time
	Items        int64
	Files        int
	FilesResumed int   // data files a previous, interrupted run had already loaded
	ItemsResumed int64 // the items in those files
	Bytes        int64 // compressed bytes read by this run
	Duration     time.Duration
	// Unchanged is set when the table already held this export and nothing
	// was loaded; LoadedAt is then when it was published.
	Unchanged bool
	LoadedAt  time.Time
}

// ErrTableNotOurs is a data table name taken by a table ddbsync does not
// manage; [Load] returns it.
var ErrTableNotOurs = errors.New("table exists and is not managed by ddbsync")

// ErrSchemaMoved is a load into another schema than the one holding the
// table's published copy, without [LoadConfig.MoveSchema]; [Load] returns it.
var ErrSchemaMoved = errors.New("the table's copy is in another schema")

// Load copies a verified export into a fresh table and publishes it as the
// layout's data table in one transaction, replacing the previous copy.
//
// Each data file is copied in its own transaction together with its row in
// ddbsync.load_files, after its MD5 and item count have been verified, so a
// load that stops at any point resumes, when run again with the same export,
// at the next unfinished file without duplicating or losing an item. Readers
// of the data table see the previous copy until the publishing transaction
// commits, and the complete new one after. A load of a different export
// abandons an unfinished one. Nothing is published when any check fails.
func Load(ctx context.Context, pool *pgxpool.Pool, exp *snapshot.Export, cfg LoadConfig) (LoadResult, error) {
	start := time.Now()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stats := cfg.Stats
	if stats == nil {
		stats = &LoadStats{}
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = DefaultWorkers()
	}
	l := cfg.Layout
	res := LoadResult{Table: l.Ident(), ExportArn: exp.ID(), Files: len(exp.Files)}
	if exp.Summary.ExportTime != nil {
		res.ExportTime = *exp.Summary.ExportTime
	}

	// One load per table at a time.
	lock, err := store.LockTable(ctx, pool, store.LockWait(cfg.LockTimeout), store.LockLoad, l.Table)
	if err != nil {
		return res, err
	}
	defer lock.Release(ctx)

	cur, err := checkTarget(ctx, pool, l, cfg.MoveSchema)
	if err != nil {
		return res, err
	}
	if cur.holds(exp, l) && !cfg.Force {
		res.Unchanged, res.LoadedAt, res.Items = true, cur.loadedAt, cur.items
		log.Info("table already holds this export; nothing to do", slog.String("table", l.Table), slog.String("export_arn", exp.ID()))
		return res, nil
	}
	loadID, done, err := beginLoad(ctx, pool, exp, l, log)
	if err != nil {
		return res, fmt.Errorf("loading %s: %w", l.Table, err)
	}
	res.LoadID = loadID
	loadTable := store.LoadTable(loadID)

	var todo []snapshot.DataFile
	var total int64
	for _, f := range exp.Files {
		total += f.ItemCount
		if _, ok := done[f.Name]; ok {
			res.FilesResumed++
			continue
		}
		todo = append(todo, f)
	}
	stats.FilesTotal.Store(int64(len(exp.Files)))
	stats.ItemsTotal.Store(total)
	stats.FilesResumed.Store(int64(res.FilesResumed))
	stats.FilesDone.Store(int64(res.FilesResumed))
	var resumedItems int64
	for _, n := range done {
		resumedItems += n
	}
	stats.ItemsDone.Store(resumedItems)
	res.ItemsResumed = resumedItems
	if res.FilesResumed > 0 {
		log.Info("resuming load", slog.String("table", l.Table), slog.Int64("load_id", loadID),
			slog.Int("files_done", res.FilesResumed), slog.Int("files_left", len(todo)))
	}

	exportTime := res.ExportTime
	g, gctx := errgroup.WithContext(ctx)
	files := make(chan snapshot.DataFile)
	g.Go(func() error {
		defer close(files)
		for _, f := range todo {
			select {
			case files <- f:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	for range min(workers, max(1, len(todo))) {
		g.Go(func() error {
			for f := range files {
				if err := copyFile(gctx, pool, exp, f, loadID, loadTable, l, exportTime, &stats.ReadStats); err != nil {
					return err
				}
				log.Debug("data file loaded", slog.String("table", l.Table), slog.String("file", f.Name), slog.Int64("items", f.ItemCount))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return res, fmt.Errorf("loading %s: %w", l.Table, err)
	}
	res.Bytes = stats.BytesDone.Load()

	items, err := publish(ctx, pool, publication{exp: exp, layout: l, loadID: loadID, loadTable: loadTable, log: log})
	if err != nil {
		return res, fmt.Errorf("loading %s: %w", l.Table, err)
	}
	res.Items = items
	res.Duration = time.Since(start)
	log.Info("load published", slog.String("table", l.Table), slog.String("pg_table", l.Ident().Sanitize()),
		slog.Int64("items", items), slog.Duration("duration", res.Duration))
	return res, nil
}

func loadTableName(id int64) string { return store.LoadTableName(id) }

// publishedCopy is the table's published copy, as ddbsync.tables records it.
type publishedCopy struct {
	schema, name string
	exportArn    string
	keySchema    string
	loadedAt     time.Time
	items        int64
	exists       bool // the relation is still there
}

// holds tells whether the copy is l's table loaded from exp, where l puts it.
func (c *publishedCopy) holds(exp *snapshot.Export, l Layout) bool {
	return c != nil && c.exists && c.schema == l.Schema && c.name == l.Name &&
		c.exportArn == exp.ID() && c.keySchema == l.Key.String()
}

// checkTarget refuses to replace a table ddbsync did not create, and to
// leave the table's copy behind in another schema unless move is set. It
// returns the published copy, nil when there is none.
func checkTarget(ctx context.Context, pool *pgxpool.Pool, l Layout, move bool) (*publishedCopy, error) {
	exists, ours, err := store.Tables.Occupant(ctx, pool, l.Schema, l.Name)
	if err != nil {
		return nil, fmt.Errorf("loading %s: checking %s: %w", l.Table, l.Ident().Sanitize(), err)
	}
	if exists && !ours {
		return nil, fmt.Errorf("loading %s: %s: %w, so a load will not replace it",
			l.Table, l.Ident().Sanitize(), ErrTableNotOurs)
	}
	other, err := store.Tables.OtherHolder(ctx, pool, l.Schema, l.Name, l.Table)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", l.Table, err)
	}
	if other != "" {
		return nil, fmt.Errorf("loading %s: %w: %s holds DynamoDB table %s's copy",
			l.Table, ErrTableTaken, l.Ident().Sanitize(), other)
	}
	pub, err := store.Tables.Get(ctx, pool, l.Table)
	if err != nil {
		return nil, fmt.Errorf("loading %s: reading its published copy: %w", l.Table, err)
	}
	if pub == nil {
		return nil, nil
	}
	c := publishedCopy{schema: pub.Schema, name: pub.Name, exportArn: pub.ExportArn, keySchema: pub.KeySchema,
		loadedAt: pub.LoadedAt, items: pub.Items, exists: pub.Exists}
	from := pgx.Identifier{c.schema, c.name}.Sanitize()
	if c.exists && from != l.Ident().Sanitize() && !move {
		return nil, &SchemaMovedError{Table: l.Table, CopySchema: c.schema, Copy: from, Target: l.Ident().Sanitize()}
	}
	return &c, nil
}

// beginLoad resumes the table's unfinished load of the same export, or
// abandons an unfinished load of another export and starts a new one. It
// returns the load id and the files already loaded, with their item counts.
func beginLoad(ctx context.Context, pool *pgxpool.Pool, exp *snapshot.Export, l Layout, log *slog.Logger) (int64, map[string]int64, error) {
	cur, err := store.Loads.Unfinished(ctx, pool, l.Table)
	switch {
	case err != nil:
		return 0, nil, err
	case cur != nil && cur.ExportArn == exp.ID() && cur.KeySchema == l.Key.String() && cur.Schema == l.Schema && cur.Name == l.Name:
		id := cur.ID
		done := make(map[string]int64)
		files, err := store.LoadFiles.List(ctx, pool, id)
		if err != nil {
			return 0, nil, err
		}
		byName := make(map[string]snapshot.DataFile, len(exp.Files))
		for _, f := range exp.Files {
			byName[f.Name] = f
		}
		for _, lf := range files {
			if f, ok := byName[lf.Name]; !ok || f.MD5Checksum != lf.MD5 || f.ItemCount != lf.Items {
				return 0, nil, fmt.Errorf("%w: unfinished load %d recorded file %s, which this export's manifest does not list as loaded",
					ErrUnfinishedLoad, id, lf.Name)
			}
			done[lf.Name] = lf.Items
		}
		return id, done, nil
	case cur != nil:
		log.Info("abandoning an unfinished load of another export", slog.String("table", l.Table),
			slog.Int64("load_id", cur.ID), slog.String("export_arn", cur.ExportArn))
		if err := abandonLoad(ctx, pool, cur.ID); err != nil {
			return 0, nil, err
		}
	}

	tx, err := pool.Begin(ctx)
	if err != nil {
		return 0, nil, err
	}
	defer tx.Rollback(ctx)
	id, err := store.Loads.Begin(ctx, tx, store.Load{Table: l.Table, ExportArn: exp.ID(), ExportTime: exp.Summary.ExportTime,
		Source: exp.Source().String(), Schema: l.Schema, Name: l.Name, KeySchema: l.Key.String(),
		FilesTotal: len(exp.Files), ItemsTotal: exp.Summary.ItemCount}, l)
	if err != nil {
		return 0, nil, err
	}
	return id, map[string]int64{}, tx.Commit(ctx)
}

// AbandonLoad drops the unfinished load of table, if any, so that the next
// load starts afresh. It reports whether there was one.
func AbandonLoad(ctx context.Context, pool *pgxpool.Pool, table string) (bool, error) {
	cur, err := store.Loads.Unfinished(ctx, pool, table)
	if err != nil || cur == nil {
		return false, err
	}
	return true, abandonLoad(ctx, pool, cur.ID)
}

func abandonLoad(ctx context.Context, pool *pgxpool.Pool, id int64) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if err := store.Loads.Abandon(ctx, tx, id); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// copyFile copies one data file in one transaction, with its bookkeeping row.
// The file's checks run as its last rows are read, before the COPY ends, so
// a file that fails them leaves nothing behind.
//
// The bookkeeping row is claimed first. A load killed with SIGKILL may leave
// a server session that still commits its last file after a resumed load
// has listed the files done; claiming the row waits for that session and
// then finds the file taken, instead of copying it twice.
func copyFile(ctx context.Context, pool *pgxpool.Pool, exp *snapshot.Export, f snapshot.DataFile,
	loadID int64, loadTable pgx.Identifier, l Layout, exportTime time.Time, stats *ReadStats) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", f.Name, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	claimed, err := store.LoadFiles.Claim(ctx, tx, loadID, store.LoadFile{Name: f.Name, Items: f.ItemCount, MD5: f.MD5Checksum})
	if err != nil {
		return fmt.Errorf("%s: recording: %w", f.Name, err)
	}
	if !claimed {
		stats.FilesDone.Add(1)
		stats.ItemsDone.Add(f.ItemCount)
		return nil // loaded by an earlier run after all
	}
	n, bytes, err := copyExportFile(ctx, tx, exp, f, loadTable, store.NewEncoder(l, store.RowColumns),
		Provenance{Origin: OriginExport, Time: exportTime}, stats)
	if err != nil {
		return err
	}
	if err := store.LoadFiles.Copied(ctx, tx, loadID, f.Name, n, bytes); err != nil {
		return fmt.Errorf("%s: recording: %w", f.Name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("%s: committing: %w", f.Name, err)
	}
	stats.FilesDone.Add(1)
	return nil
}

// copyExportFile streams data file f of exp into table through tx with
// PostgreSQL's binary COPY, each item turned into the columns cols by enc
// with provenance prov, and checks the file as [snapshot.FileReader] does
// (lines, MD5, item count) plus the rows copied against the manifest. It
// returns the rows copied and the stored bytes read. Load and diff both
// read exports through it, so a diff's source is verified exactly as a
// load's.
func copyExportFile(ctx context.Context, tx pgx.Tx, exp *snapshot.Export, f snapshot.DataFile,
	table pgx.Identifier, enc *store.Encoder, prov Provenance, stats *ReadStats) (int64, int64, error) {
	r, err := exp.OpenFile(ctx, f)
	if err != nil {
		return 0, 0, err
	}
	defer r.Close()
	items := &fileItems{r: r, stats: stats}
	src := store.NewCopySource(items, enc, prov)
	// A line the encoder refuses is bad data like one the reader refuses:
	// the same refusal, its cause still matchable.
	src.OnEncodeError = func(err error) error {
		return &snapshot.FileError{File: f.Name, Line: r.Line(), Err: fmt.Errorf("%w: %w", snapshot.ErrCorrupt, err)}
	}
	n, err := tx.CopyFrom(ctx, table, enc.Columns(), src)
	if err != nil {
		// pgx reports a source's error as the server's COPY failure, as
		// text; the source still holds the original, with its type.
		if serr := src.Err(); serr != nil {
			return 0, 0, serr
		}
		return 0, 0, fmt.Errorf("%s: copying: %w", f.Name, err)
	}
	if n != f.ItemCount {
		return 0, 0, fmt.Errorf("%s: copied %d rows, manifest says %d", f.Name, n, f.ItemCount)
	}
	return n, r.BytesRead(), nil
}

// fileItems are the items of one data file, counted into the load's
// progress as they are read.
type fileItems struct {
	r      *snapshot.FileReader
	stats  *ReadStats
	bytes  int64
	unseen int64
}

func (s *fileItems) Next() bool {
	if !s.r.Next() {
		s.flushStats()
		return false
	}
	// Progress counters are shared by all workers: update them in steps.
	if s.unseen++; s.unseen == 1024 {
		s.flushStats()
	}
	return true
}

func (s *fileItems) Item() ddbjson.Item { return s.r.Item() }

func (s *fileItems) flushStats() {
	s.stats.ItemsDone.Add(s.unseen)
	s.unseen = 0
	b := s.r.BytesRead()
	s.stats.BytesDone.Add(b - s.bytes)
	s.bytes = b
}

func (s *fileItems) Err() error { return s.r.Err() }
