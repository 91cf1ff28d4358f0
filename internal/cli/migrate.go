package cli

import (
	"context"
	"fmt"

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
	if n := int32(max(10, reconcile.DefaultWorkers()+4)); cfg.MaxConns < n {
		cfg.MaxConns = n // parallel loaders and shard appliers each hold one
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL at %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connecting to PostgreSQL at %s:%d (database %s): %w",
			cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	if err := migrations.Up(ctx, pool, g.logger); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}
