package load

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/store"
	"github.com/ddbsync/ddbsync/snapshot"
)

// Config configures [Run].
type Config struct {
	// Layout is the data table to publish; its Doc is decided by Doc.
	Layout reconcile.Layout
	// Doc says whether the data table gets the doc column, the item again
	// as plain JSON ([store.Layout.Doc]). Nil keeps the choice of the copy
	// the load replaces (a table loaded before doc was opt-in has doc), and
	// gives a new table none.
	Doc *bool
	// Workers is the number of data files copied at once (default:
	// [reconcile.DefaultWorkers], twice the CPUs, at least 4).
	Workers int
	// Stats, when set, is updated as the load goes, for progress displays.
	Stats *Stats
	// Logger receives lifecycle events (default: discard).
	Logger *slog.Logger
	// LockTimeout is how long to wait for another ddbsync process to let
	// go of the table (0: [reconcile.DefaultLockTimeout]; negative: do not wait).
	LockTimeout time.Duration
	// Force reloads the export the table's published copy already holds,
	// which [Run] otherwise skips; like any reload it resets following.
	Force bool
	// MoveSchema lets the load publish into Layout.Schema when the table's
	// copy is in another schema: the copy is moved there, with what was
	// built on it, in the publishing transaction. Without it [Run] returns
	// [reconcile.ErrSchemaMoved].
	MoveSchema bool
	// Worker makes this process one of several load workers of the table
	// (ddbsync load --worker), possibly on several hosts: they share the
	// table instead of having it alone, join the table's load of the same
	// export (the first one begins it), copy the files no other worker has,
	// and every one of them returns once the load is published, by whichever
	// worker got there first ([Result.PublishedBy]). A worker never abandons
	// a load of another export: it refuses with [reconcile.ErrUnfinishedLoad].
	Worker bool
	// WorkerName is this process in the bookkeeping: the files it copied,
	// the load it published (default: [WorkerName]).
	WorkerName string
	// History turns the table's history on: the export's rows become its
	// versions at T, in the publishing transaction. Once on, it stays on
	// for later loads and follows (ddbsync.history records it).
	History bool
	// HistoryRetention, when positive, replaces the history's retention.
	HistoryRetention time.Duration
}

// withDefaults fills in what a load's caller left unset: a logger that
// discards, fresh stats, and [reconcile.DefaultWorkers] files at a time.
// Run and RunIncremental share it.
func withDefaults(log *slog.Logger, stats *Stats, workers int) (*slog.Logger, *Stats, int) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if stats == nil {
		stats = &Stats{}
	}
	if workers <= 0 {
		workers = reconcile.DefaultWorkers()
	}
	return log, stats, workers
}

// WorkerName is the default name of a load process: host:pid.
func WorkerName() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	return fmt.Sprintf("%s:%d", host, os.Getpid())
}

// Stats are a load's running totals, safe to read while it runs.
type Stats struct {
	reconcile.ReadStats
	// FilesResumed counts the data files an interrupted run had loaded.
	FilesResumed atomic.Int64
}

// Result describes a finished load.
type Result struct {
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
	// Doc is whether the data table has the doc column.
	Doc bool
	// Unchanged is set when the table already held this export and nothing
	// was loaded; LoadedAt is then when it was published.
	Unchanged bool
	LoadedAt  time.Time
	// FilesCopied counts the data files this process copied.
	FilesCopied int
	// PublishedBy is the worker that published the load ([Config.WorkerName]),
	// this one's own name when this process did; it can be empty for a copy
	// published before workers were recorded.
	PublishedBy string
	// Published is set when this process published the load.
	Published bool
}

// Run copies a verified export into a fresh table and publishes it as the
// layout's data table in one transaction, replacing the previous copy.
//
// Each data file is copied in its own transaction together with its row in
// ddbsync.load_files, after its MD5 and item count have been verified, so a
// load that stops at any point resumes, when run again with the same export,
// at the next unfinished file without duplicating or losing an item. Readers
// of the data table see the previous copy until the publishing transaction
// commits, and the complete new one after. A load of a different export
// abandons an unfinished one. Nothing is published when any check fails.
func Run(ctx context.Context, pool *pgxpool.Pool, exp *snapshot.Export, cfg Config) (Result, error) {
	start := time.Now()
	log, stats, workers := withDefaults(cfg.Logger, cfg.Stats, cfg.Workers)
	name := cfg.WorkerName
	if name == "" {
		name = WorkerName()
	}
	l := cfg.Layout
	l.Doc = false
	if cfg.Doc != nil {
		l.Doc = *cfg.Doc
	}
	res := Result{Table: l.Ident(), ExportArn: exp.ID(), Files: len(exp.Files)}
	if exp.Summary.ExportTime != nil {
		res.ExportTime = *exp.Summary.ExportTime
	}

	// One load per table at a time, or many workers of one load.
	lockTable := store.LockTable
	if cfg.Worker {
		lockTable = store.LockTableShared
	}
	lock, err := lockTable(ctx, pool, store.LockWait(cfg.LockTimeout), store.LockLoad, l.Table)
	if err != nil {
		return res, err
	}
	defer lock.Release(ctx)

	cur, err := checkTarget(ctx, pool, l, cfg.MoveSchema)
	if err != nil {
		return res, err
	}
	if cfg.Doc == nil && cur != nil && cur.exists {
		l.Doc = cur.doc
	}
	res.Doc = l.Doc
	if cur.holds(exp, l) && !cfg.Force {
		return unchanged(ctx, pool, res, cur, l, exp, log)
	}
	var loadID int64
	var done map[string]int64
	if cfg.Worker {
		var published *publishedCopy
		loadID, done, published, err = joinLoad(ctx, pool, exp, l, cfg.MoveSchema)
		if err == nil && published != nil {
			return unchanged(ctx, pool, res, published, l, exp, log)
		}
	} else {
		loadID, done, err = beginLoad(ctx, pool, exp, l, log)
	}
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

	c := copier{pool: pool, exp: exp, loadID: loadID, loadTable: loadTable, layout: l, worker: name,
		exportTime: res.ExportTime, stats: &stats.ReadStats, log: log}
	// First the files nobody is copying; then each file another session was
	// copying, waiting for it to commit, or to die and leave the file to us.
	busy, copied, err := c.copyAll(ctx, todo, workers, false)
	if err == nil && len(busy) > 0 {
		var more int
		_, more, err = c.copyAll(ctx, busy, workers, true)
		copied += more
	}
	res.FilesCopied = copied
	if err != nil {
		return res, fmt.Errorf("loading %s: %w", l.Table, err)
	}
	res.Bytes = stats.BytesDone.Load()

	pub := publication{exp: exp, layout: l, loadID: loadID, loadTable: loadTable, worker: name, log: log,
		history: cfg.History, retention: cfg.HistoryRetention}
	var items int64
	if cfg.Worker {
		items, res.PublishedBy, err = publishAsWorker(ctx, pool, pub)
		res.Published = err == nil && res.PublishedBy == name
	} else {
		items, err = publish(ctx, pool, pub)
		res.PublishedBy, res.Published = name, err == nil
	}
	if err != nil {
		return res, fmt.Errorf("loading %s: %w", l.Table, err)
	}
	if _, err := store.PruneHistory(ctx, pool, l); err != nil {
		return res, fmt.Errorf("loading %s: %w", l.Table, err)
	}
	res.Items = items
	res.Duration = time.Since(start)
	log.Info("load published", slog.String("table", l.Table), slog.String("pg_table", l.Ident().Sanitize()),
		slog.Int64("items", items), slog.Duration("duration", res.Duration))
	return res, nil
}

// unchanged is the result of a load of the export the table's copy c
// already holds.
func unchanged(ctx context.Context, pool *pgxpool.Pool, res Result, c *publishedCopy, l reconcile.Layout, exp *snapshot.Export, log *slog.Logger) (Result, error) {
	res.Unchanged, res.LoadedAt, res.Items, res.Doc = true, c.loadedAt, c.items, c.doc
	by, err := store.Loads.PublishedBy(ctx, pool, l.Table)
	if err != nil {
		return res, fmt.Errorf("loading %s: reading who published its copy: %w", l.Table, err)
	}
	res.PublishedBy = by
	log.Info("table already holds this export; nothing to do", slog.String("table", l.Table), slog.String("export_arn", exp.ID()),
		slog.String("published_by", by))
	return res, nil
}

// joinLoad is beginLoad for a worker: it joins the table's unfinished load
// of exp, or begins it when there is none, and refuses to abandon a load of
// another export, which other workers may be copying. It returns the
// published copy instead when another worker published exp's load
// meanwhile.
//
// Workers join under the publish lock, taken for the joining transaction:
// a worker that found no unfinished load because it was being published
// this very moment then sees the publication instead of beginning a
// second load of the export, and two workers starting at once do not both
// begin one.
func joinLoad(ctx context.Context, pool *pgxpool.Pool, exp *snapshot.Export, l reconcile.Layout, move bool) (int64, map[string]int64, *publishedCopy, error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return 0, nil, nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := store.LockInTx(ctx, tx, store.LockPublish, l.Table); err != nil {
		return 0, nil, nil, fmt.Errorf("taking the publish lock: %w", err)
	}
	cur, err := checkTarget(ctx, pool, l, move)
	if err != nil {
		return 0, nil, nil, err
	}
	if cur.holds(exp, l) {
		return 0, nil, cur, nil
	}
	unfinished, err := store.Loads.Unfinished(ctx, tx, l.Table)
	if err != nil {
		return 0, nil, nil, err
	}
	if unfinished == nil {
		id, err := store.Loads.Begin(ctx, tx, newLoad(exp, l), l)
		if err != nil {
			return 0, nil, nil, err
		}
		return id, map[string]int64{}, nil, tx.Commit(ctx)
	}
	same, err := sameLoad(ctx, tx, unfinished, exp, l)
	if err != nil {
		return 0, nil, nil, err
	}
	if !same {
		return 0, nil, nil, fmt.Errorf("%w: load %d of export %s is unfinished, and other workers may be copying it: "+
			"run the workers with that export, or discard it with a load without --worker and with --restart",
			reconcile.ErrUnfinishedLoad, unfinished.ID, unfinished.ExportArn)
	}
	done, err := loadedFiles(ctx, tx, exp, unfinished.ID)
	if err != nil {
		return 0, nil, nil, err
	}
	return unfinished.ID, done, nil, tx.Commit(ctx)
}

// publishedCopy is the table's published copy, as ddbsync.tables records it.
type publishedCopy struct {
	schema, name string
	exportArn    string
	keySchema    string
	loadedAt     time.Time
	items        int64
	exists       bool // the relation is still there
	doc          bool // it has the doc column
}

// holds tells whether the copy is l's table loaded from exp, where l puts it.
func (c *publishedCopy) holds(exp *snapshot.Export, l reconcile.Layout) bool {
	return c != nil && c.exists && c.schema == l.Schema && c.name == l.Name &&
		c.exportArn == exp.ID() && c.keySchema == l.Key.String() && c.doc == l.Doc
}

// checkTarget refuses to replace a table ddbsync did not create, and to
// leave the table's copy behind in another schema unless move is set. It
// returns the published copy, nil when there is none.
func checkTarget(ctx context.Context, pool *pgxpool.Pool, l reconcile.Layout, move bool) (*publishedCopy, error) {
	exists, ours, err := store.Tables.Occupant(ctx, pool, l.Schema, l.Name)
	if err != nil {
		return nil, fmt.Errorf("loading %s: checking %s: %w", l.Table, l.Ident().Sanitize(), err)
	}
	if exists && !ours {
		return nil, fmt.Errorf("loading %s: %s: %w, so a load will not replace it",
			l.Table, l.Ident().Sanitize(), reconcile.ErrTableNotOurs)
	}
	other, err := store.Tables.OtherHolder(ctx, pool, l.Schema, l.Name, l.Table)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", l.Table, err)
	}
	if other != "" {
		return nil, fmt.Errorf("loading %s: %w: %s holds DynamoDB table %s's copy",
			l.Table, reconcile.ErrTableTaken, l.Ident().Sanitize(), other)
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
	from := pgx.Identifier{c.schema, c.name}
	if c.exists && from.Sanitize() != l.Ident().Sanitize() && !move {
		return nil, &reconcile.SchemaMovedError{Table: l.Table, CopySchema: c.schema, Copy: from.Sanitize(), Target: l.Ident().Sanitize()}
	}
	if c.exists {
		if c.doc, err = store.HasDoc(ctx, pool, from); err != nil {
			return nil, fmt.Errorf("loading %s: reading its published copy: %w", l.Table, err)
		}
	}
	return &c, nil
}

// beginLoad resumes the table's unfinished load of the same export, or
// abandons an unfinished load of another export and starts a new one. It
// returns the load id and the files already loaded, with their item counts.
func beginLoad(ctx context.Context, pool *pgxpool.Pool, exp *snapshot.Export, l reconcile.Layout, log *slog.Logger) (int64, map[string]int64, error) {
	cur, err := store.Loads.Unfinished(ctx, pool, l.Table)
	if err != nil {
		return 0, nil, err
	}
	same := false
	if cur != nil {
		if same, err = sameLoad(ctx, pool, cur, exp, l); err != nil {
			return 0, nil, err
		}
	}
	switch {
	case same:
		done, err := loadedFiles(ctx, pool, exp, cur.ID)
		return cur.ID, done, err
	case cur != nil:
		log.Info("abandoning an unfinished load of another export, key, place or doc choice", slog.String("table", l.Table),
			slog.Int64("load_id", cur.ID), slog.String("export_arn", cur.ExportArn))
		if err := abandon(ctx, pool, cur.ID); err != nil {
			return 0, nil, err
		}
	}

	tx, err := pool.Begin(ctx)
	if err != nil {
		return 0, nil, err
	}
	defer tx.Rollback(ctx)
	id, err := store.Loads.Begin(ctx, tx, newLoad(exp, l), l)
	if err != nil {
		return 0, nil, err
	}
	return id, map[string]int64{}, tx.Commit(ctx)
}

// newLoad is the bookkeeping row of a load of exp into l.
func newLoad(exp *snapshot.Export, l reconcile.Layout) store.Load {
	return store.Load{Table: l.Table, ExportArn: exp.ID(), ExportTime: exp.Summary.ExportTime,
		Source: exp.Source().String(), Schema: l.Schema, Name: l.Name, KeySchema: l.Key.String(),
		FilesTotal: len(exp.Files), ItemsTotal: exp.Summary.ItemCount}
}

// sameLoad tells whether the unfinished load cur is of exp into l, and can
// be resumed.
func sameLoad(ctx context.Context, q store.Querier, cur *store.Load, exp *snapshot.Export, l reconcile.Layout) (bool, error) {
	if cur.ExportArn != exp.ID() || cur.KeySchema != l.Key.String() || cur.Schema != l.Schema || cur.Name != l.Name {
		return false, nil
	}
	// A load table with the other doc choice is not this load's.
	has, err := store.HasDoc(ctx, q, store.LoadTable(cur.ID))
	return has == l.Doc, err
}

// loadedFiles returns the files load id has copied, with their item
// counts, after checking each against exp's manifest.
func loadedFiles(ctx context.Context, q store.Querier, exp *snapshot.Export, id int64) (map[string]int64, error) {
	files, err := store.LoadFiles.List(ctx, q, id)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]snapshot.DataFile, len(exp.Files))
	for _, f := range exp.Files {
		byName[f.Name] = f
	}
	done := make(map[string]int64, len(files))
	for _, lf := range files {
		if f, ok := byName[lf.Name]; !ok || f.MD5Checksum != lf.MD5 || f.ItemCount != lf.Items {
			return nil, fmt.Errorf("%w: unfinished load %d recorded file %s, which this export's manifest does not list as loaded",
				reconcile.ErrUnfinishedLoad, id, lf.Name)
		}
		done[lf.Name] = lf.Items
	}
	return done, nil
}

// Abandon drops the unfinished load of table, if any, so that the next
// load starts afresh. It reports whether there was one.
func Abandon(ctx context.Context, pool *pgxpool.Pool, table string) (bool, error) {
	cur, err := store.Loads.Unfinished(ctx, pool, table)
	if err != nil || cur == nil {
		return false, err
	}
	return true, abandon(ctx, pool, cur.ID)
}

func abandon(ctx context.Context, pool *pgxpool.Pool, id int64) error {
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

// copier copies the data files of one load.
type copier struct {
	pool       *pgxpool.Pool
	exp        *snapshot.Export
	loadID     int64
	loadTable  pgx.Identifier
	layout     reconcile.Layout
	worker     string
	exportTime time.Time
	stats      *reconcile.ReadStats
	log        *slog.Logger
}

// copyAll copies files, workers at a time. Without wait it skips the
// files another session is copying and returns them as busy; with wait it
// waits for each. It returns the number of files it copied.
func (c *copier) copyAll(ctx context.Context, files []snapshot.DataFile, workers int, wait bool) (busy []snapshot.DataFile, copied int, err error) {
	var mu sync.Mutex
	err = inParallel(ctx, files, workers, func() func(context.Context, snapshot.DataFile) error {
		return func(ctx context.Context, f snapshot.DataFile) error {
			o, err := c.copyFile(ctx, f, wait)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			switch o {
			case fileBusy:
				busy = append(busy, f)
			case fileCopied:
				copied++
				c.log.Debug("data file loaded", slog.String("table", c.layout.Table), slog.String("file", f.Name), slog.Int64("items", f.ItemCount))
			}
			return nil
		}
	})
	return busy, copied, err
}

// inParallel calls a function made by newWorker for each of items, with
// at most workers of them at once (each its own, so that it can keep state
// such as an encoder), and stops at the first error.
func inParallel[T any](ctx context.Context, items []T, workers int, newWorker func() func(context.Context, T) error) error {
	g, gctx := errgroup.WithContext(ctx)
	queue := make(chan T)
	g.Go(func() error {
		defer close(queue)
		for _, it := range items {
			select {
			case queue <- it:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	for range min(workers, max(1, len(items))) {
		work := newWorker()
		g.Go(func() error {
			for it := range queue {
				if err := work(gctx, it); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// fileOutcome is what became of one data file.
type fileOutcome int

const (
	fileCopied fileOutcome = iota // copied by this process
	fileDone                      // already copied, by another worker or an earlier run
	fileBusy                      // another session is copying it
)

// copyFile copies one data file in one transaction, with its bookkeeping row.
// The file's checks run as its last rows are read, before the COPY ends, so
// a file that fails them leaves nothing behind.
//
// The file is locked first, for the transaction: another worker skips it
// (without wait) or waits for it (with wait). Then its bookkeeping row is
// claimed. A load killed with SIGKILL may leave a server session that still
// commits its last file after a resumed load has listed the files done;
// the lock, and claiming the row, wait for that session and then find the
// file taken, instead of copying it twice.
func (c *copier) copyFile(ctx context.Context, f snapshot.DataFile, wait bool) (fileOutcome, error) {
	tx, err := c.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", f.Name, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	locked, err := store.LoadFiles.LockFile(ctx, tx, c.loadID, f.Name, c.worker, wait)
	if err != nil {
		return 0, fmt.Errorf("%s: locking: %w", f.Name, err)
	}
	if !locked {
		return fileBusy, nil
	}
	claimed, err := store.LoadFiles.Claim(ctx, tx, c.loadID, store.LoadFile{Name: f.Name, Items: f.ItemCount, MD5: f.MD5Checksum, Worker: c.worker})
	if err != nil {
		return 0, fmt.Errorf("%s: recording: %w", f.Name, err)
	}
	if !claimed {
		c.stats.FilesDone.Add(1)
		c.stats.ItemsDone.Add(f.ItemCount)
		return fileDone, nil
	}
	n, bytes, err := reconcile.CopyExportFile(ctx, tx, c.exp, f, c.loadTable, store.NewEncoder(c.layout, store.RowColumns),
		reconcile.Provenance{Origin: reconcile.OriginExport, Time: c.exportTime}, c.stats)
	if err != nil {
		return 0, err
	}
	if err := store.LoadFiles.Copied(ctx, tx, c.loadID, f.Name, n, bytes); err != nil {
		return 0, fmt.Errorf("%s: recording: %w", f.Name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("%s: committing: %w", f.Name, err)
	}
	c.stats.FilesDone.Add(1)
	return fileCopied, nil
}
