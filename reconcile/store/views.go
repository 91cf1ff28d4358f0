package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ViewType is a typed view column's PostgreSQL type, spelt as format_type
// spells it, so that a view's columns read from the catalog compare equal.
type ViewType string

// The types a view column can have.
const (
	ViewText         ViewType = "text"
	ViewDate         ViewType = "date"
	ViewTimestamptz  ViewType = "timestamp with time zone"
	ViewBigint       ViewType = "bigint"
	ViewNumeric      ViewType = "numeric"
	ViewBoolean      ViewType = "boolean"
	ViewBytea        ViewType = "bytea"
	ViewTextArray    ViewType = "text[]"
	ViewNumericArray ViewType = "numeric[]"
	ViewByteaArray   ViewType = "bytea[]"
	ViewJSONB        ViewType = "jsonb"
)

// ViewColumn is one column of a typed view.
type ViewColumn struct {
	Name string
	Type ViewType
	// Key is the data table's key column this column repeats, if any.
	Key string
	// Ordinal marks a child view's position in its list, from 1.
	Ordinal bool
	// Path names the attribute from the view's row: from the item in a
	// table's view, from the member map in a child view. Two names are an
	// attribute of a map attribute (a flattened map).
	Path []string
	// BoolStrings: a boolean column that also reads the strings "true"
	// and "false".
	BoolStrings bool
	Comment     string
}

// ViewDef is a typed view over a data table: one row per item, or, for a
// child view (List set), one row per map element of the list attribute
// List of each item.
type ViewDef struct {
	Ident   pgx.Identifier
	Source  Layout
	List    string
	Columns []ViewColumn
	Comment string
}

// AsOf is the as-of twin of the view: a function of an instant returning
// the view's rows as the table stood then.
func (v ViewDef) AsOf() pgx.Identifier {
	return pgx.Identifier{v.Ident[0], v.Ident[1] + "_as_of"}
}

// sourceAsOf is the history's function giving the data table's rows at an
// instant, whose result has the key columns and item.
func (v ViewDef) sourceAsOf() pgx.Identifier {
	return pgx.Identifier{v.Source.Schema, v.Source.Name + "_as_of"}
}

// The SQL functions of the bookkeeping schema the views call where a cast
// could fail (migrations/00010_views.sql).
const (
	fnDate        = "ddbsync.view_date"
	fnTimestamptz = "ddbsync.view_timestamptz"
	fnNulText     = "ddbsync.view_nul_text"
)

// selectSQL is the view's query over from, any relation with the data
// table's key columns and item (the data table, or the history's as-of
// function): the one place the view's expressions are written. lits maps
// each attribute name to its SQL literal.
func (v ViewDef) selectSQL(from string, lits map[string]string) string {
	base := "t." + pgx.Identifier{ColItem}.Sanitize()
	if v.List != "" {
		base = "e.value->'M'"
	}
	exprs := make([]string, len(v.Columns))
	for i, c := range v.Columns {
		exprs[i] = c.expr(base, lits) + " AS " + pgx.Identifier{c.Name}.Sanitize()
	}
	sql := "SELECT " + strings.Join(exprs, ", ") + " FROM " + from + " t"
	if v.List != "" {
		sql += " CROSS JOIN LATERAL jsonb_array_elements(t." + pgx.Identifier{ColItem}.Sanitize() + "->" + lits[v.List] +
			"->'L') WITH ORDINALITY AS e(value, ordinality)"
	}
	return sql
}

// expr is the column's value: DynamoDB JSON read with ->, converted only
// where the conversion cannot fail (guards and the view_ functions), so a
// SELECT never fails on a value. A value of another type than the
// column's reads as NULL until the next inference widens the column; the
// item is one join away.
func (c ViewColumn) expr(base string, lits map[string]string) string {
	if c.Key != "" {
		return "t." + pgx.Identifier{c.Key}.Sanitize()
	}
	if c.Ordinal {
		return "e.ordinality"
	}
	v := base + "->" + lits[c.Path[0]]
	for _, p := range c.Path[1:] {
		v += "->'M'->" + lits[p]
	}
	str := "coalesce(" + v + "->>'S', " + fnNulText + "(" + v + "->>'S0'))"
	switch c.Type {
	case ViewText:
		return str
	case ViewDate:
		return fnDate + "(" + v + "->>'S')"
	case ViewTimestamptz:
		return fnTimestamptz + "(" + v + "->>'S')"
	case ViewBigint:
		// The inference chose bigint for integers of at most 18 digits.
		return "CASE WHEN " + v + "->>'N' ~ '^-?[0-9]{1,18}$' THEN (" + v + "->>'N')::bigint END"
	case ViewNumeric:
		return "(" + v + "->>'N')::numeric"
	case ViewBoolean:
		if c.BoolStrings {
			return "CASE WHEN " + v + " ? 'BOOL' THEN (" + v + "->>'BOOL')::boolean WHEN " + v + "->>'S' = 'true' THEN true WHEN " +
				v + "->>'S' = 'false' THEN false END"
		}
		return "(" + v + "->>'BOOL')::boolean"
	case ViewBytea:
		return "decode(" + v + "->>'B', 'base64')"
	case ViewTextArray:
		return "CASE WHEN " + v + " ? 'SS' THEN ARRAY(SELECT jsonb_array_elements_text(" + v + "->'SS')) WHEN " + v +
			" ? 'SS0' THEN ARRAY(SELECT " + fnNulText + "(x) FROM jsonb_array_elements_text(" + v + "->'SS0') x) END"
	case ViewNumericArray:
		return "CASE WHEN " + v + " ? 'NS' THEN ARRAY(SELECT x::numeric FROM jsonb_array_elements_text(" + v + "->'NS') x) END"
	case ViewByteaArray:
		return "CASE WHEN " + v + " ? 'BS' THEN ARRAY(SELECT decode(x, 'base64') FROM jsonb_array_elements_text(" + v + "->'BS') x) END"
	}
	return v // jsonb: the value's DynamoDB JSON, exact
}

// literals quotes, through PostgreSQL, every attribute name v's
// expressions use.
func (v ViewDef) literals(ctx context.Context, q Querier) (map[string]string, error) {
	var names []string
	if v.List != "" {
		names = append(names, v.List)
	}
	for _, c := range v.Columns {
		names = append(names, c.Path...)
	}
	quoted, err := QuoteLiterals(ctx, q, names...)
	if err != nil {
		return nil, err
	}
	lits := make(map[string]string, len(names))
	for i, n := range names {
		lits[n] = quoted[i]
	}
	return lits, nil
}

// ExistingColumn is a column of a view as the catalog has it.
type ExistingColumn struct {
	Name    string
	Type    ViewType
	Comment string
}

// ViewColumns reads view ident's columns in order, with their comments;
// none when there is no such view (exists false).
func ViewColumns(ctx context.Context, q Querier, ident pgx.Identifier) (cols []ExistingColumn, exists bool, err error) {
	rows, err := q.Query(ctx, `SELECT a.attname, format_type(a.atttypid, a.atttypmod), coalesce(col_description(c.oid, a.attnum), '')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'v' ORDER BY a.attnum`, ident[0], ident[1])
	if err != nil {
		return nil, false, err
	}
	cols, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ExistingColumn, error) {
		var c ExistingColumn
		err := r.Scan(&c.Name, &c.Type, &c.Comment)
		return c, err
	})
	if err != nil {
		return nil, false, err
	}
	if len(cols) > 0 {
		return cols, true, nil
	}
	err = q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2)`, ident[0], ident[1]).Scan(&exists)
	return nil, exists, err
}

// ViewDependents lists the objects built on view ident (other views,
// rules), by name.
func ViewDependents(ctx context.Context, q Querier, ident pgx.Identifier) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT DISTINCT r.ev_class::regclass::text FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
		WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
			AND d.refobjid = to_regclass($1) AND r.ev_class <> d.refobjid ORDER BY 1`, ident.Sanitize())
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// WriteView creates view v, or replaces it keeping its existing columns
// (CREATE OR REPLACE VIEW may only append columns: the caller keeps the
// existing ones first, with their names and types). With recreate, the
// view is dropped and created again, because a column's type changed; its
// owner, grants and comments are carried over as [CarryPlan] does. The
// caller checked it has no dependents ([ViewDependents]). Every column
// gets its comment, and the view its own.
func WriteView(ctx context.Context, tx pgx.Tx, v ViewDef, recreate bool) error {
	lits, err := v.literals(ctx, tx)
	if err != nil {
		return fmt.Errorf("quoting attribute names: %w", err)
	}
	if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{v.Ident[0]}.Sanitize()); err != nil {
		return err
	}
	var carried []string
	if recreate {
		oid, err := RelationOID(ctx, tx, v.Ident)
		if err != nil {
			return err
		}
		if carried, err = strings1(ctx, tx, relationRestoreSQL, oid); err != nil {
			return fmt.Errorf("reading the owner and grants of %s: %w", v.Ident.Sanitize(), err)
		}
		if _, err := tx.Exec(ctx, "DROP VIEW "+v.Ident.Sanitize()); err != nil {
			return err
		}
	}
	create := "CREATE OR REPLACE VIEW " + v.Ident.Sanitize() + " AS " + v.selectSQL(v.Source.Ident().Sanitize(), lits)
	if _, err := tx.Exec(ctx, create); err != nil {
		return fmt.Errorf("%s: %w", create, err)
	}
	for _, s := range carried {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("carrying over to %s: %s: %w", v.Ident.Sanitize(), s, err)
		}
	}
	return commentView(ctx, tx, v)
}

func commentView(ctx context.Context, tx pgx.Tx, v ViewDef) error {
	texts := []string{v.Comment}
	for _, c := range v.Columns {
		texts = append(texts, c.Comment)
	}
	quoted, err := QuoteLiterals(ctx, tx, texts...)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "COMMENT ON VIEW "+v.Ident.Sanitize()+" IS "+quoted[0]); err != nil {
		return err
	}
	for i, c := range v.Columns {
		col := pgx.Identifier{v.Ident[0], v.Ident[1], c.Name}.Sanitize()
		if _, err := tx.Exec(ctx, "COMMENT ON COLUMN "+col+" IS "+quoted[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// HasAsOf reports whether the data table has the history's as-of
// function, dynamodb.<table>_as_of(timestamptz).
func HasAsOf(ctx context.Context, q Querier, v ViewDef) (bool, error) {
	var has bool
	err := q.QueryRow(ctx, `SELECT to_regprocedure($1) IS NOT NULL`, v.sourceAsOf().Sanitize()+"(timestamptz)").Scan(&has)
	return has, err
}

// WriteAsOf (re)creates the view's as-of twin, <view>_as_of(ts), a SQL
// function returning the view's typed columns over the history's
// <table>_as_of(ts) instead of the data table. Its body is a string, so it
// depends on nothing and a reload leaves it alone; it is re-created with
// the view, as its columns may have changed.
func WriteAsOf(ctx context.Context, tx pgx.Tx, v ViewDef) error {
	lits, err := v.literals(ctx, tx)
	if err != nil {
		return fmt.Errorf("quoting attribute names: %w", err)
	}
	body := v.selectSQL(v.sourceAsOf().Sanitize()+"(ts)", lits)
	quoted, err := QuoteLiterals(ctx, tx, body)
	if err != nil {
		return err
	}
	cols := make([]string, len(v.Columns))
	for i, c := range v.Columns {
		cols[i] = pgx.Identifier{c.Name}.Sanitize() + " " + string(c.Type)
	}
	fn := v.AsOf().Sanitize()
	if _, err := tx.Exec(ctx, "DROP FUNCTION IF EXISTS "+fn+"(timestamptz)"); err != nil {
		return err
	}
	create := "CREATE FUNCTION " + fn + "(ts timestamptz) RETURNS TABLE (" + strings.Join(cols, ", ") +
		") LANGUAGE sql STABLE AS " + quoted[0]
	if _, err := tx.Exec(ctx, create); err != nil {
		return fmt.Errorf("%s: %w", create, err)
	}
	comment, err := QuoteLiterals(ctx, tx, "The rows of "+v.Ident.Sanitize()+" as they stood at ts, from "+v.sourceAsOf().Sanitize()+"(ts); managed by ddbsync")
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, "COMMENT ON FUNCTION "+fn+"(timestamptz) IS "+comment[0])
	return err
}

// ItemCount estimates the data table's rows from the planner's statistics,
// counting them when there are none yet.
func ItemCount(ctx context.Context, q Querier, l Layout) (int64, error) {
	var n float64
	err := q.QueryRow(ctx, `SELECT reltuples FROM pg_class WHERE oid = to_regclass($1)`, l.Ident().Sanitize()).Scan(&n)
	if err != nil {
		return 0, err
	}
	if n > 0 {
		return int64(n), nil
	}
	var c int64
	err = q.QueryRow(ctx, "SELECT count(*) FROM "+l.Ident().Sanitize()).Scan(&c)
	return c, err
}

// ItemRead says which rows [ReadItems] reads.
type ItemRead struct {
	Percent float64   // of the pages, when below 100
	Limit   int64     // at most this many rows, when above 0
	Since   time.Time // only the rows written after it, when set
}

// ReadItems streams the item column of the data table's rows to each, as
// text (DynamoDB JSON; the bytes are valid only during the call). With
// percent below 100 it reads a sample of about that share of the table's
// pages (TABLESAMPLE SYSTEM: whole pages, so a sample costs its share of
// the reading), at most limit rows (0: no limit). With since set, it reads
// instead the rows written since then (synced_at), which is how a follower
// sees what its stream brought.
func ReadItems(ctx context.Context, q Querier, l Layout, r ItemRead, each func([]byte) error) error {
	sql := "SELECT " + pgx.Identifier{ColItem}.Sanitize() + "::text FROM " + l.Ident().Sanitize()
	var args []any
	switch {
	case !r.Since.IsZero():
		sql += " WHERE " + pgx.Identifier{ColSyncedAt}.Sanitize() + " > $1"
		args = append(args, r.Since)
	case r.Percent > 0 && r.Percent < 100:
		sql += " TABLESAMPLE SYSTEM ($1)"
		args = append(args, r.Percent)
	}
	if r.Limit > 0 {
		args = append(args, r.Limit)
		sql += fmt.Sprintf(" LIMIT $%d", len(args))
	}
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows.RawValues()[0]); err != nil {
			return err
		}
	}
	return rows.Err()
}

// LockView makes the writers of view ident (a follower keeping it current,
// the views command) take turns, until the transaction ends.
func LockView(ctx context.Context, tx pgx.Tx, ident pgx.Identifier) error {
	_, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", "ddbsync views "+ident.Sanitize())
	return err
}

// DatabaseNow is the server's clock, which synced_at is written with.
func DatabaseNow(ctx context.Context, q Querier) (time.Time, error) {
	var now time.Time
	err := q.QueryRow(ctx, "SELECT clock_timestamp()").Scan(&now)
	return now, err
}
