package load

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/store"
	"github.com/ddbsync/ddbsync/snapshot"
)

// DefaultSkew is the replay margin: how much earlier than the copy's
// instant a full export's (or a watermark's) coverage is trusted, as
// follow's replay start does (follow.DefaultReplayMargin).
const DefaultSkew = 5 * time.Minute

// IncrementalConfig configures [RunIncremental].
type IncrementalConfig struct {
	// Table is the DynamoDB table; its copy must have been loaded.
	Table string
	// Skew is the replay margin (default [DefaultSkew]): see
	// [reconcile.Coverage.Complete].
	Skew time.Duration
	// Workers is the number of data files staged at once (default:
	// [reconcile.DefaultWorkers]).
	Workers int
	// Stats, when set, is updated as the changes are staged.
	Stats *Stats
	// Logger receives lifecycle events (default: discard).
	Logger *slog.Logger
	// LockTimeout is how long to wait for another ddbsync process to let
	// go of the table (0: [reconcile.DefaultLockTimeout]; negative: do not
	// wait).
	LockTimeout time.Duration
	// LocksHeld tells that the caller holds the table's load and follow
	// locks already (heal and sync, across several exports); otherwise
	// RunIncremental takes them.
	LocksHeld bool
	// PublishWatermark publishes W = the export's end with the apply, for
	// a table kept by incremental exports alone (sync). Otherwise the
	// follow state is reset, as after a full load: the next follow starts
	// from the export's end minus the replay margin.
	PublishWatermark bool
}

// IncrementalResult describes an incremental export applied.
type IncrementalResult struct {
	LoadID    int64
	Table     pgx.Identifier
	ExportArn string
	// From and To are the export's window; To is the copy's instant after
	// the apply.
	From, To     time.Time
	View         snapshot.ViewType
	Changes      int64 // the export's changes (lines)
	Files        int
	FilesResumed int   // data files an interrupted run had staged
	Bytes        int64 // compressed bytes read by this run
	Applied      store.Applied
	Duration     time.Duration
	// Unchanged is set when the copy was already as of To or later and
	// nothing was applied; AsOf is then the copy's instant.
	Unchanged bool
	AsOf      time.Time
}

// RunIncremental applies an incremental export onto the table's published
// copy: for each key the export's change (the item's last write in the
// window) replaces the row with its new image, or deletes it, recording a
// tombstone. The incremental export defines the rows of the keys it holds
// as of its end, To, even where the copy had a later image from the stream:
// following restarts from To minus the replay margin and replays those.
//
// It refuses, applying nothing, an export whose window does not fit the
// copy, a [*reconcile.WindowError]: one that starts after the copy is
// complete ([reconcile.Coverage.Complete]: the writes in between would be
// missing), or more than [reconcile.FullExportFuzz] before the instant of
// rows loaded from a full export. AWS leaves out of an incremental export
// the items created and deleted inside its window; where the window starts
// before the copy's instant, the rows of such items whose write time is
// known (from the stream, or an earlier incremental export) are deleted
// too ([store.ApplyIncremental]), while rows loaded from an export carry
// no write time. An export that ends at or before the copy's instant
// changes nothing (Unchanged).
//
// Like [Run] it is resumable per file and atomic for readers: each data
// file is verified and staged in its own transaction together with its
// ddbsync.load_files row, and the stage is applied in one transaction,
// which also moves the copy's instant T to To (exact) and resets the follow
// state (or, with PublishWatermark, publishes W = To). A rerun after an
// interruption at any point stages only the files not yet staged.
func RunIncremental(ctx context.Context, pool *pgxpool.Pool, exp *snapshot.IncrementalExport, cfg IncrementalConfig) (IncrementalResult, error) {
	start := time.Now()
	log, stats, workers := withDefaults(cfg.Logger, cfg.Stats, cfg.Workers)
	skew := cfg.Skew
	if skew <= 0 {
		skew = DefaultSkew
	}
	res := IncrementalResult{ExportArn: exp.ID(), From: exp.From, To: exp.To, View: exp.View,
		Changes: exp.Summary.ItemCount, Files: len(exp.Files)}
	if n := exp.Summary.TableName(); n != "" && n != cfg.Table {
		return res, fmt.Errorf("applying %s: the incremental export is of table %s, not %s", exp.ID(), n, cfg.Table)
	}
	if !cfg.LocksHeld {
		lock, err := store.LockTables(ctx, pool, store.LockWait(cfg.LockTimeout), cfg.Table, store.LockLoad, store.LockFollow)
		if err != nil {
			return res, err
		}
		defer lock.Release(ctx)
	}
	cov, err := reconcile.ReadCoverage(ctx, pool, cfg.Table)
	if err != nil {
		return res, err
	}
	l := cov.Layout
	res.Table = l.Ident()
	// Instants are compared to PostgreSQL's microsecond.
	if asOf := cov.AsOf(); !exp.To.After(asOf.Add(time.Microsecond)) {
		res.Unchanged, res.AsOf = true, asOf
		log.Info("the copy is already as of the export's end or later; nothing to do", slog.String("table", cfg.Table),
			slog.String("export_arn", exp.ID()), slog.Time("as_of", asOf), slog.Time("export_to", exp.To))
		return res, nil
	}
	complete := cov.Complete(skew)
	if exp.From.After(complete.Add(time.Microsecond)) {
		return res, &reconcile.WindowError{Table: cfg.Table, From: exp.From, To: exp.To, Complete: complete}
	}
	// A window that starts before the copy's instant may meet rows of
	// items it leaves out (created and deleted inside it): those whose
	// write time is known are swept; those loaded from an export are not
	// dated, so the window may not reach back before their instant.
	var sweep *store.Sweep
	if exp.From.Before(cov.AsOf().Add(-time.Microsecond)) {
		undated, err := store.LatestUndated(ctx, pool, l)
		if err != nil {
			return res, fmt.Errorf("applying %s to %s: %w", exp.ID(), cfg.Table, err)
		}
		if undated != nil && exp.From.Before(undated.Add(-reconcile.FullExportFuzz)) {
			return res, &reconcile.WindowError{Table: cfg.Table, From: exp.From, To: exp.To, Complete: complete, Undated: undated}
		}
		sweep = &store.Sweep{From: exp.From, To: exp.To}
	}

	id, done, err := beginIncremental(ctx, pool, exp, l, log)
	if err != nil {
		return res, fmt.Errorf("applying %s to %s: %w", exp.ID(), cfg.Table, err)
	}
	res.LoadID = id
	stage := store.LoadTable(id)
	var todo []int
	var resumedItems int64
	for i, f := range exp.Files {
		if n, ok := done[f.Name]; ok {
			res.FilesResumed++
			resumedItems += n
			continue
		}
		todo = append(todo, i)
	}
	stats.FilesTotal.Store(int64(len(exp.Files)))
	stats.ItemsTotal.Store(exp.Summary.ItemCount)
	stats.FilesResumed.Store(int64(res.FilesResumed))
	stats.FilesDone.Store(int64(res.FilesResumed))
	stats.ItemsDone.Store(resumedItems)
	if res.FilesResumed > 0 {
		log.Info("resuming an incremental export", slog.String("table", cfg.Table), slog.Int64("load_id", id),
			slog.Int("files_done", res.FilesResumed), slog.Int("files_left", len(todo)))
	}

	err = inParallel(ctx, todo, workers, func() func(context.Context, int) error {
		enc := store.NewChangeEncoder(l)
		return func(ctx context.Context, i int) error {
			return stageFile(ctx, pool, exp, i, id, stage, enc, &stats.ReadStats)
		}
	})
	if err != nil {
		return res, fmt.Errorf("applying %s to %s: %w", exp.ID(), cfg.Table, err)
	}
	res.Bytes = stats.BytesDone.Load()

	if res.Applied, err = applyStaged(ctx, pool, exp, cov, id, skew, sweep, cfg.PublishWatermark); err != nil {
		return res, fmt.Errorf("applying %s to %s: %w", exp.ID(), cfg.Table, err)
	}
	res.Duration = time.Since(start)
	log.Info("incremental export applied", slog.String("table", cfg.Table), slog.String("export_arn", exp.ID()),
		slog.Time("export_from", exp.From), slog.Time("export_to", exp.To), slog.Int64("upserted", res.Applied.Upserted),
		slog.Int64("deleted", res.Applied.Deleted), slog.Duration("duration", res.Duration))
	return res, nil
}

// beginIncremental resumes the table's unfinished load of the same
// incremental export, or abandons any other unfinished load and starts a
// new one. It returns the load id and the files already staged, with their
// item counts. A stage that lost rows (a server crash empties an unlogged
// table) is staged again from the start.
func beginIncremental(ctx context.Context, pool *pgxpool.Pool, exp *snapshot.IncrementalExport, l reconcile.Layout,
	log *slog.Logger) (int64, map[string]int64, error) {
	cur, err := store.Loads.Unfinished(ctx, pool, l.Table)
	if err != nil {
		return 0, nil, err
	}
	if cur != nil && cur.ExportArn == exp.ID() && cur.KeySchema == l.Key.String() && cur.Schema == l.Schema && cur.Name == l.Name {
		typ, err := store.Loads.ExportType(ctx, pool, cur.ID)
		if err != nil {
			return 0, nil, err
		}
		if typ == string(store.ExportIncremental) {
			done, err := stagedFiles(ctx, pool, exp, cur.ID)
			if err != nil {
				return 0, nil, err
			}
			return cur.ID, done, nil
		}
	}
	if cur != nil {
		log.Info("abandoning an unfinished load of another export", slog.String("table", l.Table),
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
	id, err := store.Loads.BeginIncremental(ctx, tx, store.Incremental{
		Load: store.Load{Table: l.Table, ExportArn: exp.ID(), Source: exp.Source().String(), Schema: l.Schema, Name: l.Name,
			KeySchema: l.Key.String(), FilesTotal: len(exp.Files), ItemsTotal: exp.Summary.ItemCount},
		From: exp.From, To: exp.To}, l)
	if err != nil {
		return 0, nil, err
	}
	return id, map[string]int64{}, tx.Commit(ctx)
}

// stagedFiles returns the files unfinished load id has staged, after
// checking them against the export's manifest and the stage's rows.
func stagedFiles(ctx context.Context, pool *pgxpool.Pool, exp *snapshot.IncrementalExport, id int64) (map[string]int64, error) {
	files, err := store.LoadFiles.List(ctx, pool, id)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]snapshot.DataFile, len(exp.Files))
	for _, f := range exp.Files {
		byName[f.Name] = f
	}
	done := make(map[string]int64, len(files))
	var items int64
	for _, lf := range files {
		if f, ok := byName[lf.Name]; !ok || f.MD5Checksum != lf.MD5 || f.ItemCount != lf.Items {
			return nil, fmt.Errorf("%w: unfinished load %d recorded file %s, which this export's manifest does not list as staged",
				reconcile.ErrUnfinishedLoad, id, lf.Name)
		}
		done[lf.Name] = lf.Items
		items += lf.Items
	}
	stage := store.LoadTable(id)
	rows, err := store.StagedRows(ctx, pool, stage)
	if err != nil {
		return nil, err
	}
	if rows == items {
		return done, nil
	}
	// The stage is unlogged: a crash of the server empties it, while the
	// files' records stay. Stage everything again.
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return store.RestartStage(ctx, tx, id, stage) }); err != nil {
		return nil, err
	}
	return map[string]int64{}, nil
}

// stageFile copies the changes of data file i into the stage, in one
// transaction with its bookkeeping row, after its checks (MD5, count, every
// line a change of the export's view) pass: a file that fails them leaves
// nothing behind. As with [Run], the row is claimed first, so a killed
// run's session that still commits the file makes this one skip it.
func stageFile(ctx context.Context, pool *pgxpool.Pool, exp *snapshot.IncrementalExport, i int, id int64,
	stage pgx.Identifier, enc *store.ChangeEncoder, stats *reconcile.ReadStats) error {
	f := exp.Files[i]
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", f.Name, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	claimed, err := store.LoadFiles.Claim(ctx, tx, id, store.LoadFile{Name: f.Name, Items: f.ItemCount, MD5: f.MD5Checksum})
	if err != nil {
		return fmt.Errorf("%s: recording: %w", f.Name, err)
	}
	if !claimed {
		stats.FilesDone.Add(1)
		stats.ItemsDone.Add(f.ItemCount)
		return nil
	}
	r, err := exp.OpenFile(ctx, f)
	if err != nil {
		return err
	}
	defer r.Close()
	src := &changeSource{r: r, file: f.Name, ord: int64(i) << 32, enc: enc, stats: stats}
	n, err := tx.CopyFrom(ctx, stage, enc.Columns(), src)
	if err != nil {
		// pgx reports a source's error as the server's COPY failure, as
		// text; the source still holds the original, with its type.
		if serr := src.Err(); serr != nil {
			return serr
		}
		return fmt.Errorf("%s: staging: %w", f.Name, err)
	}
	if n != f.ItemCount {
		return fmt.Errorf("%s: staged %d changes, manifest says %d", f.Name, n, f.ItemCount)
	}
	if err := store.LoadFiles.Copied(ctx, tx, id, f.Name, n, r.BytesRead()); err != nil {
		return fmt.Errorf("%s: recording: %w", f.Name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("%s: committing: %w", f.Name, err)
	}
	stats.FilesDone.Add(1)
	return nil
}

// changeSource is a pgx.CopyFromSource over the changes of one data file,
// counted into the progress as they are read.
type changeSource struct {
	r     *snapshot.ChangeReader
	file  string
	ord   int64
	enc   *store.ChangeEncoder
	stats *reconcile.ReadStats
	vals  []any
	err   error

	unseen, bytes int64
}

func (s *changeSource) Next() bool {
	if s.err != nil || !s.r.Next() {
		s.flush()
		return false
	}
	c := s.r.Change()
	s.vals, s.err = s.enc.Encode(c.Keys, c.NewImage, c.WriteTime, s.ord|int64(s.r.Line()))
	if s.err != nil {
		s.err = &snapshot.FileError{File: s.file, Line: s.r.Line(), Err: fmt.Errorf("%w: %w", snapshot.ErrCorrupt, s.err)}
		return false
	}
	// Progress counters are shared by all workers: update them in steps.
	if s.unseen++; s.unseen == 1024 {
		s.flush()
	}
	return true
}

func (s *changeSource) flush() {
	s.stats.ItemsDone.Add(s.unseen)
	s.unseen = 0
	b := s.r.BytesRead()
	s.stats.BytesDone.Add(b - s.bytes)
	s.bytes = b
}

func (s *changeSource) Values() ([]any, error) { return s.vals, nil }

func (s *changeSource) Err() error {
	if s.err != nil {
		return s.err
	}
	return s.r.Err()
}

// applyStaged checks the stage is complete and applies it in one
// transaction with the copy's new instant and follow state.
func applyStaged(ctx context.Context, pool *pgxpool.Pool, exp *snapshot.IncrementalExport, cov reconcile.Coverage,
	id int64, skew time.Duration, sweep *store.Sweep, publishW bool) (store.Applied, error) {
	l := cov.Layout
	stage := store.LoadTable(id)
	files, items, err := store.LoadFiles.Totals(ctx, pool, id)
	if err != nil {
		return store.Applied{}, err
	}
	if files != int64(len(exp.Files)) || items != exp.Summary.ItemCount {
		return store.Applied{}, fmt.Errorf("%w: staged %d files with %d changes, the export has %d files with %d changes",
			snapshot.ErrCount, files, items, len(exp.Files), exp.Summary.ItemCount)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return store.Applied{}, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if rows, err := store.StagedRows(ctx, tx, stage); err != nil {
		return store.Applied{}, err
	} else if rows != items {
		return store.Applied{}, fmt.Errorf("the stage holds %d of the %d changes staged (was the server restarted? "+
			"an unlogged table is emptied): run the same command again to stage them again", rows, items)
	}
	if err := store.AllowOrigin(ctx, tx, l, reconcile.OriginIncremental); err != nil {
		return store.Applied{}, err
	}
	a, err := store.ApplyIncremental(ctx, tx, l, stage, l.Table, sweep)
	if err != nil {
		return a, err
	}
	if hist, err := store.History.Get(ctx, tx, l.Table); err != nil {
		return a, err
	} else if hist != nil {
		if err := store.RecordIncrementalHistory(ctx, tx, l, stage, hist.From); err != nil {
			return a, err
		}
	}
	if err := store.Tables.RecordIncremental(ctx, tx, l.Table, id, exp.ID(), exp.To, a.Inserted-a.Deleted-a.Swept); err != nil {
		return a, fmt.Errorf("recording the table: %w", err)
	}
	// The copy is now as of To: following restarts from there, as after a
	// full load (its shard checkpoints predate To).
	if err := store.Streams.Reset(ctx, tx, l.Table); err != nil {
		return a, fmt.Errorf("resetting the stream position: %w", err)
	}
	if publishW {
		if err := store.Streams.PublishSynced(ctx, tx, l.Table, exp.To.Add(-skew), exp.To); err != nil {
			return a, fmt.Errorf("publishing the watermark: %w", err)
		}
	}
	if err := store.Loads.MarkPublished(ctx, tx, id, ""); err != nil {
		return a, fmt.Errorf("recording the load: %w", err)
	}
	if err := store.DropStage(ctx, tx, stage); err != nil {
		return a, fmt.Errorf("dropping the stage: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return a, err
	}
	return a, nil
}
