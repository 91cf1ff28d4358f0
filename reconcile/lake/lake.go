package lake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/parquet-go/parquet-go"

	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/store"
)

// The conditions a publish refuses, matched with errors.Is; they come as a
// [*reconcile.TableError].
var (
	// ErrNoHistory is an --as-of cut of a table whose history is not kept
	// (no as-of function), or an instant before its history starts.
	ErrNoHistory = errors.New("history is not kept")
	// ErrNotProven is an --as-of instant at or after the copy's
	// watermark W (or its export time T, when never followed): the copy
	// does not yet prove what the table held then.
	ErrNotProven = errors.New("the instant is not before the copy's watermark")
)

// Config is one publish.
type Config struct {
	// Table is the DynamoDB table.
	Table string
	// To is s3://bucket/prefix or a local folder.
	To string
	// S3 is the client for an s3:// destination.
	S3 S3API
	// ViewSchema is where typed views live ("" looks for none): a view
	// named as the data table there is published instead of the key and
	// item columns.
	ViewSchema string
	// AsOf, when set, publishes the table as it stood then, from its
	// history; otherwise the cut is the copy now, as of its W.
	AsOf *time.Time
	// RowsPerFile rolls to the next part file after so many rows
	// (default 1,000,000); BytesPerFile after about so many bytes
	// written (default 512 MiB).
	RowsPerFile  int64
	BytesPerFile int64
	// RowGroupBytes bounds the data a row group buffers in memory before
	// it is written (default 64 MiB): it is what bounds publish's memory.
	RowGroupBytes int64
	// Version is ddbsync's version, recorded in the manifest.
	Version string
	Logger  *slog.Logger
	// Now is the clock of the manifest's written_at (default time.Now).
	Now func() time.Time
	// afterPart, in tests, runs after each part is put.
	afterPart func(name string) error
}

// Manifest describes a published cut; it is written last but one, before
// _SUCCESS.
type Manifest struct {
	Table string `json:"table"`
	// Relation is what the rows were read from, e.g. analytics.t or
	// dynamodb.t_as_of(2026-11-30T00:00:00Z).
	Relation string `json:"relation"`
	// Instant is the cut's instant; InstantIs says what it is: the copy's
	// watermark W ("watermark"), its export time T when never followed
	// ("export_time"), or an earlier instant read from history ("as_of").
	Instant   time.Time      `json:"instant"`
	InstantIs string         `json:"instant_is"`
	Rows      int64          `json:"row_count"`
	Files     []ManifestFile `json:"files"`
	Columns   []ManifestCol  `json:"columns"`
	Version   string         `json:"ddbsync_version"`
	WrittenAt time.Time      `json:"written_at"`
}

// ManifestFile is one part file of a cut.
type ManifestFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	Rows   int64  `json:"rows"`
	SHA256 string `json:"sha256"`
}

// ManifestCol is one column of a cut, with its PostgreSQL and Parquet types.
type ManifestCol struct {
	Name        string `json:"name"`
	PostgreSQL  string `json:"postgresql_type"`
	ParquetType string `json:"parquet_type"`
}

// Result is a published cut: where it went, and its manifest.
type Result struct {
	Location string
	Manifest Manifest
	Bytes    int64 // the part files' total size
}

// PartitionPath is a cut's folder under the destination's prefix:
// <table>/import_year=YYYY/import_month=MM/import_day=DD/import_date=YYYYMMDD,
// from the instant in UTC.
func PartitionPath(table string, instant time.Time) string {
	u := instant.UTC()
	return path.Join(table, u.Format("import_year=2006"), u.Format("import_month=01"), u.Format("import_day=02"),
		u.Format("import_date=20060102"))
}

// Publish writes table's copy, as of one instant, as Parquet files to
// cfg.To. Everything it reads (the instant's bookkeeping, the rows) comes
// from one REPEATABLE READ snapshot; the rows stream from the database
// and leave in row groups of bounded size, so memory does not grow with
// the table.
func Publish(ctx context.Context, pool *pgxpool.Pool, cfg Config) (Result, error) {
	cfg.defaults()
	tx, err := store.BeginSnapshot(ctx, pool)
	if err != nil {
		return Result{}, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read-only: nothing to keep
	cut, err := planCut(ctx, tx, cfg)
	if err != nil {
		return Result{}, err
	}
	dest, err := newDestination(cfg, cut.instant)
	if err != nil {
		return Result{}, err
	}
	cfg.Logger.Info("publishing", "table", cfg.Table, "relation", cut.relation.String(), "instant", cut.instant,
		"instant_is", cut.instantIs, "to", dest.String())
	if err := dest.begin(ctx); err != nil {
		dest.abort()
		return Result{}, err
	}
	res, err := writeCut(ctx, tx, cfg, cut, dest)
	if err != nil {
		dest.abort()
		return Result{}, fmt.Errorf("publishing %s to %s (no %s written): %w", cfg.Table, dest, SuccessName, err)
	}
	return res, nil
}

func (cfg *Config) defaults() {
	if cfg.RowsPerFile <= 0 {
		cfg.RowsPerFile = 1_000_000
	}
	if cfg.BytesPerFile <= 0 {
		cfg.BytesPerFile = 512 << 20
	}
	if cfg.RowGroupBytes <= 0 {
		cfg.RowGroupBytes = 64 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
}

func newDestination(cfg Config, instant time.Time) (destination, error) {
	bucket, prefix, dir, err := ParseTarget(cfg.To)
	if err != nil {
		return nil, err
	}
	part := PartitionPath(cfg.Table, instant)
	if dir != "" {
		return &dirDestination{final: filepath.Join(dir, filepath.FromSlash(part))}, nil
	}
	if cfg.S3 == nil {
		return nil, errors.New("no S3 client for " + cfg.To)
	}
	return &s3Destination{client: cfg.S3, bucket: bucket, prefix: path.Join(prefix, part) + "/"}, nil
}

// cut is what a publish reads, decided in its snapshot.
type cut struct {
	relation  store.Relation
	instant   time.Time
	instantIs string
	query     store.CutQuery
	columns   []column
}

// planCut decides the instant and the relation, and describes its columns.
func planCut(ctx context.Context, tx pgx.Tx, cfg Config) (cut, error) {
	lt, err := reconcile.ReadLoadedTable(ctx, tx, cfg.Table)
	if err != nil {
		return cut{}, err
	}
	l := lt.Layout
	refuse := func(sentinel error, format string, args ...any) error {
		return &reconcile.TableError{Table: cfg.Table, Err: fmt.Errorf("%w for table %s: %s", sentinel, cfg.Table, fmt.Sprintf(format, args...))}
	}
	c := cut{instant: lt.ExportTime, instantIs: "export_time"}
	w, err := store.Streams.Watermark(ctx, tx, cfg.Table)
	if err != nil {
		return cut{}, err
	}
	if w != nil {
		c.instant, c.instantIs = *w, "watermark"
	}
	view := false
	if cfg.ViewSchema != "" {
		if view, err = store.RelationExists(ctx, tx, cfg.ViewSchema, l.Name); err != nil {
			return cut{}, err
		}
	}
	c.relation = store.Relation{Schema: l.Schema, Name: l.Name}
	if view {
		c.relation = store.Relation{Schema: cfg.ViewSchema, Name: l.Name}
	}
	if cfg.AsOf != nil {
		at := *cfg.AsOf
		if !at.Before(c.instant) {
			return cut{}, refuse(ErrNotProven, "--as-of %s is not before its %s %s; publish without --as-of for the copy as of then",
				fmtTime(at), instantName(c.instantIs), fmtTime(c.instant))
		}
		if at.Before(lt.ExportTime) {
			return cut{}, refuse(ErrNoHistory, "--as-of %s is before the export the copy was loaded from (T = %s), where its history starts",
				fmtTime(at), fmtTime(lt.ExportTime))
		}
		fn, err := asOfFunction(ctx, tx, l, view, cfg.ViewSchema)
		if err != nil {
			return cut{}, err
		}
		if fn == nil {
			return cut{}, refuse(ErrNoHistory, "%s.%s_as_of(timestamptz) does not exist", l.Schema, l.Name)
		}
		fn.AsOf = &at
		c.relation, c.instant, c.instantIs = *fn, at, "as_of"
	}
	pgCols, err := store.DescribeRelation(ctx, tx, c.relation)
	if err != nil {
		return cut{}, err
	}
	if c.relation.Schema == l.Schema {
		// The data table, or its as-of function: the key and the lossless
		// item, not ddbsync's provenance columns.
		want := append(slices.Clone(l.KeyColumns), store.ColItem)
		pgCols = slices.DeleteFunc(pgCols, func(col store.CutColumn) bool { return !slices.Contains(want, col.Name) })
	}
	c.query = store.CutQuery{Relation: c.relation, Columns: pgCols}
	names := make([]string, len(pgCols))
	for i, pc := range pgCols {
		col := newColumn(pc)
		c.columns = append(c.columns, col)
		c.query.AsText = append(c.query.AsText, col.readAsText())
		c.query.AsArrayText = append(c.query.AsArrayText, col.readAsTextArray())
		names[i] = pc.Name
	}
	if len(c.columns) == 0 {
		return cut{}, fmt.Errorf("%s has no columns to publish", c.relation)
	}
	// Sorted by key, the same cut gives the same files (and checksums).
	if !slices.ContainsFunc(l.KeyColumns, func(k string) bool { return !slices.Contains(names, k) }) {
		c.query.OrderBy = l.KeyColumns
	}
	return c, nil
}

// asOfFunction is the history's as-of function to read: the typed view's
// twin when publishing a view and it has one, else the data table's; nil
// when history is not kept.
func asOfFunction(ctx context.Context, q store.Querier, l reconcile.Layout, view bool, viewSchema string) (*store.Relation, error) {
	candidates := []store.Relation{{Schema: l.Schema, Name: l.Name + "_as_of"}}
	if view {
		candidates = append([]store.Relation{{Schema: viewSchema, Name: l.Name + "_as_of"}}, candidates...)
	}
	for _, r := range candidates {
		ok, err := store.AsOfFunctionExists(ctx, q, r.Schema, r.Name)
		if err != nil {
			return nil, err
		}
		if ok {
			return &r, nil
		}
	}
	return nil, nil
}

func instantName(is string) string {
	if is == "watermark" {
		return "watermark W"
	}
	return "export time T (it has not been followed)"
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// writeCut streams the cut's rows into part files, puts each, and commits
// the manifest and _SUCCESS.
func writeCut(ctx context.Context, tx pgx.Tx, cfg Config, c cut, dest destination) (Result, error) {
	sql, args := c.query.SQL()
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return Result{}, fmt.Errorf("reading %s: %w", c.relation, err)
	}
	defer rows.Close()
	schema := parquet.NewSchema(cfg.Table, orderedGroup(c.columns))
	dests := make([]any, len(c.columns))
	for i, col := range c.columns {
		dests[i] = col.newDest()
	}
	pw := &partWriter{cfg: cfg, schema: schema, dest: dest}
	const batch = 256
	buf := make([]parquet.Row, 0, batch)
	var bufBytes int64
	var n int64
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		err := pw.write(ctx, buf, bufBytes)
		buf, bufBytes = buf[:0], 0
		return err
	}
	for rows.Next() {
		n++
		if err := rows.Scan(dests...); err != nil {
			return Result{}, fmt.Errorf("reading row %d of %s: %w", n, c.relation, err)
		}
		var row parquet.Row
		if len(buf) < cap(buf) {
			row = buf[:len(buf)+1][len(buf)][:0]
		}
		size := 0
		for i, col := range c.columns {
			var s int
			if row, s, err = col.appendValues(row, i, dests[i]); err != nil {
				return Result{}, fmt.Errorf("row %d of %s: %w", n, c.relation, err)
			}
			size += s
		}
		buf = append(buf, row)
		bufBytes += int64(size)
		if len(buf) == batch {
			if err := flush(); err != nil {
				return Result{}, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return Result{}, fmt.Errorf("reading %s: %w", c.relation, err)
	}
	if err := flush(); err != nil {
		return Result{}, err
	}
	if err := pw.finish(ctx); err != nil {
		return Result{}, err
	}
	m := Manifest{
		Table: cfg.Table, Relation: c.relation.String(), Instant: c.instant.UTC(), InstantIs: c.instantIs,
		Rows: n, Files: pw.files, Version: cfg.Version, WrittenAt: cfg.Now().UTC(),
	}
	for _, col := range c.columns {
		m.Columns = append(m.Columns, ManifestCol{Name: col.pg.Name, PostgreSQL: col.pg.TypeName, ParquetType: col.parquetType()})
	}
	body, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Result{}, err
	}
	parts := make([]string, len(m.Files))
	var total int64
	for i, f := range m.Files {
		parts[i] = f.Name
		total += f.Size
	}
	if err := dest.commit(ctx, parts, append(body, '\n')); err != nil {
		return Result{}, err
	}
	return Result{Location: dest.String(), Manifest: m, Bytes: total}, nil
}

// partWriter writes rows into part files, rolling to the next file at the
// row or size bound and flushing a row group at the memory bound.
type partWriter struct {
	cfg    Config
	schema *parquet.Schema
	dest   destination

	files     []ManifestFile
	f         *os.File
	hash      hashCounter
	w         *parquet.GenericWriter[any]
	fileRows  int64
	groupSize int64 // bytes of data buffered in the current row group
}

type hashCounter struct {
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
	n int64
}

func (h *hashCounter) Write(p []byte) (int, error) {
	h.n += int64(len(p))
	return h.h.Write(p)
}

func (p *partWriter) open() error {
	name := partName(len(p.files))
	f, err := os.Create(filepath.Join(p.dest.scratch(), name))
	if err != nil {
		return err
	}
	p.f, p.hash = f, hashCounter{h: sha256.New()}
	p.files = append(p.files, ManifestFile{Name: name})
	p.w = parquet.NewGenericWriter[any](io.MultiWriter(f, &p.hash), p.schema, parquet.Compression(&parquet.Snappy),
		parquet.CreatedBy("ddbsync", p.cfg.Version, ""))
	p.fileRows, p.groupSize = 0, 0
	return nil
}

func (p *partWriter) write(ctx context.Context, rows []parquet.Row, size int64) error {
	for len(rows) > 0 {
		if p.w == nil {
			if err := p.open(); err != nil {
				return err
			}
		}
		// A file takes rows up to its bound; the rest go to the next one.
		n := int(min(int64(len(rows)), p.cfg.RowsPerFile-p.fileRows))
		if _, err := p.w.WriteRows(rows[:n]); err != nil {
			return fmt.Errorf("writing %s: %w", p.files[len(p.files)-1].Name, err)
		}
		share := size * int64(n) / int64(len(rows))
		rows, size = rows[n:], size-share
		p.fileRows += int64(n)
		p.groupSize += share
		if p.groupSize >= p.cfg.RowGroupBytes {
			if err := p.w.Flush(); err != nil {
				return err
			}
			p.groupSize = 0
		}
		if p.fileRows >= p.cfg.RowsPerFile || p.w.Size() >= p.cfg.BytesPerFile {
			if err := p.close(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// close ends the current part file and puts it.
func (p *partWriter) close(ctx context.Context) error {
	if err := p.w.Close(); err != nil {
		p.f.Close()
		return err
	}
	if err := p.f.Sync(); err != nil {
		p.f.Close()
		return err
	}
	if err := p.f.Close(); err != nil {
		return err
	}
	mf := &p.files[len(p.files)-1]
	mf.Size, mf.Rows, mf.SHA256 = p.hash.n, p.fileRows, hex.EncodeToString(p.hash.h.Sum(nil))
	p.w, p.f = nil, nil
	if err := p.dest.put(ctx, mf.Name); err != nil {
		return err
	}
	if p.cfg.afterPart != nil {
		return p.cfg.afterPart(mf.Name)
	}
	return nil
}

// finish closes the last part; a cut of no rows still gets one part file,
// so that readers find its schema.
func (p *partWriter) finish(ctx context.Context) error {
	if p.w == nil {
		if len(p.files) > 0 {
			return nil
		}
		if err := p.open(); err != nil {
			return err
		}
	}
	return p.close(ctx)
}
