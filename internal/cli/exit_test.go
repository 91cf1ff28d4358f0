package cli_test

import (
	"bytes"
	"context"
	"hash/fnv"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/cli"
	"github.com/ddbsync/ddbsync/internal/emulator"
	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/internal/tenure"
)

// readmeExitTable reads the README's exit status table: condition →
// command → status, for the cells that name one.
func readmeExitTable(t *testing.T) map[string]map[string]int {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	text := string(raw)
	start := strings.Index(text, "### Exit statuses")
	require.NotEqual(t, -1, start, "the README has an exit status section")
	var header []string
	table := map[string]map[string]int{}
	for _, line := range strings.Split(text[start:], "\n")[1:] {
		if strings.HasPrefix(line, "#") {
			break
		}
		if !strings.HasPrefix(line, "|") {
			if len(header) > 0 {
				break
			}
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.Trim(strings.TrimSpace(cells[i]), "`")
		}
		switch {
		case header == nil:
			header = cells
		case strings.HasPrefix(cells[0], "---"):
		default:
			row := map[string]int{}
			for i, c := range cells[1:] {
				if c == "0" || c == "1" || c == "2" {
					row[header[i+1]] = int(c[0] - '0')
				}
			}
			table[cells[0]] = row
		}
	}
	require.NotEmpty(t, table)
	return table
}

// exitCase puts ddbsync in one condition and runs one command in it.
type exitCase func(t *testing.T) (code int, stderr string)

// contract is what the README promises, condition by condition, for each
// command; each entry brings its command to that condition for real.
func exitContract() map[string]map[string]exitCase {
	const table = tenure.TableName
	unreachable := "postgres://nobody@127.0.0.1:1/x?connect_timeout=2"
	// An AWS endpoint where nothing listens: the conditions tested with it
	// arise before any AWS call (TestMain sets fake credentials).
	const nowhere = "http://127.0.0.1:1"
	return map[string]map[string]exitCase{
		"success": {
			"demo": func(t *testing.T) (int, string) {
				return runCode(t, "demo", "--items", "40", "--database-url", pgtest.URL(t))
			},
			"export": func(t *testing.T) (int, string) {
				emu := emulatedPITRTable(t)
				return runCode(t, "export", "--table", table, "--s3", "s3://exports/t", "--poll", "10ms", "--endpoint-url", emu.URL())
			},
			"load": func(t *testing.T) (int, string) {
				return runCode(t, "load", "--export", sampleExport(t, 20, 1), "--key", "id", "--database-url", pgtest.URL(t), "--progress", "none")
			},
			"follow": func(t *testing.T) (int, string) {
				emu, db := loadedEmulatedTable(t)
				return runCode(t, "follow", "--table", table, "--until-caught-up", "--database-url", db, "--endpoint-url", emu.URL(), "--poll-interval", "10ms")
			},
			"heal": func(t *testing.T) (int, string) {
				emu, db, ids := pitrLoadedTable(t, 20)
				churn(t, emu, ids, 2*time.Hour, 2)
				return runCode(t, incrementalArgs("heal", emu, db)...)
			},
			"sync": func(t *testing.T) (int, string) {
				emu, db, ids := pitrLoadedTable(t, 20)
				churn(t, emu, ids, 2*time.Hour, 2)
				code, errOut := runCode(t, incrementalArgs("sync", emu, db)...)
				requireCopyEqualsScan(t, emu, db)
				return code, errOut
			},
			"status": func(t *testing.T) (int, string) {
				return runCode(t, "status", "--database-url", pgtest.URL(t))
			},
			"diff": func(t *testing.T) (int, string) {
				db, dir := loadedSample(t)
				return runCode(t, "diff", "--table", table, "--against", dir, "--database-url", db)
			},
			"sample-export": func(t *testing.T) (int, string) {
				return runCode(t, "sample-export", "--items", "3", "--out", t.TempDir())
			},
			"migrate": func(t *testing.T) (int, string) { return runCode(t, "migrate", "--database-url", pgtest.URL(t)) },
			"publish": func(t *testing.T) (int, string) {
				db, _ := loadedSample(t)
				return runCode(t, "publish", "--table", table, "--to", t.TempDir(), "--database-url", db)
			},
			"views": func(t *testing.T) (int, string) {
				db, _ := loadedSample(t)
				return runCode(t, "views", "--table", table, "--database-url", db)
			},
		},
		"a mistake on the command line (unknown flag or command, bad value)": everyCommand(func(t *testing.T, cmd string) (int, string) {
			code, errOut := runCode(t, cmd, "--no-such-flag")
			require.Contains(t, errOut, "--help", "an unknown flag points to --help")
			return code, errOut
		}),
		"PostgreSQL unreachable": commands(func(t *testing.T, cmd string) (int, string) {
			args := map[string][]string{
				"demo":    {"demo", "--items", "10"},
				"export":  {"export", "--table", table, "--s3", "s3://exports/t", "--load", "--poll", "10ms"},
				"load":    {"load", "--export", sampleExport(t, 5, 1), "--key", "id"},
				"follow":  {"follow", "--table", table},
				"heal":    {"heal", "--table", table, "--s3", "s3://exports/t"},
				"sync":    {"sync", "--table", table, "--s3", "s3://exports/t", "--once"},
				"status":  {"status"},
				"diff":    {"diff", "--table", table, "--against", sampleExport(t, 5, 1)},
				"migrate": {"migrate"},
				"publish": {"publish", "--table", table, "--to", t.TempDir()},
				"views":   {"views", "--table", table},
			}[cmd]
			if cmd == "export" {
				emu := emulatedPITRTable(t)
				args = append(args, "--endpoint-url", emu.URL())
			}
			code, errOut := runCode(t, append(args, "--database-url", unreachable)...)
			require.Contains(t, errOut, "connecting to PostgreSQL at 127.0.0.1:1")
			return code, errOut
		}, "demo", "export", "load", "follow", "heal", "sync", "status", "diff", "migrate", "publish", "views"),
		"the table has not been loaded": commands(func(t *testing.T, cmd string) (int, string) {
			args := map[string][]string{
				"follow":  {"follow", "--table", table, "--endpoint-url", nowhere},
				"heal":    {"heal", "--table", table, "--s3", "s3://exports/t", "--endpoint-url", nowhere},
				"sync":    {"sync", "--table", table, "--s3", "s3://exports/t", "--once", "--endpoint-url", nowhere},
				"status":  {"status", "--table", table},
				"diff":    {"diff", "--table", table, "--against", sampleExport(t, 5, 1)},
				"publish": {"publish", "--table", table, "--to", t.TempDir()},
				"views":   {"views", "--table", table},
			}[cmd]
			if cmd == "load" { // an incremental export needs a loaded copy
				emu, _ := emulatedTable(t, 5)
				now := emu.Clock().Now()
				args = []string{"load", "--export", incrementalDir(t, emu, now.Add(-time.Hour), now, "")}
			}
			code, errOut := runCode(t, append(args, "--database-url", pgtest.URL(t))...)
			require.Contains(t, errOut, "has not been loaded")
			return code, errOut
		}, "load", "follow", "heal", "sync", "status", "diff", "publish", "views"),
		"another ddbsync holds the table longer than `--lock-timeout` allows": commands(func(t *testing.T, cmd string) (int, string) {
			db, dir := loadedSample(t)
			holdLock(t, db, cmd, table)
			args := map[string][]string{
				"load":   {"load", "--export", dir},
				"follow": {"follow", "--table", table, "--endpoint-url", nowhere},
				"heal":   {"heal", "--table", table, "--s3", "s3://exports/t", "--endpoint-url", nowhere},
				"sync":   {"sync", "--table", table, "--s3", "s3://exports/t", "--once", "--endpoint-url", nowhere},
				"diff":   {"diff", "--table", table, "--against", dir, "--repair"},
			}[cmd]
			code, errOut := runCode(t, append(args, "--database-url", db, "--lock-timeout", "100ms")...)
			require.Contains(t, errOut, "of this table ("+table+") is running")
			require.Contains(t, errOut, "--lock-timeout", "the CLI says what to do")
			return code, errOut
		}, "load", "follow", "heal", "sync", "diff"),
		"a damaged or unsupported export": commands(func(t *testing.T, cmd string) (int, string) {
			db, dir := loadedSample(t)
			bad := sampleExport(t, 20, 1)
			require.NoError(t, os.WriteFile(filepath.Join(bad, "manifest-files.checksum"), []byte("AAAAAAAAAAAAAAAAAAAAAA=="), 0o644))
			args := map[string][]string{
				"load": {"load", "--export", bad, "--key", "id"},
				"diff": {"diff", "--table", table, "--against", bad},
			}[cmd]
			_ = dir
			if cmd == "heal" || cmd == "sync" { // an export AWS wrote, damaged
				emu, db, ids := pitrLoadedTable(t, 20)
				churn(t, emu, ids, time.Hour, 2)
				var from time.Time
				execQuery(t, db, `SELECT export_time FROM ddbsync.tables`, &from)
				damageIncrementalExport(t, emu, from, "exports", "t")
				code, errOut := runCode(t, incrementalArgs(cmd, emu, db)...)
				require.Contains(t, errOut, "checksum mismatch")
				require.Contains(t, errOut, "another --s3 prefix")
				return code, errOut
			}
			code, errOut := runCode(t, append(args, "--database-url", db)...)
			require.Contains(t, errOut, "checksum mismatch")
			return code, errOut
		}, "load", "heal", "sync", "diff"),
		"an incremental export whose window does not fit the copy": {
			"load": func(t *testing.T) (int, string) {
				emu, db := loadedEmulatedTable(t)
				at := emu.Clock().Now()
				emu.Clock().Advance(time.Hour)
				code, errOut := runCode(t, "load", "--export", incrementalDir(t, emu, at.Add(10*time.Minute), emu.Clock().Now(), ""), "--database-url", db)
				require.Contains(t, errOut, "does not fit the copy")
				require.Contains(t, errOut, "ddbsync heal --table "+table)
				return code, errOut
			},
		},
		"the PostgreSQL table is not ddbsync's": {
			"load": func(t *testing.T) (int, string) {
				db := pgtest.URL(t)
				execSQL(t, db, `CREATE SCHEMA dynamodb; CREATE TABLE dynamodb.tenure_information (id text)`)
				code, errOut := runCode(t, "load", "--export", sampleExport(t, 5, 1), "--key", "id", "--database-url", db)
				require.Contains(t, errOut, "not managed by ddbsync")
				return code, errOut
			},
		},
		"the demo may not create a database of its own": {
			"demo": func(t *testing.T) (int, string) {
				code, _, errOut := demoWithoutCreateDB(t)
				return code, errOut
			},
		},
		"the table's copy is in another schema (without `--move-schema`)": {
			"load": func(t *testing.T) (int, string) {
				db, dir := loadedSample(t)
				code, errOut := runCode(t, "load", "--export", dir, "--schema", "elsewhere", "--database-url", db)
				require.Contains(t, errOut, "--move-schema")
				return code, errOut
			},
		},
		"point-in-time recovery off": commands(func(t *testing.T, cmd string) (int, string) {
			if cmd == "export" {
				emu, _ := emulatedTable(t, 3)
				code, errOut := runCode(t, "export", "--table", table, "--s3", "s3://exports/t", "--endpoint-url", emu.URL())
				require.Contains(t, errOut, "point-in-time recovery is not enabled")
				return code, errOut
			}
			emu, db := loadedEmulatedTable(t)
			emu.Clock().Advance(time.Hour)
			code, errOut := runCode(t, incrementalArgs(cmd, emu, db)...)
			require.Contains(t, errOut, "point-in-time recovery is not enabled")
			require.Contains(t, errOut, "update-continuous-backups")
			return code, errOut
		}, "export", "heal", "sync"),
		"the copy's gap is older than point-in-time recovery reaches": commands(func(t *testing.T, cmd string) (int, string) {
			emu, db := loadedEmulatedTable(t)
			require.NoError(t, emu.CreateBucket("exports"))
			emu.Clock().Advance(time.Hour)
			enablePITR(t, emu) // after the copy's instant
			emu.Clock().Advance(time.Hour)
			code, errOut := runCode(t, incrementalArgs(cmd, emu, db)...)
			require.Contains(t, errOut, "before point-in-time recovery reaches")
			require.Contains(t, errOut, "ddbsync export --table "+table)
			return code, errOut
		}, "heal", "sync"),
		"a gap in the stream, a replaced stream, a stream without new images": {
			"follow": func(t *testing.T) (int, string) {
				emu, db := loadedEmulatedTable(t)
				follow := []string{"follow", "--table", table, "--until-caught-up", "--database-url", db, "--endpoint-url", emu.URL(), "--poll-interval", "10ms"}
				code, errOut := runCode(t, follow...)
				require.Equal(t, 0, code, errOut)
				// The stream is replaced: the changes in between are in no stream.
				require.NoError(t, emu.DisableStream(table))
				_, err := emu.EnableStream(table, string(types.StreamViewTypeNewAndOldImages))
				require.NoError(t, err)
				code, errOut = runCode(t, follow...)
				require.Contains(t, errOut, "stream changed")
				return code, errOut
			},
		},
		"inconsistencies found (also when repaired)": {
			"diff": func(t *testing.T) (int, string) {
				db, dir := loadedSample(t)
				execSQL(t, db, `DELETE FROM dynamodb.tenure_information WHERE id = (SELECT min(id) FROM dynamodb.tenure_information)`)
				return runCode(t, "diff", "--table", table, "--against", dir, "--repair", "--database-url", db)
			},
		},
		"a mismatch found by `--verify` (with `--on-mismatch stop`)": {
			"follow": func(t *testing.T) (int, string) { return followStoppedByVerify(t) },
		},
		"history asked for on a copy changed since its export": {
			"follow": func(t *testing.T) (int, string) {
				db, _ := loadedSample(t)
				execSQL(t, db, `UPDATE dynamodb.tenure_information SET origin = 'stream' WHERE id = (SELECT min(id) FROM dynamodb.tenure_information)`)
				code, errOut := runCode(t, "follow", "--table", table, "--history", "--database-url", db, "--endpoint-url", nowhere)
				require.Contains(t, errOut, "history since its export is unknown")
				return code, errOut
			},
		},
		"the copy has not caught up with the diff's source": {
			"diff": func(t *testing.T) (int, string) {
				db, dir := loadedSample(t)
				newer := sampleExportAt(t, 20, time.Now().Add(time.Hour))
				_ = dir
				code, errOut := runCode(t, "diff", "--table", table, "--against", newer, "--database-url", db)
				require.Contains(t, errOut, "has not caught up")
				return code, errOut
			},
		},
		"a typed view must change a column's type while views depend on it": {
			"views": func(t *testing.T) (int, string) {
				db, _ := loadedSample(t)
				code, errOut := runCode(t, "views", "--table", table, "--database-url", db)
				require.Equal(t, 0, code, errOut)
				execSQL(t, db, `CREATE VIEW public.versions AS SELECT version_number FROM analytics.tenure_information;
					UPDATE dynamodb.tenure_information SET item = jsonb_set(item, '{versionNumber}', '{"N": "1.5"}')
					WHERE id = (SELECT min(id) FROM dynamodb.tenure_information)`)
				code, errOut = runCode(t, "views", "--table", table, "--sample", "0", "--database-url", db)
				require.Contains(t, errOut, "version_number: bigint → numeric")
				require.Contains(t, errOut, "versions")
				require.Contains(t, errOut, "drop the views named")
				return code, errOut
			},
		},
		"interrupted (SIGINT, SIGTERM)": commands(func(t *testing.T, cmd string) (int, string) {
			db, dir := loadedSample(t)
			args := map[string][]string{
				"demo":    {"demo", "--items", "10"},
				"export":  {"export", "--table", table, "--s3", "s3://exports/t", "--load"},
				"load":    {"load", "--export", dir},
				"follow":  {"follow", "--table", table},
				"heal":    {"heal", "--table", table, "--s3", "s3://exports/t"},
				"sync":    {"sync", "--table", table, "--s3", "s3://exports/t"},
				"status":  {"status"},
				"diff":    {"diff", "--table", table, "--against", dir},
				"migrate": {"migrate"},
				"publish": {"publish", "--table", table, "--to", t.TempDir()},
				"views":   {"views", "--table", table},
			}[cmd]
			ctx, cancel := context.WithCancel(t.Context())
			cancel() // the signal arrives as the command starts
			var stdout, stderr bytes.Buffer
			code := cli.RunContext(ctx, append(args, "--database-url", db), strings.NewReader(""), &stdout, &stderr)
			if code != 0 {
				require.Contains(t, stderr.String(), "interrupted")
				require.NotContains(t, stderr.String(), "panic")
			}
			return code, stderr.String()
		}, "demo", "export", "load", "follow", "heal", "sync", "status", "diff", "migrate", "publish", "views"),
		"an `--as-of` instant whose history is not kept": {
			"publish": func(t *testing.T) (int, string) {
				db, at := followedSample(t)
				code, errOut := runCode(t, "publish", "--table", table, "--to", t.TempDir(), "--as-of", at.Add(time.Hour).Format(time.RFC3339),
					"--database-url", db)
				require.Contains(t, errOut, "history is not kept for table "+table)
				require.Contains(t, errOut, "without --as-of")
				return code, errOut
			},
		},
		"an `--as-of` instant not before the copy's watermark W": {
			"publish": func(t *testing.T) (int, string) {
				db, at := followedSample(t)
				code, errOut := runCode(t, "publish", "--table", table, "--to", t.TempDir(), "--as-of", at.Add(25*time.Hour).Format(time.RFC3339),
					"--database-url", db)
				require.Contains(t, errOut, "is not before its watermark W")
				return code, errOut
			},
		},
	}
}

// followedSample is [loadedSample] with a watermark W a day after the
// export's instant T, which it returns.
func followedSample(t *testing.T) (db string, exportTime time.Time) {
	t.Helper()
	db, _ = loadedSample(t)
	execSQL(t, db, `INSERT INTO ddbsync.streams (table_name, stream_arn, start_time, watermark)
		SELECT table_name, 'arn:aws:dynamodb:eu-west-2:000000000000:table/T/stream/1', export_time, export_time + interval '1 day'
		FROM ddbsync.tables`)
	execQuery(t, db, `SELECT export_time FROM ddbsync.tables`, &exportTime)
	return db, exportTime
}

// TestExitStatuses_MatchTheREADME runs every command in every condition the
// README's exit status table names, and checks the status it promises.
func TestExitStatuses_MatchTheREADME(t *testing.T) {
	promised := readmeExitTable(t)
	contract := exitContract()
	for cond, cmds := range promised {
		_, ok := contract[cond]
		require.True(t, ok, "the README names a condition no test covers: %q", cond)
		for cmd := range cmds {
			_, ok := contract[cond][cmd]
			require.True(t, ok, "README: %q for %s has no test", cond, cmd)
		}
	}
	for cond, cmds := range contract {
		_, ok := promised[cond]
		require.True(t, ok, "a tested condition is missing from the README: %q", cond)
		for cmd, c := range cmds {
			want, ok := promised[cond][cmd]
			require.True(t, ok, "%q for %s is tested but the README gives no status", cond, cmd)
			t.Run(slug(cond)+"/"+cmd, func(t *testing.T) {
				t.Parallel()
				code, errOut := c(t)
				require.Equal(t, want, code, "README promises %d; stderr: %s", want, errOut)
				if code != 0 {
					line := errorLine(errOut)
					require.NotEmpty(t, line, "the error is printed: %s", errOut)
					require.Equal(t, 1, strings.Count(errOut, line), "the error is printed once: %s", errOut)
				}
			})
		}
	}
}

// errorLine is the first line of the error ddbsync printed.
func errorLine(stderr string) string {
	for _, line := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(line, "ddbsync: ") {
			return line
		}
	}
	return ""
}

// lockKey is the advisory lock key ddbsync takes for what on table: the
// same derivation as reconcile/store/lock.go's, which another process must match.
func lockKey(what, table string) int64 {
	h := fnv.New64a()
	h.Write([]byte("ddbsync:" + what + ":" + table))
	return int64(h.Sum64())
}

var nonWord = regexp.MustCompile(`[^a-z0-9]+`)

func slug(s string) string {
	return strings.Trim(nonWord.ReplaceAllString(strings.ToLower(s), "_"), "_")
}

func runCode(t *testing.T, args ...string) (int, string) {
	t.Helper()
	code, _, errOut := run(t, args...)
	return code, errOut
}

var allCommands = []string{"demo", "export", "load", "follow", "heal", "sync", "status", "diff", "sample-export", "migrate", "publish", "views"}

func everyCommand(f func(t *testing.T, cmd string) (int, string)) map[string]exitCase {
	return commands(f, allCommands...)
}

func commands(f func(t *testing.T, cmd string) (int, string), names ...string) map[string]exitCase {
	m := map[string]exitCase{}
	for _, n := range names {
		m[n] = func(t *testing.T) (int, string) { return f(t, n) }
	}
	return m
}

// loadedSample is a database holding a load of a small sample export.
func loadedSample(t *testing.T) (db, dir string) {
	t.Helper()
	db, dir = pgtest.URL(t), sampleExport(t, 20, 1)
	code, errOut := runCode(t, "load", "--export", dir, "--key", "id", "--database-url", db, "--progress", "none")
	require.Equal(t, 0, code, errOut)
	return db, dir
}

// sampleExportAt is a sample export whose export time is at.
func sampleExportAt(t *testing.T, items int, at time.Time) string {
	t.Helper()
	dir := sampleExport(t, items, 1)
	path := filepath.Join(dir, "manifest-summary.json")
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	re := regexp.MustCompile(`"exportTime":\s*"[^"]*"`)
	require.True(t, re.Match(raw))
	raw = re.ReplaceAll(raw, []byte(`"exportTime":"`+at.UTC().Format(time.RFC3339Nano)+`"`))
	require.NoError(t, os.WriteFile(path, raw, 0o644))
	require.NoError(t, os.Remove(filepath.Join(dir, "manifest-summary.checksum")))
	return dir
}

// loadedEmulatedTable is an emulated table with a stream, and a database
// holding the load of its export.
func loadedEmulatedTable(t *testing.T) (*emulator.Server, string) {
	t.Helper()
	emu, _ := emulatedTable(t, 10)
	dir := t.TempDir()
	_, err := emu.ExportToDir(t.Context(), tenure.TableName, emu.Clock().Now(), dir)
	require.NoError(t, err)
	db := pgtest.URL(t)
	code, errOut := runCode(t, "load", "--export", dir, "--database-url", db, "--endpoint-url", emu.URL(), "--progress", "none")
	require.Equal(t, 0, code, errOut)
	return emu, db
}

// emulatedPITRTable is an emulated table with point-in-time recovery on and
// a bucket named exports.
func emulatedPITRTable(t *testing.T) *emulator.Server {
	t.Helper()
	emu, _ := emulatedTable(t, 3)
	require.NoError(t, emu.CreateBucket("exports"))
	_, err := emu.DynamoDB().UpdateContinuousBackups(t.Context(), &dynamodb.UpdateContinuousBackupsInput{
		TableName:                        aws.String(tenure.TableName),
		PointInTimeRecoverySpecification: &types.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: aws.Bool(true)},
	})
	require.NoError(t, err)
	return emu
}

// holdLock takes the table lock a ddbsync cmd would take, in a session of
// its own, as a running ddbsync process would hold it.
func holdLock(t *testing.T, db, cmd, table string) {
	t.Helper()
	// A repair needs the follow lock; heal and sync take the load lock first.
	kind := map[string]string{"load": "load", "follow": "follow", "diff": "follow", "heal": "load", "sync": "load"}[cmd]
	conn, err := pgx.Connect(t.Context(), db)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	var ok bool
	require.NoError(t, conn.QueryRow(t.Context(), "SELECT pg_try_advisory_lock($1)", lockKey(kind, table)).Scan(&ok))
	require.True(t, ok)
}

func execQuery(t *testing.T, db, query string, dst any) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), db)
	require.NoError(t, err)
	defer conn.Close(t.Context())
	require.NoError(t, conn.QueryRow(t.Context(), query).Scan(dst))
}
