package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ddbsync/ddbsync/internal/pgcluster"
)

// demoPostgres is where the demo keeps its copy: a database of its own on
// the server DATABASE_URL names, or a throwaway cluster. The demo loads,
// publishes and writes bookkeeping there and nowhere else, so a real copy
// in the user's database is never touched.
type demoPostgres struct {
	url     string // the demo's database
	cluster *pgcluster.Cluster

	// On the user's server: adminURL is the user's own connection, used
	// only to create and drop the database name.
	adminURL string
	name     string
	server   string // host:port, for messages
}

// errDemoNeedsItsOwnDatabase is the demo refusing to work in a database it
// cannot create: it never touches one it did not create.
var errDemoNeedsItsOwnDatabase = errors.New("the demo works only in a database it creates")

// insufficientPrivilege is the SQLSTATE of a CREATE DATABASE by a role
// without CREATEDB.
const insufficientPrivilege = "42501"

func startDemoPostgres(ctx context.Context, databaseURL string) (*demoPostgres, error) {
	if databaseURL == "" {
		c, err := pgcluster.Start()
		if err != nil {
			return nil, fmt.Errorf("no DATABASE_URL, and a throwaway PostgreSQL could not be started: %w", err)
		}
		return &demoPostgres{url: c.URL, cluster: c}, nil
	}
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return nil, usageErrorf("--database-url: %v", err) // pgx redacts passwords
	}
	withConnectTimeout(&cfg.Config, 0)
	p := &demoPostgres{adminURL: databaseURL, name: "ddbsync_demo_" + randomHex(4),
		server: fmt.Sprintf("%s:%d", cfg.Host, cfg.Port)}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, connectError(ctx, &cfg.Config, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{p.name}.Sanitize())
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == insufficientPrivilege {
		return nil, fmt.Errorf("%w, and role %s may not create one on %s: "+
			"grant it with ALTER ROLE %s CREATEDB, or unset DATABASE_URL to use a throwaway local cluster",
			errDemoNeedsItsOwnDatabase, cfg.User, p.server, pgx.Identifier{cfg.User}.Sanitize())
	}
	if err != nil {
		if ctx.Err() != nil {
			// The interrupt may have come after the server created it.
			_ = dropDatabase(context.WithoutCancel(ctx), databaseURL, p.name)
		}
		return nil, fmt.Errorf("creating the demo's database %s on %s: %w", p.name, p.server, err)
	}
	p.url = withDatabase(databaseURL, p.name)
	return p, nil
}

// describe says which PostgreSQL the demo works in.
func (p *demoPostgres) describe() string {
	if p.cluster != nil {
		return "PostgreSQL: a throwaway local cluster (DATABASE_URL is unset)"
	}
	return fmt.Sprintf("PostgreSQL: database %s, created for the demo on %s (DATABASE_URL's server); "+
		"nothing else there is touched", p.name, p.server)
}

// close drops the demo's database or stops the throwaway cluster, unless
// keep, and says what it did.
func (p *demoPostgres) close(ctx context.Context, keep bool) (string, error) {
	switch {
	case keep && p.cluster != nil:
		return "the throwaway PostgreSQL cluster kept running", nil
	case keep:
		return fmt.Sprintf("database %s kept", p.name), nil
	case p.cluster != nil:
		if err := p.cluster.Stop(); err != nil {
			return "", fmt.Errorf("stopping the throwaway PostgreSQL cluster: %w", err)
		}
		return "the throwaway PostgreSQL cluster stopped and removed", nil
	}
	if err := dropDatabase(ctx, p.adminURL, p.name); err != nil {
		return "", err
	}
	return fmt.Sprintf("database %s dropped", p.name), nil
}

// kept tells how to use and remove what --keep left.
func (p *demoPostgres) kept() []string {
	if p.cluster != nil {
		return []string{
			"connect:             psql " + shellQuote(p.url),
			"stop and remove it:  " + p.cluster.StopCommand(),
		}
	}
	drop := "DROP DATABASE " + pgx.Identifier{p.name}.Sanitize() + " WITH (FORCE)"
	return []string{
		"connect:  psql " + shellQuote(withoutPassword(p.url)),
		"drop it:  psql " + shellQuote(withoutPassword(p.adminURL)) + " -c " + shellQuote(drop),
	}
}

func dropDatabase(ctx context.Context, adminURL, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("dropping the demo's database %s: %w", name, err)
	}
	defer conn.Close(ctx)
	// FORCE ends sessions a kept demo database may still have, such as a
	// psql the user left open.
	drop := "DROP DATABASE IF EXISTS " + pgx.Identifier{name}.Sanitize() + " WITH (FORCE)"
	if _, err := conn.Exec(ctx, drop); err != nil {
		return fmt.Errorf("dropping the demo's database %s (it is left behind; drop it with %s): %w", name, drop, err)
	}
	return nil
}

// withDatabase returns the connection string raw with its database
// replaced, in either of libpq's forms.
func withDatabase(raw, db string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return raw + " dbname=" + db // in keyword/value form the last one wins
	}
	u.Path = "/" + db
	return u.String()
}

// kvPassword is a password setting in a keyword/value connection string.
var kvPassword = regexp.MustCompile(`\bpassword\s*=\s*('(?:[^'\\]|\\.)*'|\S+)\s*`)

// withoutPassword is a connection string fit to print: psql asks for the
// password, or finds it in PGPASSWORD or ~/.pgpass.
func withoutPassword(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return strings.TrimSpace(kvPassword.ReplaceAllString(raw, ""))
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	if q := u.Query(); q.Has("password") {
		q.Del("password")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// shellQuote makes s one word for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails: crypto/rand panics instead
	return hex.EncodeToString(b)
}
