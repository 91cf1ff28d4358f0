// Package cli is ddbsync's command line: one file per subcommand, each
// turning flags into a configuration and calling the library packages.
// Only this package reads flags and the environment or writes to the
// terminal, and only [Run] decides the exit status.
package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

// globals are the flags every command shares.
type globals struct {
	databaseURL string
	endpointURL string
	region      string
	logFormat   string
	logLevel    string
	configPath  string
	config      *fileConfig // nil without --config
	stdout      io.Writer
	stderr      io.Writer
	logger      *slog.Logger
	// connectTimeout bounds connecting to PostgreSQL when the URL does not
	// (default defaultConnectTimeout); tests shorten it.
	connectTimeout time.Duration
}

// Run executes the command line args and returns the exit status:
// 0 success, 1 a finding or refusal the user must act on, 2 a failure.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return RunContext(ctx, args, stdin, stdout, stderr)
}

// RunContext is [Run] stopped by ctx instead of by SIGINT and SIGTERM: a
// cancelled ctx is an interruption.
func RunContext(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr}
	root := newRoot(g)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	return exitCode(stderr, cmd, err)
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "ddbsync",
		Short: "Keep an exact, queryable PostgreSQL copy of DynamoDB tables",
		Long: `ddbsync loads a DynamoDB point-in-time export into PostgreSQL, verified and atomically,
so analysts can query the table with SQL.`,
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			l, err := newLogger(g.stderr, g.logFormat, g.logLevel)
			if err != nil {
				return &exitError{status: exitFailure, err: err}
			}
			g.logger = l
			if g.configPath == "" {
				return nil
			}
			if g.config, err = readConfig(g.configPath); err != nil {
				return &exitError{status: exitFailure, err: err}
			}
			// The file fills in what neither a flag nor the environment set.
			fill := func(flag string, dst *string, v string) {
				if !cmd.Flags().Changed(flag) && *dst == "" {
					*dst = v
				}
			}
			fill("database-url", &g.databaseURL, g.config.DatabaseURL)
			fill("endpoint-url", &g.endpointURL, g.config.EndpointURL)
			fill("region", &g.region, g.config.Region)
			return nil
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.databaseURL, "database-url", os.Getenv("DATABASE_URL"), "PostgreSQL connection URL (env DATABASE_URL)")
	pf.StringVar(&g.endpointURL, "endpoint-url", os.Getenv("AWS_ENDPOINT_URL"), "AWS endpoint for DynamoDB, Streams and S3, e.g. a local emulator (env AWS_ENDPOINT_URL)")
	pf.StringVar(&g.region, "region", "", "AWS region (default: the standard AWS configuration, else us-east-1)")
	pf.StringVar(&g.logFormat, "log-format", envOr("DDBSYNC_LOG_FORMAT", "text"), "log format: text or json (env DDBSYNC_LOG_FORMAT)")
	pf.StringVar(&g.configPath, "config", os.Getenv("DDBSYNC_CONFIG"), "configuration file (YAML) listing tables and settings; flags and environment override it (env DDBSYNC_CONFIG)")
	pf.StringVar(&g.logLevel, "log-level", envOr("DDBSYNC_LOG_LEVEL", "info"), "log level: debug, info, warn or error (env DDBSYNC_LOG_LEVEL)")
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	// Each command with the conditions it refuses to act on (exit 1); any
	// other error of its is a failure (exit 2). See exit.go.
	commands := []struct {
		cmd      *cobra.Command
		refusals refusals
	}{
		{newDemoCmd(g), demoRefusals},
		{newExportCmd(g), exportRefusals},
		{newLoadCmd(g), loadRefusals},
		{newFollowCmd(g), followRefusals},
		{newHealCmd(g), healRefusals},
		{newSyncCmd(g), syncRefusals},
		{newStatusCmd(g), statusRefusals},
		{newDiffCmd(g), diffRefusals},
		{newViewsCmd(g), viewsRefusals},
		{newSampleExportCmd(g), nil},
		{newMigrateCmd(g), nil},
		{newPublishCmd(g), publishRefusals},
	}
	for _, c := range commands {
		c.cmd.RunE = c.refusals.runE(c.cmd.RunE)
		root.AddCommand(c.cmd)
	}
	return root
}

// version describes this build from the module's build information.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown (no build information)"
	}
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, at string
	var dirty bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	out := v
	if rev != "" && !strings.Contains(v, rev[:min(12, len(rev))]) {
		out += ", commit " + rev[:min(12, len(rev))]
		if dirty {
			out += " (modified)"
		}
		if at != "" {
			out += " of " + at
		}
	}
	return fmt.Sprintf("ddbsync %s, %s %s/%s", out, info.GoVersion, runtime.GOOS, runtime.GOARCH)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageErrorf("--log-format %q: want text or json", format)
}
