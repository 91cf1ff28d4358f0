package cli_test

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/pgtest"
	"github.com/ddbsync/ddbsync/internal/tenure"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ddbsync.yaml")
	require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	return p
}

func TestConfig_LoadsEveryTableOfTheFile(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	tenureExport := sampleExport(t, 300, 2)
	otherExport := filepath.Join(t.TempDir(), "persons")
	code, _, errOut := run(t, "sample-export", "--items", "120", "--out", otherExport, "--table", "Persons")
	require.Equal(t, 0, code, errOut)
	cfg := writeConfig(t, `
database_url: `+db+`
schema: housing
tables:
  - name: TenureInformation
    key: id
    export: `+tenureExport+`
  - name: Persons
    key: id:S
    export: `+otherExport+`
    schema: people
`)
	code, out, errOut := run(t, "load", "--config", cfg, "--progress", "none")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, `into "housing"."tenure_information"`)
	require.Contains(t, out, `into "people"."persons"`)
	require.Equal(t, 120, count(t, db, `SELECT count(*)::int FROM people.persons`))

	// A flag overrides the file (moving the copy needs saying so).
	code, out, errOut = run(t, "load", "--config", cfg, "--table", "TenureInformation", "--schema", "elsewhere", "--move-schema", "--progress", "none")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, `into "elsewhere"."tenure_information"`)
}

func TestConfig_RejectsMistakes(t *testing.T) {
	t.Parallel()
	for name, text := range map[string]string{
		"unknown setting": "tables:\n  - name: A\n    keys: id\n",
		"table twice":     "tables:\n  - name: A\n  - name: A\n",
		"bad key":         "tables:\n  - name: A\n    key: id:Q\n",
		"no name":         "tables:\n  - key: id\n",
	} {
		t.Run(name, func(t *testing.T) {
			code, _, errOut := run(t, "status", "--config", writeConfig(t, text))
			require.Equal(t, 2, code, errOut)
			require.Contains(t, errOut, "config ")
		})
	}
}

func TestFollowCmd_ServesMetricsForEveryConfiguredTable(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	emu, ids := emulatedTable(t, 200)
	dir := t.TempDir()
	_, err := emu.ExportToDir(t.Context(), tenure.TableName, emu.Clock().Now(), dir)
	require.NoError(t, err)
	cfg := writeConfig(t, "database_url: "+db+"\nendpoint_url: "+emu.URL()+"\ntables:\n  - name: TenureInformation\n    key: id\n    export: "+dir+"\n")
	code, _, errOut := run(t, "load", "--config", cfg, "--progress", "none")
	require.Equal(t, 0, code, errOut)

	l, err := netListenFree()
	require.NoError(t, err)
	cmd := child(t, "follow", "--config", cfg, "--metrics-addr", l, "--poll-interval", "10ms", "--ready-lag", "1h")
	metricsURL := "http://" + l
	scrape := func() string {
		resp, err := http.Get(metricsURL + "/metrics")
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	value := func(body, series string) float64 {
		m := regexp.MustCompile(regexp.QuoteMeta(series) + ` ([0-9.e+]+)`).FindStringSubmatch(body)
		if m == nil {
			return -1
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		return v
	}
	modify := `ddbsync_changes_applied_total{event="modify",table="TenureInformation"}`
	require.Eventually(t, func() bool { return value(scrape(), modify) >= 0 }, 30*time.Second, 20*time.Millisecond)
	before := value(scrape(), modify)
	writeVersions(t, emu, ids, 2)
	require.Eventually(t, func() bool { return value(scrape(), modify) >= before+200 }, 30*time.Second, 20*time.Millisecond,
		"the modify counter moves as changes are applied")
	body := scrape()
	for _, series := range []string{
		`ddbsync_watermark_timestamp_seconds{table="TenureInformation"}`,
		`ddbsync_watermark_age_seconds{table="TenureInformation"}`,
		`ddbsync_shards{state="reading",table="TenureInformation"}`,
		`ddbsync_retries_total{cause="throttle",table="TenureInformation"}`,
	} {
		require.GreaterOrEqual(t, value(body, series), 0.0, "series %s missing:\n%s", series, body)
	}
	// The shard gauges follow the applied counters a moment later: a shard's
	// state is counted when the follower takes its page, after applying it.
	require.Eventually(t, func() bool {
		return value(scrape(), `ddbsync_shards{state="reading",table="TenureInformation"}`) == 2
	}, 30*time.Second, 20*time.Millisecond, "both shards are reading")
	require.Eventually(t, func() bool {
		resp, err := http.Get(metricsURL + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}, 30*time.Second, 20*time.Millisecond)
	resp, err := http.Get(metricsURL + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	require.NoError(t, cmd.Wait())
}

func netListenFree() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
