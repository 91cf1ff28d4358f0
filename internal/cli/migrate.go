package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/ddbsync/ddbsync/migrations"
	"github.com/ddbsync/ddbsync/reconcile"
)

func newMigrateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "migrate",
		Short:   "Create or update ddbsync's bookkeeping schema (every command also does this on start)",
		Example: "  ddbsync migrate --database-url postgres://localhost/analytics",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pool, err := g.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer pool.Close()
			fmt.Fprintln(g.stdout, "bookkeeping schema ddbsync is up to date")
			return nil
		},
	}
}

// connect opens the database and applies pending migrations.
func (g *globals) connect(ctx context.Context) (*pgxpool.Pool, error) {
	if g.databaseURL == "" {
		return nil, usageErrorf("no database: pass --database-url or set DATABASE_URL")
	}
	cfg, err := pgxpool.ParseConfig(g.databaseURL)
	if err != nil {
		return nil, usageErrorf("--database-url: %v", err) // pgx redacts passwords
	}
	withConnectTimeout(&cfg.ConnConfig.Config, g.connectTimeout)
	if n := int32(max(10, reconcile.DefaultWorkers()+4)); cfg.MaxConns < n {
		cfg.MaxConns = n // parallel loaders and shard appliers each hold one
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL at %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, connectError(ctx, &cfg.ConnConfig.Config, err)
	}
	if err := migrations.Up(ctx, pool, g.logger); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

// defaultConnectTimeout bounds connecting to PostgreSQL when the URL does
// not say (connect_timeout, in seconds).
const defaultConnectTimeout = 10 * time.Second

// withConnectTimeout gives cfg a connect timeout (d, else the default) when
// neither connect_timeout nor PGCONNECT_TIMEOUT set one: a server that
// accepts connections and never answers must not hang us.
func withConnectTimeout(cfg *pgconn.Config, d time.Duration) {
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = cmp.Or(d, defaultConnectTimeout)
	}
}

// connectError describes a failed connection to the server of cfg.
func connectError(ctx context.Context, cfg *pgconn.Config, err error) error {
	at := fmt.Sprintf("connecting to PostgreSQL at %s:%d (database %s)", cfg.Host, cfg.Port, cfg.Database)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return fmt.Errorf("%s: no answer within %s (connect_timeout in the URL sets the wait): %w", at, cfg.ConnectTimeout, dedupLines{err})
	}
	return fmt.Errorf("%s: %w", at, dedupLines{err})
}

// dedupLines drops repeated lines of an error: pgx reports each attempt,
// and with sslmode=prefer it tries TLS and then plain text, which fail
// alike against a server that is down.
type dedupLines struct{ err error }

func (e dedupLines) Unwrap() error { return e.err }

func (e dedupLines) Error() string {
	seen := map[string]bool{}
	var out []string
	for _, line := range strings.Split(e.err.Error(), "\n") {
		if !seen[line] {
			seen[line] = true
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
