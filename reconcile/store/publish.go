package store

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The statements that publish a load table as a data table. Each runs one
// step and returns PostgreSQL's error as is; which steps run, in which
// order, and how their errors read is reconcile/load/publish.go's.

// BeginPublish prepares the publishing transaction: search_path becomes
// pg_catalog, so that SQL PostgreSQL generates ([CaptureCarry]) names
// every object with its schema, and the data table's schema exists.
func BeginPublish(ctx context.Context, tx pgx.Tx, schema string) error {
	if _, err := tx.Exec(ctx, "SET LOCAL search_path = pg_catalog"); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize())
	return err
}

// HasConstraint reports whether schema has a constraint named name.
func HasConstraint(ctx context.Context, q Querier, schema, name string) (bool, error) {
	var has bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
		WHERE n.nspname = $1 AND c.conname = $2)`, schema, name).Scan(&has)
	return has, err
}

// AddPrimaryKey adds the primary key constraint of layout l to table ident.
func AddPrimaryKey(ctx context.Context, q Querier, l Layout, ident pgx.Identifier, constraint string) error {
	_, err := q.Exec(ctx, l.PrimaryKeySQL(ident, constraint))
	return err
}

// SetSchema moves relation ident to schema; its indexes, policies and
// grants move with it, and views follow it.
func SetSchema(ctx context.Context, q Querier, ident pgx.Identifier, schema string) error {
	_, err := q.Exec(ctx, "ALTER TABLE "+ident.Sanitize()+" SET SCHEMA "+pgx.Identifier{schema}.Sanitize())
	return err
}

// Rename renames relation ident to name, in the same schema.
func Rename(ctx context.Context, q Querier, ident pgx.Identifier, name string) error {
	_, err := q.Exec(ctx, "ALTER TABLE "+ident.Sanitize()+" RENAME TO "+pgx.Identifier{name}.Sanitize())
	return err
}

// SwapIn makes load table load, in the bookkeeping schema, the data table
// of layout l: it moves it to l's schema, gives it l's name, and renames
// its primary key from tmpPK to pkName.
func SwapIn(ctx context.Context, tx pgx.Tx, l Layout, load pgx.Identifier, tmpPK, pkName string) error {
	stmts := []string{
		"ALTER TABLE " + load.Sanitize() + " SET SCHEMA " + pgx.Identifier{l.Schema}.Sanitize(),
		"ALTER TABLE " + pgx.Identifier{l.Schema, load[1]}.Sanitize() + " RENAME TO " + pgx.Identifier{l.Name}.Sanitize(),
		"ALTER TABLE " + l.Ident().Sanitize() + " RENAME CONSTRAINT " + pgx.Identifier{tmpPK}.Sanitize() + " TO " + pgx.Identifier{pkName}.Sanitize(),
	}
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// RelationOID is the oid of relation ident.
func RelationOID(ctx context.Context, q Querier, ident pgx.Identifier) (uint32, error) {
	var oid uint32
	err := q.QueryRow(ctx, `SELECT $1::regclass::oid`, ident.Sanitize()).Scan(&oid)
	return oid, err
}

// LockExclusive takes table ident's ACCESS EXCLUSIVE lock until the end of
// the transaction.
func LockExclusive(ctx context.Context, tx pgx.Tx, ident pgx.Identifier) error {
	_, err := tx.Exec(ctx, "LOCK TABLE "+ident.Sanitize()+" IN ACCESS EXCLUSIVE MODE")
	return err
}

// DropTable drops table ident.
func DropTable(ctx context.Context, q Querier, ident pgx.Identifier) error {
	_, err := q.Exec(ctx, "DROP TABLE "+ident.Sanitize())
	return err
}

// DropTableIfExists drops table ident, if there is one.
func DropTableIfExists(ctx context.Context, q Querier, ident pgx.Identifier) error {
	_, err := q.Exec(ctx, "DROP TABLE IF EXISTS "+ident.Sanitize())
	return err
}

// CopyInto replaces the rows of the data table of layout l with those of
// load table load, then drops load. It rewrites every row but keeps
// whatever depends on the data table; its row triggers fire.
func CopyInto(ctx context.Context, tx pgx.Tx, l Layout, load pgx.Identifier) error {
	collist := strings.Join(quoteAll(append(l.Columns(), ColSyncedAt)), ", ")
	ident := l.Ident().Sanitize()
	stmts := []string{
		"TRUNCATE " + ident,
		"INSERT INTO " + ident + " (" + collist + ") SELECT " + collist + " FROM " + load.Sanitize(),
		"DROP TABLE " + load.Sanitize(),
	}
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// CommentOnTable sets the comment of the data table of layout l. COMMENT
// takes no parameters, so PostgreSQL's format() quotes the values.
func CommentOnTable(ctx context.Context, tx pgx.Tx, l Layout, comment string) error {
	var stmt string
	if err := tx.QueryRow(ctx, `SELECT format('COMMENT ON TABLE %I.%I IS %L', $1::text, $2::text, $3::text)`,
		l.Schema, l.Name, comment).Scan(&stmt); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, stmt)
	return err
}
