package load

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/store"
	"github.com/ddbsync/ddbsync/snapshot"
)

// publication is a finished load about to be published.
type publication struct {
	exp       *snapshot.Export
	layout    reconcile.Layout
	loadID    int64
	loadTable pgx.Identifier
	worker    string // the process publishing, recorded as the load's publisher
	log       *slog.Logger
	history   bool          // turn the table's history on
	retention time.Duration // the history's retention, when positive
}

// publishAsWorker publishes the load unless another worker did: one at a
// time, under the table's publish lock, each waits for the one before it
// and then finds the load published. A publisher that dies releases the
// lock with its session, and the next worker publishes. It returns the
// items and the worker that published.
func publishAsWorker(ctx context.Context, pool *pgxpool.Pool, p publication) (int64, string, error) {
	lock, err := store.LockTable(ctx, pool, store.WaitForever, store.LockPublish, p.layout.Table)
	if err != nil {
		return 0, "", err
	}
	defer lock.Release(ctx)
	state, by, err := store.Loads.State(ctx, pool, p.loadID)
	if err != nil {
		return 0, "", err
	}
	switch state {
	case store.LoadPublished:
		_, items, err := store.LoadFiles.Totals(ctx, pool, p.loadID)
		return items, by, err
	case store.LoadAbandoned:
		return 0, "", fmt.Errorf("load %d was abandoned while this worker copied it (by a load with --restart, or of another export)", p.loadID)
	}
	items, err := publish(ctx, pool, p)
	return items, p.worker, err
}

// publish checks the load is complete, adds the primary key, and makes the
// load table the data table, all-or-nothing.
//
// A table with no published copy simply gets the load table. A reload
// keeps the published relation's dependents: when all of them are of kinds
// [store.CaptureCarry] re-creates (views, indexes, grants, comments, policies,
// owner), the old relation is dropped and the load table renamed into its
// place with them re-created, which rewrites no row; otherwise the rows are
// copied into the existing relation, which keeps everything but rewrites
// the data. Either way readers see the old rows until the commit and the
// new rows after it.
func publish(ctx context.Context, pool *pgxpool.Pool, p publication) (int64, error) {
	l := p.layout
	items, err := checkComplete(ctx, pool, p)
	if err != nil {
		return 0, err
	}
	tmpPK := store.LoadTableName(p.loadID) + "_pkey"
	if err := addPrimaryKey(ctx, pool, p, tmpPK); err != nil {
		return 0, err
	}

	for attempt := 1; ; attempt++ {
		err := publishTx(ctx, pool, p, tmpPK, items)
		if !errors.Is(err, errChangedMeanwhile) || attempt == 3 {
			return items, err
		}
		p.log.Info("what depends on the table changed while publishing; trying again", slog.String("table", l.Table))
	}
}

// errChangedMeanwhile is a dependent of the published table created or
// changed while the publishing transaction re-created its views.
var errChangedMeanwhile = errors.New("what depends on the table changed while publishing")

func publishTx(ctx context.Context, pool *pgxpool.Pool, p publication, tmpPK string, items int64) error {
	l := p.layout
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// Generated SQL then names every object with its schema.
	if err := store.BeginPublish(ctx, tx, l.Schema); err != nil {
		return fmt.Errorf("publishing: %w", err)
	}
	if state, _, err := store.Loads.LockState(ctx, tx, p.loadID); err != nil {
		return fmt.Errorf("publishing: %w", err)
	} else if state != store.LoadLoading {
		return fmt.Errorf("publishing: load %d is %s, no longer loading", p.loadID, state)
	}
	old, comment, err := claimPublished(ctx, tx, l)
	if err != nil {
		return fmt.Errorf("publishing: %w", err)
	}
	if old == 0 {
		err = moveIn(ctx, tx, p, tmpPK)
	} else {
		err = replace(ctx, tx, p, old, tmpPK)
	}
	if err != nil {
		return fmt.Errorf("publishing: %w", err)
	}
	if err := setComment(ctx, tx, p, comment); err != nil {
		return fmt.Errorf("publishing: %w", err)
	}
	if err := recordPublished(ctx, tx, p, items); err != nil {
		return fmt.Errorf("publishing: %w", err)
	}
	if err := startHistory(ctx, tx, p); err != nil {
		return fmt.Errorf("publishing: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("publishing: %w", err)
	}
	return nil
}

func checkComplete(ctx context.Context, pool *pgxpool.Pool, p publication) (int64, error) {
	files, items, err := store.LoadFiles.Totals(ctx, pool, p.loadID)
	if err != nil {
		return 0, err
	}
	if files != int64(len(p.exp.Files)) || items != p.exp.Summary.ItemCount {
		return 0, fmt.Errorf("%w: loaded %d files with %d items, the export has %d files with %d items",
			snapshot.ErrCount, files, items, len(p.exp.Files), p.exp.Summary.ItemCount)
	}
	return items, nil
}

// addPrimaryKey adds the load table's primary key, unless an earlier,
// interrupted publish did, outside the publishing transaction so that
// readers are not blocked while it builds.
//
// The load table is locked first. A load killed with SIGKILL while adding
// the key leaves a server session that goes on adding it, and commits;
// the lock waits for that session, and then the key is there.
func addPrimaryKey(ctx context.Context, pool *pgxpool.Pool, p publication, name string) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := store.LockExclusive(ctx, tx, p.loadTable); err != nil {
		return fmt.Errorf("locking the load table: %w", err)
	}
	hasPK, err := store.HasConstraint(ctx, tx, store.BookkeepingSchema, name)
	if err != nil || hasPK {
		return err
	}
	if err := store.AddPrimaryKey(ctx, tx, p.layout, p.loadTable, name); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			return fmt.Errorf("%w: %w (%s)", snapshot.ErrCorrupt, reconcile.ErrDuplicateKey, pgErr.Detail)
		}
		return fmt.Errorf("adding the primary key: %w", err)
	}
	return tx.Commit(ctx)
}

// claimPublished finds the table's published copy and moves it to the
// layout's schema and name if it lives elsewhere ([Config.MoveSchema]:
// a relation moves with its indexes, policies and grants, and views follow
// it). It returns its oid (0 when there is none) and its comment.
func claimPublished(ctx context.Context, tx pgx.Tx, l reconcile.Layout) (uint32, *string, error) {
	old, schema, name, comment, err := store.Tables.Relation(ctx, tx, l.Table)
	if err != nil {
		return 0, nil, fmt.Errorf("finding the published copy: %w", err)
	}
	if old == 0 {
		return 0, nil, nil
	}
	if schema != l.Schema {
		if err := store.SetSchema(ctx, tx, pgx.Identifier{schema, name}, l.Schema); err != nil {
			return 0, nil, fmt.Errorf("moving %s to schema %s: %w", pgx.Identifier{schema, name}.Sanitize(), l.Schema, err)
		}
	}
	if name != l.Name {
		if err := store.Rename(ctx, tx, pgx.Identifier{l.Schema, name}, l.Name); err != nil {
			return 0, nil, fmt.Errorf("renaming %s: %w", pgx.Identifier{l.Schema, name}.Sanitize(), err)
		}
	}
	return old, comment, nil
}

// moveIn renames the load table to the data table's name.
func moveIn(ctx context.Context, tx pgx.Tx, p publication, tmpPK string) error {
	l := p.layout
	pkName := l.Name + "_pkey"
	if len(pkName) > store.MaxIdentLen {
		pkName = tmpPK
	}
	return store.SwapIn(ctx, tx, l, p.loadTable, tmpPK, pkName)
}

// replace puts the load table's rows in place of those of the published
// relation old, keeping what was built on it.
func replace(ctx context.Context, tx pgx.Tx, p publication, old uint32, tmpPK string) error {
	load, err := store.RelationOID(ctx, tx, p.loadTable)
	if err != nil {
		return fmt.Errorf("finding the load table: %w", err)
	}
	ident := p.layout.Ident().Sanitize()
	plan, err := store.CaptureCarry(ctx, tx, old, load)
	if err != nil {
		return fmt.Errorf("reading what depends on %s: %w", ident, err)
	}
	if len(plan.Foreign) > 0 {
		p.log.Info("publishing by copying the rows: the table has dependents ddbsync does not re-create",
			slog.String("table", p.layout.Table), slog.String("dependents", strings.Join(plan.Foreign, "; ")))
		return copyRows(ctx, tx, p, plan.Foreign)
	}
	// Readers of a view lock it before the table under it: drop the views,
	// outermost first, before locking the table, or they could deadlock.
	if err := plan.DropViews(ctx, tx); err != nil {
		return err
	}
	if err := store.LockExclusive(ctx, tx, p.layout.Ident()); err != nil {
		return fmt.Errorf("locking %s: %w", ident, err)
	}
	// Nothing may have been built on the table between the capture and the
	// lock: compare with what it has now that nobody else can change it.
	now, err := store.CaptureCarry(ctx, tx, old, load)
	if err != nil {
		return fmt.Errorf("reading what depends on %s: %w", ident, err)
	}
	if !plan.Unchanged(now) {
		return errChangedMeanwhile
	}
	if err := store.DropTable(ctx, tx, p.layout.Ident()); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "2BP01" {
			return fmt.Errorf("%s has dependent objects ddbsync did not expect (%s): %w", p.layout.Ident().Sanitize(), pgErr.Detail, err)
		}
		return err
	}
	if err := moveIn(ctx, tx, p, tmpPK); err != nil {
		return err
	}
	return plan.Restore(ctx, tx)
}

// copyRows replaces the published relation's rows with the load table's.
// It rewrites every row (a 200,000-item table takes about 20 s where
// renaming takes well under one), but keeps whatever depends on the
// relation. Row triggers on the table fire.
func copyRows(ctx context.Context, tx pgx.Tx, p publication, why []string) error {
	// The rows go into the relation as it is: its columns stay.
	has, err := store.HasDoc(ctx, tx, p.layout.Ident())
	if err != nil {
		return err
	}
	if has != p.layout.Doc {
		return fmt.Errorf("%s has dependents ddbsync cannot re-create (%s), so its columns cannot change: load it with --doc=%t",
			p.layout.Ident().Sanitize(), strings.Join(why, "; "), has)
	}
	if err := store.CopyInto(ctx, tx, p.layout, p.loadTable); err != nil {
		return fmt.Errorf("copying the rows into %s, whose dependents (%s) ddbsync cannot re-create: %w",
			p.layout.Ident().Sanitize(), strings.Join(why, "; "), err)
	}
	return nil
}

// setComment keeps a comment a user gave the table and otherwise says
// which export ddbsync loaded it from.
func setComment(ctx context.Context, tx pgx.Tx, p publication, old *string) error {
	l := p.layout
	comment := fmt.Sprintf("%s: loaded from export %s", ourCommentPrefix(l), p.exp.ID())
	if old != nil && !strings.HasPrefix(*old, ourCommentPrefix(l)) {
		comment = *old
	}
	if err := store.CommentOnTable(ctx, tx, l, comment); err != nil {
		return fmt.Errorf("commenting the table: %w", err)
	}
	return nil
}

func ourCommentPrefix(l reconcile.Layout) string {
	return fmt.Sprintf("DynamoDB table %s, managed by ddbsync", l.Table)
}

// recordPublished updates the bookkeeping: the table's new copy, and the
// follow position reset, since the copy now reflects the export's instant.
func recordPublished(ctx context.Context, tx pgx.Tx, p publication, items int64) error {
	l := p.layout
	if err := store.Tables.RecordPublished(ctx, tx, store.Publication{Layout: l, LoadID: p.loadID, ExportArn: p.exp.ID(),
		ExportTime: p.exp.Summary.ExportTime, Items: items}); err != nil {
		return fmt.Errorf("recording the table: %w", err)
	}
	if err := store.Streams.Reset(ctx, tx, l.Table); err != nil {
		return fmt.Errorf("resetting the stream position: %w", err)
	}
	if err := store.Tombstones.Clear(ctx, tx, l.Table); err != nil {
		return fmt.Errorf("clearing tombstones: %w", err)
	}
	if err := store.Loads.MarkPublished(ctx, tx, p.loadID, p.worker); err != nil {
		return fmt.Errorf("recording the load: %w", err)
	}
	return nil
}

// startHistory starts the table's history at the export's time T when the
// load asks for it or the table already keeps one: the published rows
// become its versions, in the publishing transaction, so a copy is never
// published without them ([store.StartHistory] says what becomes of the
// previous copy's versions).
func startHistory(ctx context.Context, tx pgx.Tx, p publication) error {
	l := p.layout
	was, err := store.History.Get(ctx, tx, l.Table)
	if err != nil {
		return fmt.Errorf("reading the history setting: %w", err)
	}
	if !p.history && was == nil {
		return nil
	}
	t := p.exp.Summary.ExportTime
	if t == nil {
		return fmt.Errorf("table %s: the export records no export time, so there is no instant for its history to start at", l.Table)
	}
	retention := p.retention
	if retention <= 0 && was != nil {
		retention = was.Retention
	}
	if err := store.StartHistory(ctx, tx, l, *t, retention); err != nil {
		return fmt.Errorf("starting the history: %w", err)
	}
	return nil
}
