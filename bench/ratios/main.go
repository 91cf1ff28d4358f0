// Command ratios measures ddbsync's load and diff side by side with their
// physical limits, on the same machine in the same run, and prints the
// ratios (bench/ratios.sh builds ddbsync and runs it):
//
//   - load (a fresh database, the ddbsync binary as a child process)
//     against PostgreSQL's own binary COPY of the loaded (key, item) rows,
//     prepared in advance, in one stream, plus adding the primary key;
//   - a load killed with SIGKILL halfway and resumed: its time and peak RSS;
//   - diff against the same export, with 1,000 planted differences,
//     against reading and decoding the export alone, and against the load;
//   - storage per million items, and the README's analyst queries;
//   - with -doc, the same for a load with --doc, for the doc decision.
//
// Follow's apply is measured against its limit by BenchmarkFollowApply
// (reconcile/follow), which needs the stream emulator.
//
//	DATABASE_URL=postgres://... go run ./bench/ratios -bin ddbsync [-items 1000000] [-shape tenure|small] [-doc]
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddbsync/ddbsync/bench/perfkit"
	"github.com/ddbsync/ddbsync/internal/tenure"
	"github.com/ddbsync/ddbsync/reconcile"
	"github.com/ddbsync/ddbsync/reconcile/store"
)

type config struct {
	bin, out, adminURL string
	items, files       int
	shape              perfkit.Shape
	doc, resume, diff  bool
	planted            int
}

func main() {
	if len(os.Args) > 2 && os.Args[1] == childFlag {
		os.Exit(measureChild(os.Args[2], os.Args[3:]))
	}
	var c config
	var shape string
	flag.StringVar(&c.bin, "bin", "", "the ddbsync binary to measure (required)")
	flag.StringVar(&c.out, "out", "bench/out", "where sample exports are kept between runs")
	flag.IntVar(&c.items, "items", 1_000_000, "items in the sample export")
	flag.IntVar(&c.files, "files", 16, "data files in the sample export")
	flag.StringVar(&shape, "shape", "tenure", "item shape: tenure (~1.2 KB, the real table's) or small (~300 bytes)")
	flag.BoolVar(&c.doc, "doc", false, "also load with --doc: its time, storage and queries beside the default's")
	flag.BoolVar(&c.resume, "resume", true, "measure a load killed halfway and resumed")
	flag.BoolVar(&c.diff, "diff", true, "measure diff")
	flag.IntVar(&c.planted, "planted", 1000, "differences planted in the copy before the diff")
	flag.Parse()
	c.adminURL = os.Getenv("DATABASE_URL")
	var err error
	if c.shape, err = perfkit.ParseShape(shape); err != nil || c.bin == "" || c.adminURL == "" {
		fmt.Fprintln(os.Stderr, "usage: DATABASE_URL=postgres://... ratios -bin DDBSYNC [-items N] [-shape tenure|small] [-doc]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "ratios:", err)
		os.Exit(1)
	}
}

// report prints a figure line as it is measured.
func report(format string, args ...any) { fmt.Printf(format+"\n", args...) }

func run(ctx context.Context, c config) error {
	report("== %d %s items in %d files; %d CPUs; load average %s", c.items, c.shape, c.files, numCPU(), loadAvg())
	dir, err := filepath.Abs(filepath.Join(c.out, fmt.Sprintf("export-%s-%d-%d", c.shape, c.items, c.files)))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return err
	}
	exp, err := perfkit.WriteExport(ctx, dir, c.shape, c.items, c.files)
	if err != nil {
		return fmt.Errorf("writing the sample export: %w", err)
	}
	key, err := reconcile.ParseKeySchema(tenure.Key.String())
	if err != nil {
		return err
	}
	l, err := reconcile.NewLayout(tenure.TableName, "", key)
	if err != nil {
		return err
	}

	// Load, then the same rows through PostgreSQL's own COPY.
	db, err := newDB(ctx, c.adminURL, "main")
	if err != nil {
		return err
	}
	defer db.drop()
	if _, err := ddbsync(ctx, c.bin, "migrate", "--database-url", db.url); err != nil {
		return err
	}
	ld, err := ddbsync(ctx, c.bin, "load", "--export", dir, "--key", "id", "--database-url", db.url, "--progress", "none", "--log-level", "warn")
	if err != nil {
		return err
	}
	report("load:               %7.1f s  %8.0f items/s  peak RSS %4.0f MB", ld.secs(), float64(c.items)/ld.secs(), ld.rssMB)
	raw, err := perfkit.RawCopy(ctx, db.pool, l, c.out)
	if err != nil {
		return err
	}
	report("  limit: COPY of the prepared (key, item) rows, one stream: %.1f s + primary key %.1f s = %.1f s (%d MB of rows)",
		raw.Copy.Seconds(), raw.PrimaryKey.Seconds(), raw.Total().Seconds(), raw.Bytes>>20)
	report("  ratio load / (COPY + primary key):  %.2f", ld.secs()/raw.Total().Seconds())
	size, err := tableSize(ctx, db.pool, l)
	if err != nil {
		return err
	}
	report("  storage: %s per million items (table with its TOAST and primary key)", perMillion(size, c.items))
	queries(ctx, db.pool, false)

	if c.doc {
		ddb, err := newDB(ctx, c.adminURL, "doc")
		if err != nil {
			return err
		}
		defer ddb.drop()
		if _, err := ddbsync(ctx, c.bin, "migrate", "--database-url", ddb.url); err != nil {
			return err
		}
		dl, err := ddbsync(ctx, c.bin, "load", "--doc", "--export", dir, "--key", "id", "--database-url", ddb.url, "--progress", "none", "--log-level", "warn")
		if err != nil {
			return err
		}
		report("load --doc:         %7.1f s  %8.0f items/s  peak RSS %4.0f MB  (%.2f × the load without doc, %.2f × the COPY limit)",
			dl.secs(), float64(c.items)/dl.secs(), dl.rssMB, dl.secs()/ld.secs(), dl.secs()/raw.Total().Seconds())
		ls := l
		ls.Doc = true
		dsize, err := tableSize(ctx, ddb.pool, ls)
		if err != nil {
			return err
		}
		report("  storage with doc: %s per million items (%.2f × without)", perMillion(dsize, c.items), float64(dsize)/float64(size))
		queries(ctx, ddb.pool, true)
		ddb.drop()
	}

	if c.resume {
		rdb, err := newDB(ctx, c.adminURL, "resume")
		if err != nil {
			return err
		}
		defer rdb.drop()
		if _, err := ddbsync(ctx, c.bin, "migrate", "--database-url", rdb.url); err != nil {
			return err
		}
		args := []string{"load", "--export", dir, "--key", "id", "--database-url", rdb.url, "--progress", "none", "--log-level", "warn"}
		done, err := killHalfway(ctx, c.bin, args, rdb.pool, len(exp.Files))
		if err != nil {
			return err
		}
		rl, err := ddbsync(ctx, c.bin, args...)
		if err != nil {
			return err
		}
		report("load resumed after SIGKILL (%d of %d files were in): %.1f s  peak RSS %.0f MB", done, len(exp.Files), rl.secs(), rl.rssMB)
		rdb.drop()
	}

	if c.diff {
		want, err := plant(ctx, db.pool, l, c.planted)
		if err != nil {
			return err
		}
		jsonOut := filepath.Join(c.out, "ratios-diff.jsonl")
		defer os.Remove(jsonOut)
		df, err := ddbsync(ctx, c.bin, "diff", "--table", tenure.TableName, "--against", dir, "--database-url", db.url,
			"--format", "json", "--out", jsonOut, "--log-level", "warn")
		if err != nil && df.exit != 1 {
			return err
		}
		got, err := diffCounts(jsonOut)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("diff found %+v, planted %+v", got, want)
		}
		report("diff (%d planted differences, all found): %.1f s  peak RSS %.0f MB", c.planted, df.secs(), df.rssMB)
		start := time.Now()
		n, err := perfkit.ReadExport(ctx, exp, reconcile.DefaultWorkers())
		if err != nil {
			return err
		}
		read := time.Since(start)
		report("  limit: reading and decoding the export alone (%d items, %d at a time): %.1f s", n, reconcile.DefaultWorkers(), read.Seconds())
		report("  ratio diff / read:  %.2f   ratio diff / load:  %.2f", df.secs()/read.Seconds(), df.secs()/ld.secs())
	}
	report("== load average at the end %s", loadAvg())
	return nil
}

// result is a child ddbsync's run.
type result struct {
	wall  time.Duration
	rssMB float64
	exit  int
}

func (r result) secs() float64 { return r.wall.Seconds() }

// childFlag makes this program a small runner that starts a command,
// waits for it and writes its peak RSS to a file. A child's peak RSS
// (getrusage's maxrss) counts its parent's memory at the fork: started from
// this harness, which holds megabytes of its own, ddbsync would seem to use
// them. Started from the runner, freshly exec'd, it does not.
const childFlag = "-measure-child"

// measureChild runs args, waits, and writes its maxrss (kB) to file.
func measureChild(file string, args []string) int {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	if cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, "ratios:", err)
		return 2
	}
	var maxrss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		maxrss = ru.Maxrss // kilobytes on Linux
	}
	if err := os.WriteFile(file, fmt.Appendf(nil, "%d", maxrss), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "ratios:", err)
		return 2
	}
	return cmd.ProcessState.ExitCode()
}

// ddbsync runs the binary with args (through the runner, see childFlag)
// and measures it. A non-zero exit is an error (with the result).
func ddbsync(ctx context.Context, bin string, args ...string) (result, error) {
	self, err := os.Executable()
	if err != nil {
		return result{}, err
	}
	rss, err := os.CreateTemp("", "ratios-rss-*")
	if err != nil {
		return result{}, err
	}
	rss.Close()
	defer os.Remove(rss.Name())
	cmd := exec.CommandContext(ctx, self, append([]string{childFlag, rss.Name(), bin}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	err = cmd.Run()
	r := result{wall: time.Since(start)}
	if cmd.ProcessState != nil {
		r.exit = cmd.ProcessState.ExitCode()
	}
	if raw, rerr := os.ReadFile(rss.Name()); rerr == nil {
		var kb int64
		if _, serr := fmt.Sscan(string(raw), &kb); serr == nil {
			r.rssMB = float64(kb) / 1024
		}
	}
	if err != nil {
		return r, fmt.Errorf("ddbsync %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return r, nil
}

// killHalfway starts a load and kills it with SIGKILL once half its files
// are in; it returns how many were.
func killHalfway(ctx context.Context, bin string, args []string, pool *pgxpool.Pool, files int) (int, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer cmd.Wait()
	for {
		var n int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM ddbsync.load_files`).Scan(&n)
		if err != nil && !isUndefinedTable(err) {
			_ = cmd.Process.Kill()
			return 0, err
		}
		if n >= (files+1)/2 {
			return n, cmd.Process.Kill()
		}
		select {
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func isUndefinedTable(err error) bool { return err != nil && strings.Contains(err.Error(), "42P01") }

// counts are a diff's inconsistencies by kind.
type counts struct{ Missing, Extra, Different int64 }

// plant changes n rows of the copy as bench/diff.sh does: a third deleted
// (missing), a third added (extra), the rest with a nested number changed
// (different).
func plant(ctx context.Context, pool *pgxpool.Pool, l store.Layout, n int) (counts, error) {
	third := n / 3
	doc, err := store.HasDoc(ctx, pool, l.Ident())
	if err != nil {
		return counts{}, err
	}
	docCol, docVal := "", ""
	if doc {
		docCol, docVal = ", doc", ", '{}'"
	}
	stmts := []string{
		`CREATE TEMP TABLE victims AS SELECT id, row_number() OVER () AS n
			FROM (SELECT id FROM dynamodb.tenure_information ORDER BY md5(id) LIMIT $1) s`,
		`DELETE FROM dynamodb.tenure_information t USING victims v WHERE t.id = v.id AND v.n <= $1`,
		`UPDATE dynamodb.tenure_information t SET item = jsonb_set(t.item, '{versionNumber,N}', '"-1"')
			FROM victims v WHERE t.id = v.id AND v.n > $1`,
		`INSERT INTO dynamodb.tenure_information (id, item` + docCol + `, origin, origin_time)
			SELECT 'planted-' || g, jsonb_build_object('id', jsonb_build_object('S', 'planted-' || g))` + docVal + `, 'export', $2::timestamptz
			FROM generate_series(1, $1) g`,
	}
	args := [][]any{{n - third}, {third}, {third}, {third, perfkit.ExportTime}}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for i, s := range stmts {
			if _, err := tx.Exec(ctx, s, args[i]...); err != nil {
				return err
			}
		}
		return nil
	})
	return counts{Missing: int64(third), Extra: int64(third), Different: int64(n - 2*third)}, err
}

// diffCounts reads the summary of a diff's JSON lines.
func diffCounts(path string) (counts, error) {
	f, err := os.Open(path)
	if err != nil {
		return counts{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	var c counts
	for sc.Scan() {
		var line struct {
			Type                      string
			Missing, Extra, Different int64
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return c, err
		}
		if line.Type == "summary" {
			return counts{line.Missing, line.Extra, line.Different}, nil
		}
	}
	if err := sc.Err(); err != nil {
		return c, err
	}
	return c, errors.New("the diff wrote no summary")
}

// tableSize is the data table's size with its TOAST table and indexes.
func tableSize(ctx context.Context, pool *pgxpool.Pool, l store.Layout) (int64, error) {
	var n int64
	err := pool.QueryRow(ctx, `SELECT pg_total_relation_size($1::regclass)`, l.Ident().Sanitize()).Scan(&n)
	return n, err
}

func perMillion(bytes int64, items int) string {
	return fmt.Sprintf("%.2f GB", float64(bytes)/float64(items)*1e6/1e9)
}

// The README's analyst queries, against item and against doc.
var analystQueries = []struct{ name, item, doc string }{
	{"active tenures by tenure type",
		`SELECT item #>> '{tenureType,M,description,S}' AS tenure_type, count(*)
		FROM dynamodb.tenure_information
		WHERE item #>> '{endOfTenureDate,S}' IS NULL OR item #>> '{endOfTenureDate,S}' = '1900-01-01'
		   OR left(item #>> '{endOfTenureDate,S}', 10)::date >= current_date
		GROUP BY 1 ORDER BY 2 DESC`,
		`SELECT doc->'tenureType'->>'description' AS tenure_type, count(*)
		FROM dynamodb.tenure_information
		WHERE doc->>'endOfTenureDate' IS NULL OR doc->>'endOfTenureDate' = '1900-01-01'
		   OR left(doc->>'endOfTenureDate', 10)::date >= current_date
		GROUP BY 1 ORDER BY 2 DESC`},
	{"household sizes",
		`SELECT jsonb_array_length(item #> '{householdMembers,L}') AS members, count(*)
		FROM dynamodb.tenure_information GROUP BY 1 ORDER BY 1`,
		`SELECT jsonb_array_length(doc->'householdMembers') AS members, count(*)
		FROM dynamodb.tenure_information GROUP BY 1 ORDER BY 1`},
}

// queries times the analyst queries (the median of 3 runs each), against
// item, and against doc too when the table has it.
func queries(ctx context.Context, pool *pgxpool.Pool, doc bool) {
	for _, q := range analystQueries {
		line := fmt.Sprintf("  query %q: item %.2f s", q.name, median3(ctx, pool, q.item))
		if doc {
			line += fmt.Sprintf(", doc %.2f s", median3(ctx, pool, q.doc))
		}
		report("%s", line)
	}
}

func median3(ctx context.Context, pool *pgxpool.Pool, sql string) float64 {
	var ds []float64
	for range 3 {
		start := time.Now()
		rows, err := pool.Query(ctx, sql)
		if err == nil {
			for rows.Next() {
			}
			rows.Close()
			err = rows.Err()
		}
		if err != nil {
			report("  query failed: %v", err)
			return -1
		}
		ds = append(ds, time.Since(start).Seconds())
	}
	slices.Sort(ds)
	return ds[1]
}

// database is a scratch database of the run.
type database struct {
	admin, name, url string
	pool             *pgxpool.Pool
	dropped          bool
}

func newDB(ctx context.Context, adminURL, suffix string) (*database, error) {
	u, err := url.Parse(adminURL)
	if err != nil {
		return nil, err
	}
	d := &database{admin: adminURL, name: fmt.Sprintf("ddbsync_ratios_%d_%s", os.Getpid(), suffix)}
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return nil, err
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{d.name}.Sanitize()); err != nil {
		return nil, err
	}
	u.Path = "/" + d.name
	d.url = u.String()
	if d.pool, err = pgxpool.New(ctx, d.url); err != nil {
		d.drop()
		return nil, err
	}
	return d, nil
}

// drop drops the database, once.
func (d *database) drop() {
	if d.dropped {
		return
	}
	d.dropped = true
	if d.pool != nil {
		d.pool.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, d.admin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ratios: dropping database %s: %v\n", d.name, err)
		return
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{d.name}.Sanitize()+" WITH (FORCE)"); err != nil {
		fmt.Fprintf(os.Stderr, "ratios: dropping database %s: %v\n", d.name, err)
	}
}

func numCPU() int { return runtime.NumCPU() }

func loadAvg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
