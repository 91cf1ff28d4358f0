package diff

import (
	"context"
	"fmt"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/reconcile/store"
	"github.com/ddbsync/ddbsync/snapshot"
)

// readImages reads again from the export the images of the findings that
// have none (an export's source rows hold digests only), in one pass over
// each file that holds some, and gives them to the findings. Memory stays
// one item and one position: the positions stream from PostgreSQL in file
// and line order.
func (d *differ) readImages(ctx context.Context) error {
	cmp := d.comparison()
	pos, err := cmp.ImagePositions(ctx, d.pool)
	if err != nil {
		return err
	}
	defer pos.Close()
	items := &positionedItems{ctx: ctx, exp: d.cfg.Export, pos: pos, file: -1}
	defer items.close()
	if err := cmp.FillImages(ctx, d.pool, items); err != nil {
		return fmt.Errorf("reading the images that differ again: %w", err)
	}
	return nil
}

// positionedItems are the export's items at the positions pos lists, in
// file and line order, read from one data file at a time.
type positionedItems struct {
	ctx  context.Context
	exp  *snapshot.Export
	pos  *store.ImagePositions
	file int // the data file r reads, -1 before the first
	r    *snapshot.FileReader
	item ddbjson.Item
	err  error
}

func (p *positionedItems) Next() bool {
	if p.err != nil {
		return false
	}
	if !p.pos.Next() {
		p.err = p.pos.Err()
		return false
	}
	file, line := p.pos.Position()
	if file < 0 || file >= len(p.exp.Files) {
		p.err = fmt.Errorf("no data file %d in the export", file)
		return false
	}
	f := p.exp.Files[file]
	if file != p.file || p.r == nil || p.r.Line() > line {
		p.close()
		// Lines before the ones wanted are skipped undecoded.
		if p.r, p.err = p.exp.OpenFileRaw(p.ctx, f); p.err != nil {
			return false
		}
		p.file = file
	}
	for p.r.Line() < line {
		if !p.r.Next() {
			p.err = p.r.Err()
			if p.err == nil {
				p.err = fmt.Errorf("%s ends before line %d", f.Name, line)
			}
			return false
		}
	}
	if p.r.Line() != line {
		p.err = fmt.Errorf("%s has no item at line %d", f.Name, line)
		return false
	}
	p.item, p.err = p.r.Decode()
	return p.err == nil
}

func (p *positionedItems) Item() ddbjson.Item { return p.item }

func (p *positionedItems) Err() error { return p.err }

func (p *positionedItems) close() {
	if p.r != nil {
		p.r.Close()
		p.r = nil
	}
}
