// Package perfkit measures what ddbsync's figures are compared with: the
// physical limits of the same work on the same machine, in the same run.
// The side-by-side harness (bench/ratios) and the benchmarks of
// reconcile/load, reconcile/diff and reconcile/follow use it.
//
//   - [RawCopy]: PostgreSQL's own binary COPY of the prepared (key, item)
//     rows of a loaded table, in one stream, then adding the primary key
//     (what a load cannot beat: the rows are already encoded).
//   - [ReadExport]: reading and decoding an export alone (what a diff
//     against that export cannot beat: it must read every item).
//   - [UpsertRows.Upsert]: a set-based upsert of stream rows encoded in
//     advance, page by page (COPY into a temporary table, INSERT … ON
//     CONFLICT DO UPDATE), without reading a stream or keeping checkpoints
//     (what follow's apply cannot beat, unless its pages repeat keys).
//
// It also writes the sample exports they run on ([WriteExport], tenure or
// small items), reads a process's peak RSS ([PeakRSS]), and the CPU time of
// this process and of the PostgreSQL server ([ReadCPU]), so that a figure
// can say which side its time went to.
package perfkit

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/ddbsync/ddbsync/internal/ddbjson"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile/store"
	"github.com/ddbsync/ddbsync/snapshot"
)

// ExportTime is the instant the sample exports record.
var ExportTime = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// Shape is the kind of items a sample export holds.
type Shape string

// The shapes: tenure items (~1.2 KB of DynamoDB JSON, the real table's
// shape, nested maps and lists) and small ones (~300 bytes, flat).
const (
	Tenure Shape = "tenure"
	Small  Shape = "small"
)

// ParseShape reads a shape's name.
func ParseShape(s string) (Shape, error) {
	switch Shape(s) {
	case Tenure, Small:
		return Shape(s), nil
	}
	return "", fmt.Errorf("item shape %q: want tenure or small", s)
}

// SmallItem is a ~300-byte item with key id, changed by version.
func SmallItem(id string, version int) ddbjson.Item {
	return ddbjson.Item{
		"id":            &types.AttributeValueMemberS{Value: id},
		"versionNumber": &types.AttributeValueMemberN{Value: strconv.Itoa(version)},
		"status":        &types.AttributeValueMemberS{Value: "active"},
		"balance":       &types.AttributeValueMemberN{Value: fmt.Sprintf("%d.%02d", version*7%1000, version%100)},
		"paymentRef":    &types.AttributeValueMemberS{Value: fmt.Sprintf("%010d", version*7919)},
		"address":       &types.AttributeValueMemberS{Value: "Flat 12 Pembury House Dalston Lane London E8 1LQ"},
		"flags":         &types.AttributeValueMemberM{Value: ddbjson.Item{"tenanted": &types.AttributeValueMemberBOOL{Value: true}}},
	}
}

// Items returns a generator of shape's items, the same ones for the same
// seed.
func Items(shape Shape, seed uint64) func() ddbjson.Item {
	gen := tenure.NewGenerator(seed)
	if shape == Small {
		return func() ddbjson.Item { return SmallItem(gen.ID(), 1) }
	}
	return gen.Item
}

// WriteExport writes an export of n items of shape into dir, in files data
// files, unless dir already holds a complete one, and opens it.
func WriteExport(ctx context.Context, dir string, shape Shape, n, files int) (*snapshot.Export, error) {
	if _, err := os.Stat(filepath.Join(dir, snapshot.SummaryName)); err != nil {
		tmp := dir + ".partial"
		if err := os.RemoveAll(tmp); err != nil {
			return nil, err
		}
		w, err := snapshot.NewWriter(ctx, snapshot.DirSink(tmp), snapshot.WriterConfig{
			TableArn: "arn:aws:dynamodb:eu-west-2:000000000000:table/" + tenure.TableName, ExportTime: ExportTime, Files: files,
		})
		if err != nil {
			return nil, err
		}
		next := Items(shape, 1)
		for range n {
			if err := w.Write(next()); err != nil {
				return nil, err
			}
		}
		if _, err := w.Close(ctx); err != nil {
			return nil, err
		}
		if err := os.Rename(tmp, dir); err != nil {
			return nil, err
		}
	}
	src, err := snapshot.NewDirSource(dir)
	if err != nil {
		return nil, err
	}
	return snapshot.Open(ctx, src)
}

// CopyResult is PostgreSQL's own COPY of a table's prepared rows.
type CopyResult struct {
	Rows       int64
	Bytes      int64         // the binary COPY data
	Copy       time.Duration // COPY FROM, one stream
	PrimaryKey time.Duration // then adding the primary key
}

// Total is the COPY and the primary key.
func (r CopyResult) Total() time.Duration { return r.Copy + r.PrimaryKey }

// RawCopy dumps the (key columns, item) rows of data table l to a binary
// COPY file in dir, then times PostgreSQL copying that file into a fresh
// table of just those columns in one stream (as psql's \copy does), and
// adding its primary key. The table and the file are removed after.
func RawCopy(ctx context.Context, pool *pgxpool.Pool, l store.Layout, dir string) (CopyResult, error) {
	var res CopyResult
	cols := strings.Join(append(l.QuotedKeyColumns(), pgx.Identifier{store.ColItem}.Sanitize()), ", ")
	f, err := os.CreateTemp(dir, "rawcopy-*.bin")
	if err != nil {
		return res, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return res, err
	}
	defer conn.Release()
	pg := conn.Conn().PgConn()
	if _, err := pg.CopyTo(ctx, f, "COPY (SELECT "+cols+" FROM "+l.Ident().Sanitize()+") TO STDOUT (FORMAT binary)"); err != nil {
		return res, fmt.Errorf("dumping the rows: %w", err)
	}
	if res.Bytes, err = f.Seek(0, 1); err != nil {
		return res, err
	}
	if _, err := f.Seek(0, 0); err != nil {
		return res, err
	}
	base := pgx.Identifier{"public", "perfkit_raw_copy"}.Sanitize()
	if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+base); err != nil {
		return res, err
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE "+base+" AS SELECT "+cols+" FROM "+l.Ident().Sanitize()+" WITH NO DATA"); err != nil {
		return res, err
	}
	defer conn.Exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+base)
	start := time.Now()
	tag, err := pg.CopyFrom(ctx, f, "COPY "+base+" ("+cols+") FROM STDIN (FORMAT binary)")
	if err != nil {
		return res, fmt.Errorf("copying the rows: %w", err)
	}
	res.Copy, res.Rows = time.Since(start), tag.RowsAffected()
	start = time.Now()
	if _, err := conn.Exec(ctx, "ALTER TABLE "+base+" ADD PRIMARY KEY ("+strings.Join(l.QuotedKeyColumns(), ", ")+")"); err != nil {
		return res, err
	}
	res.PrimaryKey = time.Since(start)
	return res, nil
}

// ReadExport reads and decodes every item of exp, workers data files at a
// time, as a load or a diff reads them (decompressing, checking each
// file's MD5 and count, decoding each line), and does nothing else with
// them. It returns the items read.
func ReadExport(ctx context.Context, exp *snapshot.Export, workers int) (int64, error) {
	var items atomic.Int64
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for _, f := range exp.Files {
		g.Go(func() error {
			r, err := exp.OpenFile(ctx, f)
			if err != nil {
				return err
			}
			defer r.Close()
			var n int64
			for r.Next() {
				if r.Item() == nil {
					return fmt.Errorf("%s: no item", f.Name)
				}
				n++
			}
			items.Add(n)
			return r.Err()
		})
	}
	err := g.Wait()
	return items.Load(), err
}

// UpsertRows are the rows of a set-based upsert, encoded in advance (see
// [PrepareUpsert]), so that the upsert's time is PostgreSQL's alone.
type UpsertRows struct {
	layout store.Layout
	rows   [][]any
}

// PrepareUpsert encodes n stream rows of layout l, row i holding item(i),
// as follow's apply encodes them (provenance columns included).
func PrepareUpsert(l store.Layout, n int, item func(i int) ddbjson.Item) (*UpsertRows, error) {
	enc := store.NewEncoder(l, store.RowColumns)
	u := &UpsertRows{layout: l, rows: make([][]any, 0, n)}
	for i := range n {
		// A shard id and sequence numbers as long as AWS's (and the
		// emulator's): a row a few bytes shorter than the apply's crosses
		// the 2 kB TOAST threshold less often.
		vals, err := enc.Encode(item(i), store.Provenance{Origin: store.OriginStream, Time: ExportTime,
			ShardID: "shardId-00000001700000000000-000limit", Sequence: fmt.Sprintf("1%020d", i)})
		if err != nil {
			return nil, err
		}
		// The encoder reuses its buffers from row to row: each row keeps copies.
		row := store.CopyRow(vals)
		u.rows = append(u.rows, row)
	}
	return u, nil
}

// Upsert writes the prepared rows into their data table as a set-based
// upsert: pages of pageSize rows, parallel pages at once, each page one
// transaction that COPYs the page into a temporary table and merges it with
// one INSERT … ON CONFLICT DO UPDATE (store's own statements, as follow's
// apply runs them), without reading a stream, tombstones or checkpoints.
// A page must not hold a key twice.
func (u *UpsertRows) Upsert(ctx context.Context, pool *pgxpool.Pool, pageSize, parallel int) error {
	l := u.layout
	createSQL, mergeSQL := l.CreateStageSQL(), l.UpsertSQL(l.StageTable())
	pages := make(chan [][]any)
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(pages)
		for start := 0; start < len(u.rows); start += pageSize {
			select {
			case pages <- u.rows[start:min(len(u.rows), start+pageSize)]:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	for range parallel {
		g.Go(func() error {
			for rows := range pages {
				err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
					if _, err := tx.Exec(ctx, createSQL); err != nil {
						return err
					}
					if _, err := tx.CopyFrom(ctx, l.StageTable(), l.Columns(), pgx.CopyFromRows(rows)); err != nil {
						return err
					}
					_, err := tx.Exec(ctx, mergeSQL)
					return err
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// PeakRSS reads this process's peak resident set size. On Linux [Reset]
// starts a new peak, so that a benchmark can measure the peak of one step
// (a load) apart from what it did before (writing the export).
type PeakRSS struct{}

// Reset returns freed memory to the system and starts a new peak; it
// reports whether it could (Linux only: elsewhere the peak stays the
// process's).
func (PeakRSS) Reset() bool {
	runtime.GC()
	debug.FreeOSMemory()
	// Writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS.
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// MB is the peak RSS since Reset (or since the process started), in MB.
func (PeakRSS) MB() float64 {
	if raw, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
				if err == nil {
					return kb / 1024
				}
			}
		}
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		return float64(ru.Maxrss) / 1024
	}
	return 0
}

// CPU is CPU time used so far: by this process (in a benchmark, ddbsync
// and the in-process emulator together), and by the PostgreSQL server's
// processes that pg_stat_activity lists (backends and background workers).
// Server is zero when the server's processes cannot be read (another
// machine, or not Linux): ServerKnown says which.
type CPU struct {
	Process, Server time.Duration
	ServerKnown     bool
}

// ReadCPU reads [CPU] now. The difference of two readings is the CPU time
// of what ran between them, of processes that lived through both.
func ReadCPU(ctx context.Context, pool *pgxpool.Pool) (CPU, error) {
	var c CPU
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return c, err
	}
	c.Process = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	rows, err := pool.Query(ctx, `SELECT pid FROM pg_stat_activity`)
	if err != nil {
		return c, err
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return c, err
	}
	c.ServerKnown = len(pids) > 0
	for _, pid := range pids {
		t, ok := procCPU(pid)
		if !ok {
			return CPU{Process: c.Process}, nil
		}
		c.Server += t
	}
	return c, nil
}

// Sub is the CPU time used between o and c.
func (c CPU) Sub(o CPU) CPU {
	return CPU{Process: c.Process - o.Process, Server: c.Server - o.Server, ServerKnown: c.ServerKnown && o.ServerKnown}
}

// procCPU reads a process's user and system time from /proc/PID/stat.
func procCPU(pid int32) (time.Duration, bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name, field 2, is in parentheses and may hold spaces:
	// the fields counted are those after its closing parenthesis.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(raw[i+1:]))
	// utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	const ticksPerSecond = 100 // USER_HZ, 100 on every Linux Go runs on
	return time.Duration(u+s) * time.Second / ticksPerSecond, true
}
