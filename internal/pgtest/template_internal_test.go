package pgtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestDropStaleTemplates_KeepsOursAndRecentOnes(t *testing.T) {
	t.Parallel()
	admin, err := adminURL()
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	suffix := fmt.Sprintf("%012d", time.Now().UnixNano()%1e12)
	old, recent := templatePrefix+"0old"+suffix, templatePrefix+"0new"+suffix
	for name, made := range map[string]time.Time{old: time.Now().Add(-2 * staleTemplateAge), recent: time.Now()} {
		for _, q := range []string{
			"CREATE DATABASE " + name,
			"ALTER DATABASE " + name + " WITH ALLOW_CONNECTIONS false IS_TEMPLATE true",
			fmt.Sprintf("COMMENT ON DATABASE %s IS 'ddbsync test template, made at %d'", name, made.Unix()),
		} {
			if _, err := conn.Exec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(func() {
		// A connection of its own: by now the test's is closed and its
		// context done.
		c, err := pgx.Connect(context.Background(), admin)
		if err != nil {
			t.Logf("dropping %s: %v", recent, err)
			return
		}
		defer c.Close(context.Background())
		for _, q := range []string{"ALTER DATABASE " + recent + " IS_TEMPLATE false", "DROP DATABASE IF EXISTS " + recent} {
			if _, err := c.Exec(context.Background(), q); err != nil {
				t.Logf("dropping %s: %v", recent, err)
			}
		}
	})
	// Under the lock, as ensureTemplate does it: other binaries sweep too.
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(templateLockKey)); err != nil {
		t.Fatal(err)
	}
	err = dropStaleTemplates(ctx, conn, templateName())
	if _, uerr := conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", int64(templateLockKey)); uerr != nil {
		t.Fatal(uerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	exists := func(name string) bool {
		var ok bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if exists(old) {
		t.Errorf("the template made %s ago is still there", 2*staleTemplateAge)
	}
	if !exists(recent) {
		t.Error("the template made just now was dropped")
	}
}
