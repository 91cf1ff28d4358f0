package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// CreateLoadTable creates table ident with layout l and no primary key, for
// a bulk load to fill.
func CreateLoadTable(ctx context.Context, q Querier, l Layout, ident pgx.Identifier) error {
	for _, stmt := range append([]string{l.createTableSQL(ident)}, digestTriggersSQL(ident)...) {
		if _, err := q.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("creating the load table: %w", err)
		}
	}
	// Rows over the 2 kB TOAST threshold (long items; most rows of a table
	// with doc) are compressed: lz4 does it several times faster than the
	// default pglz, when the server has it.
	var lz4 bool
	if err := q.QueryRow(ctx, `SELECT coalesce('lz4' = ANY (enumvals), false) FROM pg_settings
		WHERE name = 'default_toast_compression'`).Scan(&lz4); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	if lz4 {
		stmt := "ALTER TABLE " + ident.Sanitize() + " ALTER COLUMN item SET COMPRESSION lz4"
		if l.Doc {
			stmt += ", ALTER COLUMN doc SET COMPRESSION lz4"
		}
		if _, err := q.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("creating the load table: %w", err)
		}
	}
	return nil
}

// knownOrigins are every [Origin] a data table may hold.
var knownOrigins = []Origin{OriginExport, OriginStream, OriginIncremental, OriginScan, OriginVerify}

// HasDoc reports whether table ident has the doc column ([Layout.Doc]);
// false when there is no such table. The table itself is the record of its
// layout: a copy loaded before doc became opt-in has it, and keeps it.
func HasDoc(ctx context.Context, q Querier, ident pgx.Identifier) (bool, error) {
	return hasColumn(ctx, q, ident, ColDoc)
}

// hasColumn reports whether table ident has column col.
func hasColumn(ctx context.Context, q Querier, ident pgx.Identifier, col string) (bool, error) {
	var has bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_attribute
		WHERE attrelid = to_regclass($1) AND attname = $2 AND NOT attisdropped)`, ident.Sanitize(), col).Scan(&has)
	return has, err
}

// AllowOrigin widens the data table's origin CHECK to accept origin, once:
// tables are created accepting [createdOrigins] only. The origins the CHECK
// accepts already stay accepted.
func AllowOrigin(ctx context.Context, q Querier, l Layout, origin Origin) error {
	rows, err := q.Query(ctx, `SELECT c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c
		JOIN pg_class r ON r.oid = c.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace
		WHERE n.nspname = $1 AND r.relname = $2 AND c.contype = 'c'
		AND pg_get_constraintdef(c.oid) LIKE '%origin%'`, l.Schema, l.Name)
	if err != nil {
		return err
	}
	type check struct{ name, def string }
	checks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (check, error) {
		var c check
		return c, r.Scan(&c.name, &c.def)
	})
	if err != nil {
		return err
	}
	for _, c := range checks {
		if strings.Contains(c.def, "'"+string(origin)+"'") {
			return nil
		}
	}
	// Keep every origin the table accepts already: widening for one origin
	// must not narrow it for another.
	allowed := append(createdOrigins[:len(createdOrigins):len(createdOrigins)], origin)
	for _, o := range knownOrigins {
		for _, c := range checks {
			if !slices.Contains(allowed, o) && strings.Contains(c.def, "'"+string(o)+"'") {
				allowed = append(allowed, o)
			}
		}
	}
	stmt := "ALTER TABLE " + l.Ident().Sanitize()
	for _, c := range checks {
		stmt += " DROP CONSTRAINT " + pgx.Identifier{c.name}.Sanitize() + ","
	}
	stmt += fmt.Sprintf(" ADD CONSTRAINT %s %s NOT VALID",
		pgx.Identifier{l.Name + "_origin_check"}.Sanitize(), originCheck(allowed))
	if _, err := q.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("allowing origin %s in %s: %w", origin, l.Ident().Sanitize(), err)
	}
	return nil
}
