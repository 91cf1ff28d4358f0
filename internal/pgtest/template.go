package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddbsync/ddbsync/migrations"
)

// templateLockKey is the advisory lock that serialises making templates
// among the test binaries sharing a server (go test runs packages at once).
const templateLockKey = 0x64646273796e63 // "ddbsync"

// staleTemplateAge is how long a template of other migrations is kept: a
// binary built from another checkout may still be using it. A template
// dropped under a binary's feet is made again (see createFromTemplate).
const staleTemplateAge = time.Hour

// SQLSTATEs that copying and renaming a database wait out.
const (
	codeObjectInUse        = "55006" // another session is connected to the database
	codeInvalidCatalogName = "3D000" // no such database
)

// templatePrefix starts the name of every template database.
const templatePrefix = "ddbsync_tmpl_"

// templateName is the template database for the migrations of this binary.
func templateName() string { return templatePrefix + migrations.Fingerprint()[:16] }

// migratedTemplate returns the name of the template database, making it on
// the server first if no binary has. conn is an admin connection.
func migratedTemplate(ctx context.Context, conn *pgx.Conn, admin string) (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if template != "" {
		return template, nil
	}
	name := templateName()
	if err := ensureTemplate(ctx, conn, admin, name); err != nil {
		return "", fmt.Errorf("making template database %s: %w", name, err)
	}
	template = name
	return template, nil
}

// forgetTemplate makes the next test check the template exists again.
func forgetTemplate(name string) {
	mu.Lock()
	defer mu.Unlock()
	if template == name {
		template = ""
	}
}

// ensureTemplate makes the template under the advisory lock: it migrates a
// database under a temporary name and renames it only when complete, so no
// binary ever copies a half-made template. The template refuses
// connections, so nothing holds it open while tests copy it.
func ensureTemplate(ctx context.Context, conn *pgx.Conn, admin, name string) (err error) {
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(templateLockKey)); err != nil {
		return fmt.Errorf("locking: %w", err)
	}
	defer func() {
		// A fresh context: the caller's may be done, and the session's lock
		// must not outlive this call.
		uctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, uerr := conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", int64(templateLockKey)); uerr != nil && err == nil {
			err = fmt.Errorf("unlocking: %w", uerr)
		}
	}()
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return err
	}
	if err := dropStaleTemplates(ctx, conn, name); err != nil {
		return err
	}
	if err := sweepTestDatabases(ctx, conn); err != nil {
		return err
	}
	if exists {
		return nil
	}
	tmp := name + "_new"
	// Left over by a binary that died making it: it held the lock, so no one
	// else is making it now.
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+tmp+" WITH (FORCE)"); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+tmp); err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, withDatabase(admin, tmp))
	if err != nil {
		return err
	}
	err = migrations.Up(ctx, pool, nil)
	pool.Close()
	if err != nil {
		return err
	}
	// The pool's backends may take a moment to go: renaming waits for that.
	if err := execWhileBusy(ctx, conn, "ALTER DATABASE "+tmp+" RENAME TO "+name); err != nil {
		return err
	}
	for _, q := range []string{
		"ALTER DATABASE " + name + " WITH ALLOW_CONNECTIONS false IS_TEMPLATE true",
		fmt.Sprintf("COMMENT ON DATABASE %s IS 'ddbsync test template, made at %d'", name, time.Now().Unix()),
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// execWhileBusy runs q, again while it fails because another session is
// connected to the database it names (SQLSTATE 55006), for up to about 10 s.
func execWhileBusy(ctx context.Context, conn *pgx.Conn, q string) error {
	for attempt := 0; ; attempt++ {
		_, err := conn.Exec(ctx, q)
		var pgErr *pgconn.PgError
		if err == nil || attempt >= 200 || !errors.As(err, &pgErr) || pgErr.Code != codeObjectInUse {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %w)", ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// dropStaleTemplates drops the templates of other migrations made more
// than staleTemplateAge ago. Callers hold the advisory lock.
func dropStaleTemplates(ctx context.Context, conn *pgx.Conn, keep string) error {
	rows, err := conn.Query(ctx, `SELECT datname, coalesce(shobj_description(oid, 'pg_database'), '')
		FROM pg_database WHERE starts_with(datname, $1) AND datname <> $2
		AND datconnlimit <> -2 -- not invalid: being dropped`, templatePrefix, keep)
	if err != nil {
		return err
	}
	type db struct{ name, comment string }
	dbs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (db, error) {
		var d db
		return d, r.Scan(&d.name, &d.comment)
	})
	if err != nil {
		return err
	}
	for _, d := range dbs {
		var made int64
		if _, err := fmt.Sscanf(d.comment, "ddbsync test template, made at %d", &made); err != nil {
			continue // half-made (under the lock now) or not ours
		}
		if time.Since(time.Unix(made, 0)) < staleTemplateAge {
			continue
		}
		// Housekeeping: a failure (another session dropping it too) is no
		// reason to fail a test.
		for _, q := range []string{
			"ALTER DATABASE " + d.name + " IS_TEMPLATE false",
			"DROP DATABASE IF EXISTS " + d.name + " WITH (FORCE)",
		} {
			if _, err := conn.Exec(ctx, q); err != nil {
				fmt.Fprintf(os.Stderr, "pgtest: dropping old template %s: %v\n", d.name, err)
				break
			}
		}
	}
	return nil
}

// sweepTestDatabases drops the test databases made more than
// staleTemplateAge ago that no one is connected to: left behind by a binary
// that was killed, had no [Main], or exited while dropping them (which
// leaves a database invalid: it can only be dropped).
func sweepTestDatabases(ctx context.Context, conn *pgx.Conn) error {
	rows, err := conn.Query(ctx, `SELECT datname FROM pg_database d WHERE starts_with(datname, $1)
		AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datid = d.oid)`, testPrefix)
	if err != nil {
		return err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, name := range names {
		var made int64
		if _, err := fmt.Sscanf(strings.TrimPrefix(name, testPrefix), "%d_", &made); err != nil ||
			time.Since(time.Unix(made, 0)) < staleTemplateAge {
			continue
		}
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name); err != nil && !isCode(err, codeObjectInUse) {
			fmt.Fprintf(os.Stderr, "pgtest: dropping old test database %s: %v\n", name, err)
		}
	}
	return nil
}

func isCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}
