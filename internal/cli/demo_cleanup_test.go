package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/pgtest"
)

// cancelAfter is the demo's output. Once the output holds text it cancels
// the demo's context, as Ctrl-C would at that point.
type cancelAfter struct {
	bytes.Buffer
	text   string
	cancel context.CancelFunc
}

func (w *cancelAfter) Write(p []byte) (int, error) {
	n, err := w.Buffer.Write(p)
	if strings.Contains(w.String(), w.text) {
		w.cancel()
	}
	return n, err
}

func demoGlobals(dbURL string, out io.Writer) *globals {
	return &globals{databaseURL: dbURL, stdout: out, stderr: out, logger: slog.New(slog.DiscardHandler)}
}

func TestDemo_InterruptedCleansUpAndSaysSo(t *testing.T) {
	db := pgtest.URL(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := &cancelAfter{text: "exported the table", cancel: cancel}

	err := runDemo(ctx, demoGlobals(db, out), demoFlags{items: 200})

	require.ErrorIs(t, err, context.Canceled, "the CLI maps it to exit status 2")
	name := regexp.MustCompile(`database (ddbsync_demo_[0-9a-f]+)`).FindStringSubmatch(out.String())
	require.NotNil(t, name, out.String())
	require.Equal(t, "demo interrupted; cleaned up (the emulator stopped, database "+name[1]+" dropped)", err.Error())
	require.False(t, databaseExists(t, db, name[1]))
	require.NotContains(t, out.String(), "done in")
}

// Writing 20,000 tenures used to be 12 s of silence.
func TestDemo_ReportsProgressDuringLongSteps(t *testing.T) {
	var out bytes.Buffer
	d := newDemo(demoGlobals(pgtest.URL(t), &out), 200)
	d.writeEvery, d.tick = 50, 5*time.Millisecond

	require.NoError(t, d.runAndCleanUp(t.Context(), demoFlags{items: 200}), out.String())

	story := out.String()
	require.Contains(t, story, "  wrote 50 of 200 tenures\n  wrote 100 of 200 tenures\n  wrote 150 of 200 tenures\n• created table")
	require.NotContains(t, story, "wrote 200 of 200", "the step's own line says it is done")
	require.Regexp(t, `\n  loaded \d+ of 200 items\n(.*\n)*• loaded 200 items`, story)
	require.Regexp(t, `\n  applied \d+ changes so far\n(.*\n)*• followed the stream`, story)
}

// --keep used to print "pg_ctl -D <dir>/data stop", a placeholder, and one
// that fails as root. The commands it prints now are run as printed.
func TestDemo_KeepPrintsCommandsThatWork(t *testing.T) {
	if _, err := exec.LookPath("psql"); err != nil {
		t.Skip("psql is not installed: the printed commands use it")
	}
	for _, tc := range []struct{ name, dbURL, remove string }{
		{"DATABASE_URL", pgtest.URL(t), "drop it"},
		{"throwaway cluster", "", "stop and remove it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := runDemo(t.Context(), demoGlobals(tc.dbURL, &out), demoFlags{items: 50, keep: true})
			if err != nil && strings.Contains(err.Error(), "throwaway PostgreSQL could not be started") {
				t.Skip(err)
			}
			require.NoError(t, err, out.String())
			connect := line(t, out.String(), "connect:")
			remove := line(t, out.String(), tc.remove+":")
			t.Cleanup(func() { _ = exec.Command("sh", "-c", remove).Run() }) // if the test fails before
			if tc.dbURL == "" {
				require.Regexp(t, `^(runuser -u postgres -- )?/\S+/pg_ctl -D /\S+/data stop && rm -rf /\S+$`, remove)
				require.Equal(t, os.Geteuid() == 0, strings.HasPrefix(remove, "runuser -u postgres -- "),
					"as root, pg_ctl must run as the cluster's owner")
			}

			got, err := exec.Command("sh", "-c", connect+" -Atc 'SELECT count(*) FROM dynamodb.tenure_information'").CombinedOutput()
			require.NoError(t, err, "%s: %s", connect, got)
			require.Equal(t, "50", strings.TrimSpace(string(got)))

			got, err = exec.Command("sh", "-c", remove).CombinedOutput()
			require.NoError(t, err, "%s: %s", remove, got)
			require.Error(t, exec.Command("sh", "-c", connect+" -Atc 'SELECT 1'").Run(), "gone after %s", remove)
		})
	}
}

// line returns what follows label on the line of out that has it.
func line(t *testing.T, out, label string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(label) + `\s+(.+)$`).FindStringSubmatch(out)
	require.NotNil(t, m, "no %q line in:\n%s", label, out)
	return m[1]
}

func databaseExists(t *testing.T, dbURL, name string) bool {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dbURL)
	require.NoError(t, err)
	defer conn.Close(t.Context())
	var n int
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_database WHERE datname = $1`, name).Scan(&n))
	return n > 0
}
