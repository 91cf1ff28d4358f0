package views

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/store"
)

// DefaultSchema is the schema the views are created in unless told.
const DefaultSchema = "analytics"

// DefaultSample is how many items the inference reads, at most, unless
// told: about 3 s of decoding on one core, whatever the table's size.
const DefaultSample = 100_000

// DefaultMinShare is the share of items under which an attribute is too
// rare for its type to be chosen: it stays jsonb.
const DefaultMinShare = 0.01

// ErrDependents is a view whose column must change type, which needs the
// view dropped and created again, while other objects depend on it.
// [Run] returns it wrapped in a [*DependentsError].
var ErrDependents = errors.New("the view has dependent objects")

// DependentsError names the view and what depends on it.
type DependentsError struct {
	View       string
	Dependents []string
	Widened    []string
}

func (e *DependentsError) Error() string {
	return fmt.Sprintf("%s: view %s must change column types (%s), which needs it dropped and created again, "+
		"but %s depend on it", ErrDependents, e.View, strings.Join(e.Widened, "; "), strings.Join(e.Dependents, ", "))
}

func (e *DependentsError) Unwrap() error { return ErrDependents }

// Config says which table's views to write and how to infer them.
type Config struct {
	Table  string // the DynamoDB table, loaded
	Schema string // default [DefaultSchema]
	// Sample is how many items to read at most; 0 means [DefaultSample],
	// a negative value every item.
	Sample   int64
	MinShare float64 // default [DefaultMinShare]
	// Since also reads the rows written after it (a follower's changes),
	// however the sample falls.
	Since  time.Time
	Logger *slog.Logger
}

// Result says what [Run] read and wrote.
type Result struct {
	Items   int64 // items read
	Total   int64 // items in the table (the planner's estimate when sampled)
	Sampled bool
	Read    time.Duration // reading and inferring
	Views   []ViewResult
}

// ViewResult is one view written.
type ViewResult struct {
	View     string
	Columns  int
	Created  bool
	Added    []string
	Widened  []string
	AsOf     string // the as-of twin, when the history's function exists
	Recreate bool
}

// Run infers the table's typed views from its items and writes them, in
// one transaction: created, or with new columns appended and types
// widened by [widen]'s rule. A widening with dependent objects on the
// view is refused ([ErrDependents]) and nothing is written.
func Run(ctx context.Context, pool *pgxpool.Pool, cfg Config) (Result, error) {
	cfg = cfg.withDefaults()
	lt, err := reconcile.ReadLoadedTable(ctx, pool, cfg.Table)
	if err != nil {
		return Result{}, err
	}
	l := lt.Layout
	if cfg.Schema == l.Schema {
		return Result{}, fmt.Errorf("the views of table %s cannot share schema %s with its data table: choose another schema", cfg.Table, l.Schema)
	}
	start := time.Now()
	prof, res, err := profileTable(ctx, pool, l, cfg)
	if err != nil {
		return res, fmt.Errorf("reading the items of %s: %w", l.Ident().Sanitize(), err)
	}
	res.Read = time.Since(start)
	plans := plan(l, cfg.Schema, prof, res.Sampled, cfg.MinShare)
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		res.Views = res.Views[:0]
		for _, p := range plans {
			vr, err := write(ctx, tx, l, p)
			if err != nil {
				return err
			}
			res.Views = append(res.Views, vr)
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	for _, v := range res.Views {
		cfg.Logger.Info("typed view written", slog.String("table", cfg.Table), slog.String("view", v.View),
			slog.Int("columns", v.Columns), slog.Bool("created", v.Created), slog.Any("added", v.Added), slog.Any("widened", v.Widened))
	}
	return res, nil
}

func (c Config) withDefaults() Config {
	if c.Schema == "" {
		c.Schema = DefaultSchema
	}
	if c.Sample == 0 {
		c.Sample = DefaultSample
	}
	if c.MinShare == 0 {
		c.MinShare = DefaultMinShare
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// write writes one view (and its as-of twin), keeping what it has.
func write(ctx context.Context, tx pgx.Tx, l reconcile.Layout, p viewPlan) (ViewResult, error) {
	name := p.ident.Sanitize()
	if err := store.LockView(ctx, tx, p.ident); err != nil {
		return ViewResult{}, err
	}
	existing, exists, err := store.ViewColumns(ctx, tx, p.ident)
	if err != nil {
		return ViewResult{}, fmt.Errorf("reading view %s: %w", name, err)
	}
	if exists && len(existing) == 0 {
		return ViewResult{}, fmt.Errorf("%s exists and is not a view: drop or rename it, or write the views to another schema", name)
	}
	cols, added, widened, err := reconcileColumns(p, existing)
	if err != nil {
		return ViewResult{}, err
	}
	vr := ViewResult{View: name, Columns: len(cols), Created: !exists, Added: added, Widened: widened, Recreate: len(widened) > 0}
	if vr.Recreate {
		deps, err := store.ViewDependents(ctx, tx, p.ident)
		if err != nil {
			return vr, fmt.Errorf("listing what depends on %s: %w", name, err)
		}
		if len(deps) > 0 {
			return vr, &DependentsError{View: name, Dependents: deps, Widened: widened}
		}
	}
	def := store.ViewDef{Ident: p.ident, Source: l, List: p.list, Columns: cols,
		Comment: fmt.Sprintf("Typed view of DynamoDB table %s (%s), managed by ddbsync: its columns were inferred from %s; "+
			"each column's comment gives its attribute, and the exact item is %s.item", l.Table, l.Ident().Sanitize(), p.read, l.Ident().Sanitize())}
	if err := store.WriteView(ctx, tx, def, vr.Recreate); err != nil {
		return vr, fmt.Errorf("writing view %s: %w", name, err)
	}
	has, err := store.HasAsOf(ctx, tx, def)
	if err != nil {
		return vr, err
	}
	if has {
		if err := store.WriteAsOf(ctx, tx, def); err != nil {
			return vr, fmt.Errorf("writing the as-of twin of %s: %w", name, err)
		}
		vr.AsOf = def.AsOf().Sanitize() + "(ts timestamptz)"
	}
	return vr, nil
}

// profileTable reads the table's items (a sample, or all) and the rows
// written since cfg.Since, decoding them on every core.
func profileTable(ctx context.Context, pool *pgxpool.Pool, l reconcile.Layout, cfg Config) (*profile, Result, error) {
	var res Result
	total, err := store.ItemCount(ctx, pool, l)
	if err != nil {
		return nil, res, err
	}
	res.Total = total
	var r store.ItemRead
	if cfg.Sample > 0 && total > cfg.Sample {
		res.Sampled = true
		// SYSTEM samples pages: ask for a quarter more than needed, as
		// pages hold unequal numbers of rows, and stop at the sample.
		r = store.ItemRead{Percent: min(100, 125*float64(cfg.Sample)/float64(total)), Limit: cfg.Sample}
	}
	reads := []store.ItemRead{r}
	if !cfg.Since.IsZero() {
		reads = append(reads, store.ItemRead{Since: cfg.Since})
	}
	prof, err := decodeItems(ctx, pool, l, reads)
	if err != nil {
		return nil, res, err
	}
	res.Items = prof.rows
	if !res.Sampled {
		res.Total = prof.rows
	}
	return prof, res, nil
}

// batchSize is how many items go to a decoding worker at a time.
const batchSize = 256

// decodeItems profiles the items of each read, decoded by one worker per
// core while the connection streams them.
func decodeItems(ctx context.Context, pool *pgxpool.Pool, l reconcile.Layout, reads []store.ItemRead) (*profile, error) {
	workers := runtime.GOMAXPROCS(0)
	g, ctx := errgroup.WithContext(ctx)
	batches := make(chan [][]byte, workers)
	profiles := make([]*profile, workers)
	for w := range workers {
		profiles[w] = newProfile(true)
		g.Go(func() error {
			for b := range batches {
				for _, raw := range b {
					item, err := ddbjson.DecodeItem(raw)
					if err != nil {
						return fmt.Errorf("an item column that is not DynamoDB JSON: %w", err)
					}
					profiles[w].observe(item)
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(batches)
		batch := make([][]byte, 0, batchSize)
		send := func() error {
			select {
			case batches <- batch:
			case <-ctx.Done():
				return ctx.Err()
			}
			batch = make([][]byte, 0, batchSize)
			return nil
		}
		for _, r := range reads {
			err := store.ReadItems(ctx, pool, l, r, func(raw []byte) error {
				batch = append(batch, append([]byte(nil), raw...))
				if len(batch) == batchSize {
					return send()
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		if len(batch) > 0 {
			return send()
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	all := profiles[0]
	for _, p := range profiles[1:] {
		all.merge(p)
	}
	return all, nil
}
