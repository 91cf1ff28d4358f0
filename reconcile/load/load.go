package load

import (
	"context"
	"fmt"
	"log/slog"
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
	// History turns the table's history on: the export's rows become its
	// versions at T, in the publishing transaction. Once on, it stays on
	// for later loads and follows (ddbsync.history records it).
	History bool
	// HistoryRetention, when positive, replaces the history's retention.
	HistoryRetention time.Duration
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
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stats := cfg.Stats
	if stats == nil {
		stats = &Stats{}
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = reconcile.DefaultWorkers()
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
	if cfg.Doc == nil && cur != nil && cur.exists {
		l.Doc = cur.doc
	}
	res.Doc = l.Doc
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

	items, err := publish(ctx, pool, publication{exp: exp, layout: l, loadID: loadID, loadTable: loadTable, log: log,
		history: cfg.History, retention: cfg.HistoryRetention})
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
	same := cur != nil && cur.ExportArn == exp.ID() && cur.KeySchema == l.Key.String() && cur.Schema == l.Schema && cur.Name == l.Name
	if same {
		// A load table with the other doc choice is not this load's.
		has, err := store.HasDoc(ctx, pool, store.LoadTable(cur.ID))
		if err != nil {
			return 0, nil, err
		}
		same = has == l.Doc
	}
	switch {
	case same:
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
					reconcile.ErrUnfinishedLoad, id, lf.Name)
			}
			done[lf.Name] = lf.Items
		}
		return id, done, nil
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
	id, err := store.Loads.Begin(ctx, tx, store.Load{Table: l.Table, ExportArn: exp.ID(), ExportTime: exp.Summary.ExportTime,
		Source: exp.Source().String(), Schema: l.Schema, Name: l.Name, KeySchema: l.Key.String(),
		FilesTotal: len(exp.Files), ItemsTotal: exp.Summary.ItemCount}, l)
	if err != nil {
		return 0, nil, err
	}
	return id, map[string]int64{}, tx.Commit(ctx)
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

// copyFile copies one data file in one transaction, with its bookkeeping row.
// The file's checks run as its last rows are read, before the COPY ends, so
// a file that fails them leaves nothing behind.
//
// The bookkeeping row is claimed first. A load killed with SIGKILL may leave
// a server session that still commits its last file after a resumed load
// has listed the files done; claiming the row waits for that session and
// then finds the file taken, instead of copying it twice.
func copyFile(ctx context.Context, pool *pgxpool.Pool, exp *snapshot.Export, f snapshot.DataFile,
	loadID int64, loadTable pgx.Identifier, l reconcile.Layout, exportTime time.Time, stats *reconcile.ReadStats) error {
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
	n, bytes, err := reconcile.CopyExportFile(ctx, tx, exp, f, loadTable, store.NewEncoder(l, store.RowColumns),
		reconcile.Provenance{Origin: reconcile.OriginExport, Time: exportTime}, stats)
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
