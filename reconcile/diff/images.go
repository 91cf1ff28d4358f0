package diff

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"golang.org/x/sync/errgroup"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
)

// linesPerBatch is how many line numbers of a file a reader asks for at
// a time: memory stays a batch a reader, however many keys differ.
const linesPerBatch = 10_000

// readImages reads again from the export the images of the findings that
// have none (an export's source rows hold digests only, but for those the
// filter of the copy's digests caught: digest_filter.go): Workers data
// files at a time, each in one pass, its lines skipped undecoded up to
// the ones wanted, and gives them to the findings.
func (d *differ) readImages(ctx context.Context) error {
	cmp := d.comparison()
	files, err := cmp.ImageFiles(ctx, d.pool)
	if err != nil || len(files) == 0 {
		return err
	}
	d.log.Info("reading images again", slog.Int("files", len(files)))
	// The readers stop when the COPY fails; the COPY, once they are done
	// (the errgroup's context ends with them), or when one fails.
	base, cancel := context.WithCancel(ctx)
	defer cancel()
	items := make(chan ddbjson.Item, 8) // a few items: one may be 400 KB
	fill := make(chan error, 1)
	go func() {
		err := cmp.FillImages(base, d.pool, &chanItems{ctx: base, items: items})
		if err != nil {
			cancel()
		}
		fill <- err
	}()
	g, gctx := errgroup.WithContext(base)
	g.SetLimit(d.cfg.Workers)
	for _, file := range files {
		g.Go(func() error { return d.readImagesOf(gctx, file, items) })
	}
	err = g.Wait()
	if err != nil {
		cancel()
	}
	close(items)
	// The first to fail cancels the others: its error is the one to give.
	switch ferr := <-fill; {
	case err == nil:
		err = ferr
	case isCanceled(err) && ferr != nil && !isCanceled(ferr):
		err = ferr
	}
	if err != nil {
		return fmt.Errorf("reading the images that differ again: %w", err)
	}
	return nil
}

// readImagesOf reads the wanted lines of data file file and sends their
// items.
func (d *differ) readImagesOf(ctx context.Context, file int, out chan<- ddbjson.Item) error {
	exp := d.cfg.Export
	if file < 0 || file >= len(exp.Files) {
		return fmt.Errorf("no data file %d in the export", file)
	}
	f := exp.Files[file]
	r, err := exp.OpenFileRaw(ctx, f)
	if err != nil {
		return err
	}
	defer r.Close()
	cmp := d.comparison()
	after := 0
	for {
		lines, err := cmp.ImageLines(ctx, d.pool, file, after, linesPerBatch)
		if err != nil || len(lines) == 0 {
			return err
		}
		for _, line := range lines {
			for r.Line() < line {
				if !r.Next() {
					if err := r.Err(); err != nil {
						return err
					}
					return fmt.Errorf("%s ends before line %d", f.Name, line)
				}
			}
			if r.Line() != line {
				return fmt.Errorf("%s has no item at line %d", f.Name, line)
			}
			item, err := r.Decode()
			if err != nil {
				return err
			}
			select {
			case out <- item:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		after = lines[len(lines)-1]
	}
}

func isCanceled(err error) bool { return errors.Is(err, context.Canceled) }

// chanItems are the items the readers send, in the order they come.
type chanItems struct {
	ctx   context.Context
	items <-chan ddbjson.Item
	item  ddbjson.Item
	err   error
}

func (c *chanItems) Next() bool {
	select {
	case item, ok := <-c.items:
		c.item = item
		return ok
	case <-c.ctx.Done():
		c.err = c.ctx.Err()
		return false
	}
}

func (c *chanItems) Item() ddbjson.Item { return c.item }

func (c *chanItems) Err() error { return c.err }
